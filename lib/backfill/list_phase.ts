/**
 * Listing the athlete's activities: new ones since the newest stored start (mode `activities`),
 * or the whole history once, to survey imported activities (part of the efforts phase).
 */
import {
  countActivities,
  countUnknownGps,
  newestStartEpoch,
  settleUnlisted,
  upsertListedActivities,
} from "../store/backfill_store.ts";
import { idOf } from "../store/records.ts";
import { logger } from "../log.ts";
import type { RunScope } from "./run_scope.ts";

const log = logger("backfill");

/** Activities per list page (Strava's maximum). */
export const PER_PAGE = 200;

/** The full-list survey runs when unknown activities are at least this many times its pages. */
export const SURVEY_FACTOR = 20;

/** Lists the athlete's activities after `after` (epoch s), storing every page; returns the ids seen. */
async function listFrom(run: RunScope, after: number | undefined, phase: string): Promise<Set<bigint>> {
  const seen = new Set<bigint>();
  const listed = run.summary.listed;
  for (let page = 1;; page++) {
    run.gate.report(phase, page - 1, page, 1);
    const list = await run.gate.call(
      `activity list page ${page}`,
      () => run.ctx.client.listActivities({ after, page, perPage: PER_PAGE }),
    );
    listed.pages++;
    listed.seen += list.length;
    listed.added += upsertListedActivities(run.ctx.db, list, run.stamp());
    for (const activity of list) {
      const id = idOf(activity.id);
      if (id !== null) seen.add(id);
    }
    log.info("activity list page {page}: {n} activities; {usage}", { page, n: list.length, usage: run.gate.usage() });
    if (list.length < PER_PAGE) return seen;
  }
}

/**
 * Lists activities newer than the newest stored one (all of them on an empty database). When a
 * survey of imported activities is due, the survey is the listing: it sees the new activities
 * too, and listing them first would cost a read for nothing.
 */
export async function listNewActivities(run: RunScope): Promise<void> {
  if (await surveyImportedActivities(run)) return;
  const newest = newestStartEpoch(run.ctx.db);
  // One second earlier: `after` is exclusive, and two activities may share a start second.
  await listFrom(run, newest === null ? undefined : newest - 1, "listing");
}

/** The pages a survey would cost, if one is due and the budget allows it now; else null. */
function surveyPages(run: RunScope): { pages: number; unknown: number } | null {
  const { db, limiter, wait } = run.ctx;
  const unknown = countUnknownGps(db);
  const pages = Math.ceil((countActivities(db) + 1) / PER_PAGE);
  if (unknown < SURVEY_FACTOR * pages) return null;
  const status = limiter.status();
  const left = Math.min(status.read.remaining15, status.overall.remaining15);
  if (!wait && left < pages + 1) {
    // A survey cut short by --no-wait would have to start over; fetch one by one meanwhile.
    log.info("not listing all activities now: {pages} reads needed, {left} left in this window", { pages, left });
    return null;
  }
  return { pages, unknown };
}

/**
 * Imported activities say nothing of GPS, and an old export still holds activities deleted
 * since. One pass over the whole list (a read per 200 activities) tells both: activities
 * without a track are then skipped, and ones missing from the list settled, without a request
 * each. Worth it once the unknown ones are SURVEY_FACTOR times the pages it costs. Returns
 * whether it ran.
 */
export async function surveyImportedActivities(run: RunScope): Promise<boolean> {
  const due = surveyPages(run);
  if (due === null) return false;
  log.info(
    "listing all activities once ({pages} reads) to learn which of {unknown} imported ones can have efforts",
    due,
  );
  const seen = await listFrom(run, 0, "survey");
  const settled = settleUnlisted(run.ctx.db, seen, run.stamp());
  run.summary.efforts.not_found += settled;
  if (settled > 0) {
    log.info(
      "{n} imported activities are not in the athlete's list (deleted, or private without activity:read_all): settled as not_found",
      { n: settled },
    );
  }
  return true;
}
