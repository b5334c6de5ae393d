/** What every phase of one run shares: the context, the limits, the summary being filled, the gate and the policy. */
import { countPendingActivities, countPendingSegments } from "../store/backfill_store.ts";
import { assertStillNamed, explainWriteError } from "../store/db.ts";
import { TransientError } from "../strava/client.ts";
import { isoSeconds } from "../time_format.ts";
import { RequestGate } from "./request_gate.ts";
import { FailurePolicy, StravaUnreachableError } from "./failure_policy.ts";
import { probeStrava } from "./probe.ts";
import {
  BudgetSpent,
  emptySummary,
  type EngineContext,
  Interrupted,
  type RunLimits,
  type RunSummary,
} from "./run_types.ts";

/** One run in progress. */
export interface RunScope {
  ctx: EngineContext;
  limits: RunLimits;
  summary: RunSummary;
  gate: RequestGate;
  policy: FailurePolicy;
  /** The run's clock as an ISO timestamp, for updated_at/fetched_at columns. */
  stamp(): string;
}

/**
 * A new run: an empty summary, its request gate, and its failure policy with the check request.
 * Refuses to start on a database path that no longer names the file the session opened.
 */
export function createRunScope(ctx: EngineContext, limits: RunLimits): RunScope {
  assertStillNamed(ctx.db);
  const stamp = () => isoSeconds(ctx.now());
  const summary = emptySummary();
  const run: RunScope = {
    ctx,
    limits,
    summary,
    gate: new RequestGate(ctx),
    policy: new FailurePolicy(ctx.db, summary, stamp, (kind) => probeStrava(ctx, run.gate, kind), limits.answered),
    stamp,
  };
  return run;
}

/**
 * What an error that left a run's phases means for the run. A spent budget and a signal are
 * ordinary ends, kept in the summary (the caller still returns it); a list page that failed
 * after the client's retries is the same outage as failed records; anything else is rethrown.
 */
export function endRunOnError(run: RunScope, err: unknown): void {
  if (err instanceof BudgetSpent) {
    run.summary.stoppedUntil = err.until;
    run.summary.stoppedReason = err.reason;
  } else if (err instanceof Interrupted) {
    run.summary.interrupted = true;
  } else if (err instanceof TransientError) {
    throw new StravaUnreachableError(`could not reach Strava (${err.message}); nothing was lost, run again later`, {
      cause: err,
    });
  } else {
    throw explainWriteError(run.ctx.db, err); // a full disk says so and names the database
  }
}

/** However a run ends: the progress line cleared and what is still pending (within its filter) counted. */
export function closeRun(run: RunScope): void {
  run.gate.progress.clear();
  run.summary.pendingActivities = countPendingActivities(run.ctx.db, run.limits.filter);
  run.summary.pendingSegments = countPendingSegments(run.ctx.db, run.limits.filter);
}
