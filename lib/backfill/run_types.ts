/**
 * The engine's vocabulary: what it is given (context, limits), what it reports (summaries), and
 * the typed signals that end a run early. Every phase module, and every caller of the engine,
 * imports these from here.
 */
import type { Database } from "../store/db.ts";
import type { RateLimiter } from "../strava/rate_limit.ts";
import type { Progress } from "../progress.ts";
import type { QueueFilter } from "../store/queue_filter.ts";

/** Backfill modes of docs/contract.md. */
export type Mode = "both" | "efforts" | "segments" | "activities";

/** The reads the engine needs (lib/strava/client.ts StravaClient). */
export interface ApiClient {
  getActivity(id: bigint): Promise<Record<string, unknown>>;
  getSegment(id: bigint): Promise<Record<string, unknown>>;
  listActivities(
    params: { after?: number; before?: number; page: number; perPage?: number },
  ): Promise<Record<string, unknown>[]>;
}

/** Everything the engine works with, injected. */
export interface EngineContext {
  db: Database;
  client: ApiClient;
  limiter: RateLimiter;
  now: () => number;
  /** Sleeps `ms`; rejects or resolves early when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wait for the budget to reopen (true) or stop cleanly (false, `--no-wait`). */
  wait: boolean;
  progress?: Progress;
  /** Aborted on SIGINT/SIGTERM: the engine stops after the record in flight. */
  signal?: AbortSignal;
  /**
   * API requests sent so far, every attempt (a retry too), for the run's end line
   * (lib/backfill/run_log.ts); unset: the request gate's count, a retry not counted.
   */
  requestsSent?: () => number;
}

/** How much work one run may do. */
export interface RunLimits {
  mode: Mode;
  activities: number;
  segments: number;
  /**
   * Strava already answered earlier in the same command (one-time mode's earlier batches), so a
   * batch whose every request fails is not by itself an outage (see FailurePolicy.ended).
   */
  answered?: boolean;
  /**
   * Records that failed earlier in the same command (one-time mode's batches): not asked again
   * until the next command, so a record's bounded attempts are spread over time, not spent in
   * one sitting. Phases add the records that fail to it.
   */
  tried?: TriedRecords;
  /** Which pending activities (and the segments they reach) this run fetches; unset: all. */
  filter?: QueueFilter;
}

/** Ids of records that failed in this command, per table. */
export interface TriedRecords {
  activities: Set<bigint>;
  segments: Set<bigint>;
}

/** Counts for one phase. */
export interface PhaseSummary {
  fetched: number;
  not_found: number;
  forbidden: number;
  failed: number;
  /** Failed attempts that stay pending for a later run. */
  retry_later: number;
}

/** What a run did, and why it ended. */
export interface RunSummary {
  skipped: number;
  efforts: PhaseSummary & { efforts_stored: number };
  segments: PhaseSummary;
  /**
   * List pages read, activities new to the database, distinct activities listed; `absence`: set
   * when a listing could not serve as evidence that the activities missing from it are gone (why),
   * so nothing was settled or marked deleted from absence in this run.
   */
  listed: { pages: number; added: number; seen: number; absence?: string };
  /** Set when the run stopped at the rate budget with work left (`--no-wait`). */
  stoppedUntil: number | null;
  stoppedReason: string | null;
  /** Set when a signal ended the run early. */
  interrupted: boolean;
  pendingActivities: number;
  pendingSegments: number;
}

/** How a manage_backfill run (lib/backfill/manage.ts) ended. */
export interface ManageResult {
  outcome: "done" | "stopped at rate budget" | "interrupted";
  last: RunSummary | null;
  stoppedUntil: number | null;
  cycles: number;
  /** Continuous: the run ended because `--max-runs` cycles were done. */
  maxRunsReached: boolean;
  /** What is still pending when the run ends (counted then, from the database). */
  pending: { activities: number; segments: number };
  /** A warning to show (e.g. corrupt state file replaced). */
  warning: string | null;
}

/** A summary of a run that has done nothing yet. */
export function emptySummary(): RunSummary {
  const phase = (): PhaseSummary => ({ fetched: 0, not_found: 0, forbidden: 0, failed: 0, retry_later: 0 });
  return {
    skipped: 0,
    efforts: { ...phase(), efforts_stored: 0 },
    segments: phase(),
    listed: { pages: 0, added: 0, seen: 0 },
    stoppedUntil: null,
    stoppedReason: null,
    interrupted: false,
    pendingActivities: 0,
    pendingSegments: 0,
  };
}

/**
 * Thrown inside the engine to unwind when the run must end cleanly with work left; runBackfill
 * catches it and records why in the summary. Never escapes the engine.
 */
export abstract class StopRun extends Error {}

/** The rate budget is spent and the run may not wait (`--no-wait`). */
export class BudgetSpent extends StopRun {
  override name = "BudgetSpent";
  constructor(readonly until: number, readonly reason: string) {
    super(`rate budget spent (${reason})`);
  }
}

/** SIGINT/SIGTERM: stop after the record in flight. */
export class Interrupted extends StopRun {
  override name = "Interrupted";
  constructor() {
    super("interrupted");
  }
}
