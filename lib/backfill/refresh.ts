/**
 * The refresh pass (`incremental_backfill --mode refresh`): makes the database follow what
 * changed on Strava since the backfill, at the lowest request cost.
 *
 * 1. The whole activity list, once (a read per 200 activities, paged by time so that an upload
 *    or a deletion during the pass shifts nothing: lib/backfill/listing.ts): new activities
 *    become pending; changed summary fields are written without a request; processed activities
 *    whose distance, times or start changed go back in the queue (lib/store/refresh_store.ts); a
 *    listed activity marked deleted is cleared. Only a listing that is evidence of absence
 *    (complete and consistent; asked again when not) marks the unlisted ones `deleted_at`.
 * 2. The re-queued activities (this pass's and those an earlier pass left) are fetched again,
 *    up to `--activities`, each replacing its efforts in one transaction; the rest stay
 *    pending, and the next pass (or backfill) fetches them.
 * 3. Detailed segments fetched more than `refreshAfterDays` ago (0: all), least recently
 *    asked for first, up to `--segments`, are fetched again; a 404/403 settles them as in the
 *    backfill. A transient failure leaves the stored details as they are and sends the segment
 *    behind every other due one (lib/store/refresh_store.ts staleSegments).
 *
 * What a cap or a stop left is counted at the end (RefreshCounts.segmentsDue, activitiesDue)
 * and said in the summary's last line.
 *
 * Requests: list pages (+1 to confirm an early end, or a second listing when the first would
 * mark many deleted) + re-queued activities fetched + segments refreshed. Nothing else.
 */
import { logger } from "../log.ts";
import { saveActivityEfforts, saveSegmentDetails } from "../store/backfill_store.ts";
import {
  applyListedPage,
  countRequeuedActivities,
  countStaleSegments,
  countUnlistedLive,
  countUnlistedPrivate,
  markRefreshFailed,
  markUnlistedDeleted,
  requeuedActivities,
  staleSegments,
} from "../store/refresh_store.ts";
import { isoSeconds } from "../time_format.ts";
import { pagesText } from "./summary.ts";
import { listWithEvidence } from "./listing.ts";
import { eachRecord, RunScope, runToEnd } from "./run_scope.ts";
import { type RunEnding, summaryEnding } from "./run_log.ts";
import type { EngineContext, RunSummary } from "./run_types.ts";

const log = logger("refresh");

const DAY_MS = 86_400_000;

/** How much one refresh pass may do. */
export interface RefreshLimits {
  /** Re-queued activities to fetch again in this pass. */
  activities: number;
  /** Stale segments to fetch again in this pass. */
  segments: number;
  /** Segment details older than this are stale (0: all). */
  refreshAfterDays: number;
  /**
   * Reads of the day to leave unspent (continuous mode's idle refresh): the pass stops cleanly
   * before a request once the day's reads left are down to this (RunLimits.reserveReads). Unset: no reserve.
   */
  reserveReads?: number;
}

/** What a refresh pass changed. */
interface RefreshCounts {
  /** Whether the listing was evidence of absence (only then are unlisted activities marked deleted). */
  listingComplete: boolean;
  added: number;
  updated: number;
  deleted: number;
  reappeared: number;
  /** Activities once settled not_found/forbidden that are listed now: pending again. */
  revived: number;
  /** Activities whose track changed, put back in the queue. */
  requeued: number;
  /** Re-queued activities (of this pass or an earlier one) fetched again in this pass. */
  refetched: number;
  /** Re-queued activities whose fetch in this pass settled them (404, 403, failed for good): not pending. */
  refetchSettled: number;
  segmentsRefreshed: number;
  /** Stale segments whose refresh failed transiently (kept as they were, tried in a later pass). */
  segmentErrors: number;
  /** The pass stopped at the day's reserve of reads. */
  stoppedAtReserve: boolean;
  /** Segments still due when the pass ended (stale, not refreshed in it): the next pass goes on with them. */
  segmentsDue: number;
  /** Re-queued activities still waiting to be fetched again when the pass ended. */
  activitiesDue: number;
}

/** A refresh pass's result: the engine's summary (pages, fetches, stop reason) and the changes. */
export interface RefreshSummary {
  run: RunSummary;
  refresh: RefreshCounts;
  /** The limits the pass ran with (its last line names the cap that ended it). */
  limits: RefreshLimits;
}

