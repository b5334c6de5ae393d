/**
 * Listing the athlete's activities: new ones since the newest stored start (mode `activities`),
 * or the whole history once, to survey imported activities (part of the efforts phase). How
 * pages are read and when absence is evidence: lib/backfill/listing.ts.
 */
import {
  countActivities,
  countLiveActivities,
  countSettleableUnlisted,
  countUnknownGps,
  newestStartEpoch,
  settleUnlisted,
  upsertListedActivities,
} from "../store/backfill_store.ts";
import { logger } from "../log.ts";
import { type Lister, listNewer, listWithEvidence, PER_PAGE } from "./listing.ts";
import type { RunScope } from "./run_scope.ts";

const log = logger("backfill");

/** The full-list survey runs when unknown activities are at least this many times its pages. */
const SURVEY_FACTOR = 20;

/** A lister that stores each page as listed activities (new ones pending, known ones' API fields refreshed). */
function lister(run: RunScope, phase: string): Lister {
  return {
    phase,
    store: (list) => {
      run.summary.listed.added += upsertListedActivities(run.ctx.db, list, run.stamp());
    },
  };
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
  await listNewer(run, lister(run, "listing"), newest === null ? 0 : Math.max(0, newest - 1));
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
 * each, but only when the listing is evidence of their absence (listing.ts); otherwise they stay
 * pending and are fetched one by one. Worth it once the unknown ones are SURVEY_FACTOR times the
 * pages it costs. Returns whether it ran.
 */
export async function surveyImportedActivities(run: RunScope): Promise<boolean> {
  const due = surveyPages(run);
  if (due === null) return false;
  log.info(
    "listing all activities once ({pages} reads) to learn which of {unknown} imported ones can have efforts",
    due,
  );
  const { db } = run.ctx;
  const evidence = await listWithEvidence(run, lister(run, "survey"), {
    count: (listed, before) => countSettleableUnlisted(db, listed, before),
    live: () => countLiveActivities(db),
  });
  if (evidence.listed === null) return true;
  const settled = settleUnlisted(db, evidence.listed, run.stamp());
  run.summary.efforts.not_found += settled;
  if (settled > 0) {
    log.info(
      "{n} imported activities are not in the athlete's list (deleted, or private without activity:read_all): settled as not_found",
      { n: settled },
    );
  }
  return true;
}
