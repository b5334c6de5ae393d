/**
 * The backfill engine: phase 1 fetches each pending activity with all its segment efforts,
 * phase 2 fetches the details of each segment those efforts reference; mode `activities`
 * lists new activities. Every request goes through the request gate (rate limiter, waiting or
 * stopping at the budget); failed fetches go through the failure policy.
 *
 * Guarantees: no record is asked for twice in a run; a record that answered 404/403 is
 * settled and never asked for again; one that keeps failing is settled as `failed` after
 * MAX_ATTEMPTS; every record is written atomically, so a crash redoes at most the one in flight.
 */
import { effortsPhase } from "./efforts_phase.ts";
import { listNewActivities } from "./list_phase.ts";
import { closeRun, createRunScope, endRunOnError } from "./run_scope.ts";
import type { EngineContext, RunLimits, RunSummary } from "./run_types.ts";
import { segmentsPhase } from "./segments_phase.ts";

/** Runs one backfill pass; see the module comment. */
export async function runBackfill(ctx: EngineContext, limits: RunLimits): Promise<RunSummary> {
  const run = createRunScope(ctx, limits);
  const { mode } = limits;
  try {
    if (mode === "activities") await listNewActivities(run);
    if (mode === "both" || mode === "efforts") await effortsPhase(run);
    if (mode === "both" || mode === "segments") await segmentsPhase(run);
    await run.policy.ended();
  } catch (err) {
    endRunOnError(run, err);
  } finally {
    closeRun(run);
  }
  return run.summary;
}
