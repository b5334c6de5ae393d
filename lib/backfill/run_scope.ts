/** What every phase of one run shares: the context, the limits, the summary being filled, the gate and the policy. */
import type { RequestGate } from "./request_gate.ts";
import type { FailurePolicy } from "./failure_policy.ts";
import type { EngineContext, RunLimits, RunSummary } from "./run_types.ts";

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
