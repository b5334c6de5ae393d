/** What every phase of one run shares: the context, the limits, the summary being filled, the gate and the policy. */
import { isoSeconds } from "../time_format.ts";
import { RequestGate } from "./request_gate.ts";
import { FailurePolicy } from "./failure_policy.ts";
import { probeStrava } from "./probe.ts";
import { emptySummary, type EngineContext, type RunLimits, type RunSummary } from "./run_types.ts";

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

/** A new run: an empty summary, its request gate, and its failure policy with the check request. */
export function createRunScope(ctx: EngineContext, limits: RunLimits): RunScope {
  const stamp = () => isoSeconds(ctx.now());
  const summary = emptySummary();
  const run: RunScope = {
    ctx,
    limits,
    summary,
    gate: new RequestGate(ctx),
    policy: new FailurePolicy(ctx.db, summary, stamp, (kind) => probeStrava(run, kind), limits.answered),
    stamp,
  };
  return run;
}
