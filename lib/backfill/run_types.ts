/**
 * The engine's vocabulary: what it is given (context, limits) and what it reports (summaries).
 * Every phase module, and every caller of the engine, imports these from here; the typed stops
 * that end a run early live with the run's end in lib/backfill/run_scope.ts.
 */
import type { Database } from "../store/db.ts";
import type { RateLimiter } from "../strava/rate_limit.ts";
import type { Progress } from "../progress.ts";
import type { QueueFilter } from "../store/queue_filter.ts";

/** Backfill modes of docs/contract.md. */
type Mode = "both" | "efforts" | "segments" | "activities";

/** The reads the engine needs (lib/strava/client.ts StravaClient). */
interface ApiClient {
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
   * (lib/backfill/run_log.ts); unset: `timing.count`, a retry not counted.
   */
  requestsSent?: () => number;
  /**
   * Requests sent and the time they took (waits for the budget excluded), over the whole command
   * (a one-time run is many batches): the progress line counts the whole job and the ETA learns
   * the latency from the first record. Unset: the first run on this context starts it.
   */
  timing?: RequestTiming;
}

/** Requests sent and their total time; see EngineContext.timing. */
export interface RequestTiming {
  count: number;
  ms: number;
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
  /**
   * Reads of the day to leave unspent (continuous mode's idle refresh): the run stops cleanly
   * (ReserveReached) before a request once the day's reads left are down to this. Unset: none.
   */
  reserveReads?: number;
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