/** Runs one refresh pass; see the module comment. */
export async function runRefresh(ctx: EngineContext, limits: RefreshLimits): Promise<RefreshSummary> {
  const { activities, segments, reserveReads } = limits;
  const run = new RunScope(ctx, { mode: "both", activities, segments, reserveReads });
  const counts: RefreshCounts = {
    listingComplete: false,
    added: 0,
    updated: 0,
    deleted: 0,
    reappeared: 0,
    revived: 0,
    requeued: 0,
    refetched: 0,
    segmentsRefreshed: 0,
    segmentErrors: 0,
    stoppedAtReserve: false,
    refetchSettled: 0,
    segmentsDue: 0,
    activitiesDue: 0,
  };
  /** Stale segments when step 3 began (unset: it did not begin). */
  let dueAtStart: number | undefined;
  await runToEnd(run, async () => {
    await listAll(run, counts);
    await refetch(run, counts, requeuedActivities(ctx.db, activities));
    const before = staleBefore(ctx, limits);
    dueAtStart = countStaleSegments(ctx.db, before);
    await refreshSegments(run, counts, staleSegments(ctx.db, before, segments));
  });
  if (run.reserveReached) {
    counts.stoppedAtReserve = true;
    log.info("refresh stopped: the day's reads left are down to the reserve ({reserve})", { reserve: reserveReads });
  }
  // Only for a pass that did not throw: a count must not replace the error that ended it.
  countDue(run, counts, limits, dueAtStart);
  log.info(
    "refresh: {added} new, {updated} updated, {deleted} deleted, {reappeared} back, {requeued} cropped or " +
      "re-processed ({refetched} fetched again), {segments} segments refreshed",
    { ...counts, segments: counts.segmentsRefreshed },
  );
  return { run: run.summary, refresh: counts, limits };
}

/**
 * Step 1: the whole list, by time (lib/backfill/listing.ts); changed activities go back in the
 * queue. Unlisted activities are marked deleted only when the listing is evidence of their
 * absence; otherwise none is, and the summary says so.
 */
async function listAll(run: RunScope, counts: RefreshCounts): Promise<void> {
  const { db } = run.ctx;
  let sawPrivate = false;
  const store = (list: Record<string, unknown>[]) => {
    run.policy.succeeded();
    for (const activity of list) if (activity.private === true) sawPrivate = true;
    const changes = applyListedPage(db, list, run.stamp());
    run.summary.listed.added += changes.added;
    counts.added += changes.added;
    counts.updated += changes.updated;
    counts.reappeared += changes.reappeared;
    counts.revived += changes.revived;
    counts.requeued += changes.requeued.length;
  };
  // A listing without a single private activity may come from a token that cannot see them
  // (no activity:read_all): then stored private ones missing from it are not taken for deleted.
  const evidence = await listWithEvidence(run, { phase: "refresh: listing", store }, {
    count: (listed, before) => countUnlistedLive(db, listed, before, { keepPrivate: !sawPrivate }),
    live: () => countUnlistedLive(db, null, null),
  });
  if (evidence.listed === null) return;
  const seen = evidence.listed;
  counts.listingComplete = true;
  const unseenPrivate = sawPrivate ? 0 : countUnlistedPrivate(db, seen);
  counts.deleted = markUnlistedDeleted(db, seen, run.stamp(), { keepPrivate: !sawPrivate });
  if (unseenPrivate > 0) {
    log.warn(
      "{n} private activities are not in the list and none is: not marked deleted, as the token may lack " +
        "activity:read_all (re-run setup_auth.ts with --scope read,activity:read_all to check them)",
      { n: unseenPrivate },
    );
  }
  if (counts.deleted > 0) {
    log.info("{n} activities are no longer in the athlete's list: marked deleted (rows and efforts kept)", {
      n: counts.deleted,
    });
  }
}

/** Step 2: cropped or re-processed activities, fetched again; their efforts replaced. */
async function refetch(run: RunScope, counts: RefreshCounts, ids: bigint[]): Promise<void> {
  const { db } = run.ctx;
  const e = run.summary.efforts;
  const settled = () => e.not_found + e.forbidden + e.failed;
  const before = settled();
  try {
    await eachRecord(run, "activity", ids, {
      phase: "refresh: activities",
      store: (id, activity) => {
        const n = saveActivityEfforts(db, id, activity, run.stamp());
        e.fetched++;
        e.efforts_stored += n;
        counts.refetched++;
        log.info("activity {id} changed on Strava: its {n} segment efforts replaced; {usage}", {
          id,
          n,
          usage: run.usage(),
        });
      },
    });
  } finally {
    counts.refetchSettled += settled() - before;
  }
}

/**
 * Step 3: stale segment details. A 404/403 goes through the failure policy (settled, as in the
 * backfill); a transient failure must not turn stored details into `failed`, so the policy
 * hands it back (`keep`): the details stay, the segment goes behind every other due one, and
 * enough of them in a row end the run as the policy's own do.
 */
async function refreshSegments(run: RunScope, counts: RefreshCounts, ids: bigint[]): Promise<void> {
  const { db } = run.ctx;
  await eachRecord(run, "segment", ids, {
    phase: "refresh: segments",
    store: (id, segment) => {
      saveSegmentDetails(db, id, segment, run.stamp());
      run.summary.segments.fetched++;
      counts.segmentsRefreshed++;
    },
    keep: (id, message) => {
      counts.segmentErrors++;
      markRefreshFailed(db, id, message, run.stamp());
      log.warn("segment {id}: refresh failed, details kept ({message})", { id, message });
    },
  });
  if (ids.length > 0) {
    log.info("refreshed {n} of {total} stale segments", { n: counts.segmentsRefreshed, total: ids.length });
  }
}

