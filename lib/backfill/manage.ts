/**
 * manage_backfill's loops. One-time: sync the activity list, then batches of efforts until
 * none is pending, then batches of segments, waiting across rate windows (or stopping with
 * --no-wait). Continuous: every cycle syncs new activities and runs one batch, then sleeps.
 * Each run is recorded in the state file.
 */
import { runBackfill } from "./engine.ts";
import { StravaUnreachableError } from "./failure_policy.ts";
import type { EngineContext, ManageResult, PhaseSummary, RunSummary, TriedRecords } from "./run_types.ts";
import { IdleRefresh, type IdleRefreshOptions } from "./idle_refresh.ts";
import type { QueueFilter } from "../store/queue_filter.ts";
import { refreshEnding, type RefreshSummary } from "./refresh.ts";
import { logger } from "../log.ts";
import { type BackfillState, readState, writeState } from "./state_file.ts";
import { isoSeconds } from "../time_format.ts";
import { countPendingActivities, countPendingSegments } from "../store/backfill_store.ts";
import { msPerRequest } from "./run_scope.ts";
import { loggedRun, logStoppedBetweenCycles, type RunEnding, summaryEnding } from "./run_log.ts";

const log = logger("manage");

/** Continuous mode lists new activities at most once an hour (and on its first cycle). */
const DEFAULT_SYNC_EVERY_SECONDS = 3600;

/** Options of the two loops. */
interface ManageOptions {
  activities: number;
  segments: number;
  statePath: string;
  /** Continuous: seconds between cycles. */
  intervalSeconds?: number;
  /** Continuous: cycles before exiting (0 = never). */
  maxRuns?: number;
  /** Continuous: list new activities at most this often (default DEFAULT_SYNC_EVERY_SECONDS). */
  syncEverySeconds?: number;
  /** Which pending activities (and the segments they reach) to fetch; unset: all. */
  filter?: QueueFilter;
  /** Continuous: refresh with idle budget (lib/backfill/idle_refresh.ts); unset: never. */
  refresh?: IdleRefreshOptions;
  /** Called after every refresh pass. */
  onRefresh?: (summary: RefreshSummary) => void;
  /** Called after every batch (the script prints summaries). */
  onBatch?: (summary: RunSummary, mode: string) => void;
  /** Continuous: a cycle could not reach Strava; the loop tries again in `retryInSeconds`. */
  onOutage?: (message: string, retryInSeconds: number) => void;
}

function pendingNow(ctx: EngineContext, filter?: QueueFilter): ManageResult["pending"] {
  return { activities: countPendingActivities(ctx.db, filter), segments: countPendingSegments(ctx.db, filter) };
}

function addTotals(state: BackfillState, s: RunSummary): void {
  state.totals.activities_fetched += s.efforts.fetched;
  state.totals.efforts_stored += s.efforts.efforts_stored;
  state.totals.segments_fetched += s.segments.fetched;
  state.totals.activities_listed += s.listed.added;
}

/**
 * Runs `body` as one recorded run: counts it, stamps start/end, keeps the outcome or error in
 * the state file, and writes its start and end lines in the log (lib/backfill/run_log.ts).
 * `body` returns the summary of its last batch, which tells how the run ended.
 */
async function recorded(
  ctx: EngineContext,
  options: ManageOptions,
  mode: string,
  what: string,
  body: (state: BackfillState) => Promise<RunSummary>,
  ending: (last: RunSummary) => RunEnding = summaryEnding,
): Promise<{ outcome: ManageResult["outcome"]; warning: string | null }> {
  const { statePath } = options;
  const { state, warning } = await readState(statePath);
  state.runs++;
  state.last_start = isoSeconds(ctx.now());
  state.last_end = null;
  state.last_mode = mode;
  state.last_outcome = "running";
  writeState(statePath, state);
  const recordEnd = () => {
    if (ctx.timing?.count) state.ms_per_request = Math.round(msPerRequest(ctx.timing));
    state.last_end = isoSeconds(ctx.now());
    writeState(statePath, state);
  };
  let outcome: ManageResult["outcome"];
  try {
    outcome = outcomeOf(await loggedRun(ctx, { what, filter: options.filter }, () => body(state), ending));
  } catch (err) {
    state.last_outcome = "failed";
    state.last_error = err instanceof Error ? err.message : String(err);
    try {
      recordEnd();
    } catch (second) {
      // The error that ended the run is the one to report (a full disk fails this write too).
      log.warn("could not record the run's end in {path}: {error}", { path: statePath, error: String(second) });
    }
    throw err;
  }
  state.last_outcome = outcome;
  state.last_error = null;
  recordEnd();
  return { outcome, warning };
}

