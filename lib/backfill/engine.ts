/**
 * The backfill engine: phase 1 (efforts) fetches each pending activity with all its segment
 * efforts, after skipping those that cannot have any at no request cost; phase 2 (segments)
 * fetches the details of each segment those efforts reference, most-ridden first; mode
 * `activities` lists new activities (lib/backfill/list_phase.ts). Every record goes through the
 * run's one loop (lib/backfill/run_scope.ts `eachRecord`: request gate, failure policy).
 *
 * Guarantees: no record is asked for twice in a run; a record that answered 404/403 is
 * settled and never asked for again; one that keeps failing is settled as `failed` after
 * MAX_ATTEMPTS; every record is written atomically, so a crash redoes at most the one in flight.
 */
import { logger } from "../log.ts";
import {
  countPendingActivities,
  countPendingSegments,
  pendingActivities,
  pendingSegments,
  saveActivityEfforts,
  saveSegmentDetails,
  skipActivitiesWithoutEfforts,
} from "../store/backfill_store.ts";
import { listNewActivities, surveyImportedActivities } from "./list_phase.ts";
import { eachRecord, RunScope, runToEnd } from "./run_scope.ts";
import type { EngineContext, RunLimits, RunSummary } from "./run_types.ts";

const log = logger("backfill");

/** Runs one backfill pass; see the module comment. */
export async function runBackfill(ctx: EngineContext, limits: RunLimits): Promise<RunSummary> {
  const run = new RunScope(ctx, limits);
  const { mode } = limits;
  await runToEnd(run, async () => {
    if (mode === "activities") await listNewActivities(run);
    if (mode === "both" || mode === "efforts") await effortsPhase(run);
    if (mode === "both" || mode === "segments") await segmentsPhase(run);
  });
  return run.summary;
}

/**
 * Phase 1, up to `limits.activities` activities. Pending work is counted once for the progress
 * line; the segments the batch's efforts reach are counted by the next batch.
 */
async function effortsPhase(run: RunScope): Promise<void> {
  const { db } = run.ctx;
  const { summary, limits: { filter } } = run;
  await surveyImportedActivities(run);
  summary.skipped = skipActivitiesWithoutEfforts(db, run.stamp());
  if (summary.skipped > 0) log.info("skipped {n} activities that cannot have segment efforts", { n: summary.skipped });
  const tried = run.limits.tried?.activities;
  await eachRecord(run, "activity", pendingActivities(db, run.limits.activities, tried, filter), {
    phase: "efforts",
    pending: countPendingActivities(db, filter) + countPendingSegments(db, filter),
    tried,
    store: (id, activity) => {
      const n = saveActivityEfforts(db, id, activity, run.stamp());
      summary.efforts.fetched++;
      summary.efforts.efforts_stored += n;
      log.info("activity {id}: stored {n} segment efforts; {usage}", { id, n, usage: run.usage() });
    },
  });
}

/** Phase 2, up to `limits.segments` segments. */
async function segmentsPhase(run: RunScope): Promise<void> {
  const { db } = run.ctx;
  const { filter } = run.limits;
  const tried = run.limits.tried?.segments;
  await eachRecord(run, "segment", pendingSegments(db, run.limits.segments, tried, filter), {
    phase: "segments",
    pending: countPendingSegments(db, filter),
    tried,
    store: (id, segment) => {
      saveSegmentDetails(db, id, segment, run.stamp());
      run.summary.segments.fetched++;
      log.info("segment {id}: stored details; {usage}", { id, usage: run.usage() });
    },
  });
}