/** Segment details fetched before this instant are stale (ISO; null: all). */
function staleBefore(ctx: EngineContext, limits: RefreshLimits): string | null {
  return limits.refreshAfterDays === 0 ? null : isoSeconds(ctx.now() - limits.refreshAfterDays * DAY_MS);
}

/**
 * However the pass ended: what is still due. Segments: those stale when step 3 began less the
 * ones it refreshed or settled (with `refreshAfterDays` 0 every detailed segment is stale, so
 * counting afterwards would count the refreshed ones again); before step 3, all stale ones.
 */
function countDue(run: RunScope, counts: RefreshCounts, limits: RefreshLimits, dueAtStart?: number): void {
  const { db } = run.ctx;
  const g = run.summary.segments;
  counts.segmentsDue = dueAtStart === undefined
    ? countStaleSegments(db, staleBefore(run.ctx, limits))
    : Math.max(0, dueAtStart - counts.segmentsRefreshed - g.not_found - g.forbidden - g.failed);
  counts.activitiesDue = countRequeuedActivities(db);
}

/** A refresh pass's end line in the log (lib/backfill/run_log.ts): the run's ending and what is still due. */
export function refreshEnding(s: RefreshSummary): RunEnding {
  const r = s.refresh;
  const more = r.segmentsDue + r.activitiesDue === 0
    ? undefined
    : `still due for refresh: ${r.segmentsDue} segment${r.segmentsDue === 1 ? "" : "s"}, ` +
      `${r.activitiesDue} changed activit${r.activitiesDue === 1 ? "y" : "ies"}`;
  return { ...summaryEnding(s.run), more };
}

/**
 * The lines printed after a refresh pass, but for its last (formatRefreshLeft), which the caller
 * prints after the run's own lines.
 */
export function formatRefreshSummary(s: RefreshSummary): string[] {
  const r = s.refresh;
  const e = s.run.efforts;
  const settled = [[e.not_found, "not found"], [e.forbidden, "forbidden"], [e.failed, "failed"]] as const;
  const settledText = settled.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(", ");
  const lines = [
    `refresh: ${s.run.listed.seen} activities listed (${pagesText(s.run.listed.pages)}): ${r.added} new (pending), ` +
    `${r.updated} updated, ${r.deleted} deleted on Strava (kept), ${r.reappeared + r.revived} listed again` +
    (r.revived > 0 ? ` (${r.revived} once not found or forbidden, pending again)` : ""),
    `refresh: ${r.requeued} cropped or re-processed, ${r.refetched} fetched again with their efforts replaced` +
    (settledText === "" ? "" : `, ${settledText} (settled)`) +
    (r.activitiesDue > 0 ? ` (${r.activitiesDue} left to fetch again)` : ""),
    `refresh: ${r.segmentsRefreshed} segments refreshed, ${s.run.segments.not_found} not found, ` +
    `${s.run.segments.forbidden} forbidden, ${r.segmentErrors} to retry`,
  ];
  if (s.run.listed.absence) lines.push(`refresh: ${s.run.listed.absence}`);
  else if (!r.listingComplete) lines.push("refresh: the listing did not finish, so no activity was marked deleted");
  return lines;
}

/**
 * The last line of a refresh pass: what is still due and, when something is, what ended the
 * pass (a signal, the budget, the day's reserve, or the `--segments`/`--activities` cap); the
 * next pass goes on with it.
 */
export function formatRefreshLeft(s: RefreshSummary): string {
  const r = s.refresh;
  if (r.segmentsDue + r.activitiesDue === 0) {
    return r.listingComplete
      ? "refresh: done; no segment or changed activity is left due"
      : "refresh: no segment or changed activity is left due; the next pass lists the activities again";
  }
  const g = s.run.segments;
  const e = s.run.efforts;
  const segmentsTried = r.segmentsRefreshed + g.not_found + g.forbidden + g.failed + g.retry_later + r.segmentErrors;
  const activitiesTried = r.refetched + e.not_found + e.forbidden + e.failed + e.retry_later;
  const causes: string[] = [];
  if (s.run.interrupted) causes.push("stopped on signal");
  else if (s.run.stoppedUntil !== null) causes.push("stopped at the rate budget");
  else if (r.stoppedAtReserve) causes.push("stopped at the day's reserve of reads");
  else {
    if (r.activitiesDue > 0 && activitiesTried >= s.limits.activities) {
      causes.push(`--activities ${s.limits.activities} reached`);
    }
    if (r.segmentsDue > 0 && segmentsTried >= s.limits.segments) causes.push(`--segments ${s.limits.segments} reached`);
    if (causes.length === 0) causes.push("some fetches failed");
  }
  const days = s.limits.refreshAfterDays;
  const due = [
    `${r.segmentsDue} segment${r.segmentsDue === 1 ? "" : "s"}` +
    (days > 0 ? ` (details older than ${days} days)` : ""),
    `${r.activitiesDue} changed activit${r.activitiesDue === 1 ? "y" : "ies"} to fetch again`,
  ];
  return `refresh: ${causes.join(" and ")}; still due: ${due.join(", ")}; ` +
    "the next pass goes on with them, least recently refreshed first";
}