/** Records that a signal ended the run while it slept between cycles (state file and log). */
async function markInterrupted(ctx: EngineContext, options: ManageOptions, cycles: number): Promise<void> {
  const what = `manage_backfill --mode continuous, after ${cycles} cycle${cycles === 1 ? "" : "s"}`;
  logStoppedBetweenCycles(ctx, { what, filter: options.filter });
  const { statePath } = options;
  const { state } = await readState(statePath);
  state.last_outcome = "interrupted";
  state.last_end = isoSeconds(ctx.now());
  writeState(statePath, state);
}

/** One batch; returns the summary and whether the run must end (budget or signal). */
async function batch(
  ctx: EngineContext,
  state: BackfillState,
  options: ManageOptions,
  mode: "activities" | "efforts" | "segments" | "both",
  run: { answered: boolean; tried?: TriedRecords },
): Promise<RunSummary> {
  const { activities, segments, filter } = options;
  const limits = { mode, activities, segments, answered: run.answered, tried: run.tried, filter };
  const summary = await runBackfill(ctx, limits);
  run.answered ||= answeredIn(summary);
  addTotals(state, summary);
  options.onBatch?.(summary, mode);
  return summary;
}

/** Whether Strava answered any request of a batch (a failure is only charged after an answer). */
function answeredIn(s: RunSummary): boolean {
  const phase = (p: PhaseSummary) => p.fetched + p.not_found + p.forbidden + p.failed + p.retry_later;
  return s.listed.pages > 0 || phase(s.efforts) + phase(s.segments) > 0;
}

const outcomeOf = (s: RunSummary): ManageResult["outcome"] => summaryEnding(s).outcome;
const ended = (s: RunSummary) => outcomeOf(s) !== "done";

/** `--mode one-time`: everything pending, in batches, efforts before segments. */
export async function runOneTime(ctx: EngineContext, options: ManageOptions): Promise<ManageResult> {
  let last: RunSummary | null = null;
  // A record that fails is asked again by the next command, not by the next batch of this one.
  const run = { answered: false, tried: { activities: new Set<bigint>(), segments: new Set<bigint>() } };
  const what = "manage_backfill --mode one-time";
  const { outcome, warning } = await recorded(ctx, options, "one-time", what, async (state) => {
    last = await batch(ctx, state, options, "activities", run);
    if (ended(last)) return last;
    for (const phase of ["efforts", "segments"] as const) {
      for (;;) {
        last = await batch(ctx, state, options, phase, run);
        if (ended(last)) return last;
        const pending = phase === "efforts" ? last.pendingActivities : last.pendingSegments;
        const progressed = phase === "efforts"
          ? last.efforts.fetched + last.efforts.not_found + last.efforts.forbidden + last.efforts.failed
          : last.segments.fetched + last.segments.not_found + last.segments.forbidden + last.segments.failed;
        // Records that failed transiently stay pending; a batch that settled nothing means
        // only those are left, and the next run retries them.
        if (pending === 0 || progressed === 0) break;
      }
    }
    return last;
  });
  const final = last as RunSummary | null;
  return {
    outcome,
    last: final,
    stoppedUntil: final?.stoppedUntil ?? null,
    cycles: 1,
    maxRunsReached: false,
    pending: pendingNow(ctx, options.filter),
    warning,
  };
}

/** The longest pause continuous mode backs off to while Strava stays unreachable. */
const MAX_OUTAGE_BACKOFF_SECONDS = 3600;

/**
 * The pause after the `outages`-th unreachable cycle in a row: the interval, doubled each time,
 * up to an hour (or the interval, if that is longer). An outage of a day then costs a few dozen
 * reads at most, and the first cycle after Strava is back comes within the hour.
 */
export function outageBackoffSeconds(intervalSeconds: number, outages: number): number {
  const cap = Math.max(intervalSeconds, MAX_OUTAGE_BACKOFF_SECONDS);
  return Math.min(cap, intervalSeconds * 2 ** Math.min(outages - 1, 30));
}

