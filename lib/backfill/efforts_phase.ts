/**
 * Phase 1: each pending activity fetched with all its segment efforts, stored atomically.
 * Activities that cannot have efforts are skipped first at no request cost.
 */
import {
  countPendingActivities,
  countPendingSegments,
  pendingActivities,
  saveActivityEfforts,
  skipActivitiesWithoutEfforts,
} from "../store/backfill_store.ts";
import { logger } from "../log.ts";
import { surveyImportedActivities } from "./list_phase.ts";
import type { RunScope } from "./run_scope.ts";
import { StopRun } from "./run_types.ts";

const log = logger("backfill");

/** Runs the efforts phase for up to `limits.activities` activities. */
export async function effortsPhase(run: RunScope): Promise<void> {
  const { db, client } = run.ctx;
  const summary = run.summary;
  await surveyImportedActivities(run);
  summary.skipped = skipActivitiesWithoutEfforts(db, run.stamp());
  if (summary.skipped > 0) log.info("skipped {n} activities that cannot have segment efforts", { n: summary.skipped });
  const { filter } = run.limits;
  const tried = run.limits.tried?.activities;
  const ids = pendingActivities(db, run.limits.activities, tried, filter);
  for (const [done, id] of ids.entries()) {
    run.gate.report("efforts", done, ids.length, countPendingActivities(db, filter) + countPendingSegments(db, filter));
    try {
      const activity = await run.gate.call(`activity ${id}`, () => client.getActivity(id));
      const n = saveActivityEfforts(db, id, activity, run.stamp());
      summary.efforts.fetched++;
      summary.efforts.efforts_stored += n;
      log.info("activity {id}: stored {n} segment efforts; {usage}", { id, n, usage: run.gate.usage() });
      run.policy.succeeded();
    } catch (err) {
      if (err instanceof StopRun) throw err;
      tried?.add(id);
      await run.policy.failed("activity", id, err);
    }
  }
}