/**
 * `--mode continuous`: sync, one batch, sleep `intervalSeconds`; until `maxRuns` cycles or a signal.
 * A cycle that cannot reach Strava is logged and retried after a back-off, not the end of the
 * run; only when it is the last cycle `--max-runs` allows does it end the run (exit 1).
 */
export async function runContinuous(ctx: EngineContext, options: ManageOptions): Promise<ManageResult> {
  let cycles = 0;
  let last: RunSummary | null = null;
  let warning: string | null = null;
  let lastSync = -Infinity;
  const syncEveryMs = (options.syncEverySeconds ?? DEFAULT_SYNC_EVERY_SECONDS) * 1000;
  let outages = 0;
  const interval = options.intervalSeconds ?? 300;
  const idle = options.refresh ? new IdleRefresh(options.refresh) : null;
  for (;;) {
    let result: Awaited<ReturnType<typeof recorded>>;
    try {
      const run = { answered: false };
      const what = `manage_backfill --mode continuous, cycle ${cycles + 1}`;
      let refreshed: RefreshSummary | null = null;
      // A cycle that refreshed ends its log line with what the refresh left due.
      const ending = (last: RunSummary) => refreshed?.run === last ? refreshEnding(refreshed) : summaryEnding(last);
      result = await recorded(ctx, options, "continuous", what, async (state) => {
        // Listing every cycle would spend a read each --interval (288 a day at 300 s, a third
        // of the daily budget) to find the one or two activities a day a rider uploads.
        if (ctx.now() - lastSync >= syncEveryMs) {
          const listed = await batch(ctx, state, options, "activities", run);
          last = listed;
          if (ended(listed)) return listed;
          lastSync = ctx.now();
        }
        let cycle = await batch(ctx, state, options, "both", run);
        last = cycle;
        if (idle && state.last_refresh) idle.remember(Date.parse(state.last_refresh), ctx.now());
        refreshed = idle && !ended(cycle) ? await idle.afterBatch(ctx, cycle) : null;
        if (idle?.lastStart != null) state.last_refresh = isoSeconds(idle.lastStart);
        if (refreshed) {
          addTotals(state, refreshed.run);
          options.onRefresh?.(refreshed);
          last = cycle = refreshed.run;
        }
        return cycle;
      }, ending);
    } catch (err) {
      if (!(err instanceof StravaUnreachableError)) throw err;
      cycles++;
      if (options.maxRuns && cycles >= options.maxRuns) throw err;
      outages++;
      const seconds = outageBackoffSeconds(interval, outages);
      log.error("cycle {n}: {message}; trying again in {s} s", { n: cycles, message: err.message, s: seconds });
      options.onOutage?.(err.message, seconds);
      if (await sleepBetweenCycles(ctx, options, seconds, cycles)) break;
      continue;
    }
    outages = 0;
    warning ??= result.warning;
    cycles++;
    if (result.outcome === "interrupted") break;
    if (options.maxRuns && cycles >= options.maxRuns) break;
    log.info("cycle {n} done; next in {s} s", { n: cycles, s: interval });
    if (await sleepBetweenCycles(ctx, options, interval, cycles)) break;
  }
  const final = last as RunSummary | null;
  return {
    outcome: ctx.signal?.aborted ? "interrupted" : final ? outcomeOf(final) : "done",
    last: final,
    stoppedUntil: final?.stoppedUntil ?? null,
    cycles,
    maxRunsReached: !ctx.signal?.aborted && Boolean(options.maxRuns) && cycles >= options.maxRuns!,
    pending: pendingNow(ctx, options.filter),
    warning,
  };
}

/** Sleeps between cycles; true when a signal ended the sleep (the state then says `interrupted`). */
async function sleepBetweenCycles(
  ctx: EngineContext,
  options: ManageOptions,
  seconds: number,
  cycles: number,
): Promise<boolean> {
  try {
    await ctx.sleep(seconds * 1000, ctx.signal);
  } catch (err) {
    if (!ctx.signal?.aborted) throw err;
  }
  if (ctx.signal?.aborted) {
    // Stopped between cycles: the run as a whole ends interrupted, not with its last cycle's outcome.
    await markInterrupted(ctx, options, cycles);
    return true;
  }
  return false;
}
