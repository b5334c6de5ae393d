/**
 * Every run's first and last line in the log file (`--log-file`, default backfill.log), so that
 * a user of cron or systemd sees runs, not only errors and waits. The one place that writes
 * them, for every script and mode: incremental_backfill (each `--mode`, refresh included),
 * manage_backfill one-time (one run however many batches) and continuous (each cycle is a run,
 * as in the state file). The lines, under the category `strava-backfill.run`:
 *
 *   start: manage_backfill --mode one-time; pending: 60 activities, 0 segments
 *   end: manage_backfill --mode one-time: done; 187 requests; nothing pending
 *   end: …: stopped at the rate budget, which reopens at 13:15 (UTC 12:15); 90 requests; still pending: …
 *   end: …: stopped on signal; 3 requests; still pending: …
 *   end: …: error: Strava could not be reached …; 5 requests; still pending: …
 *
 * Requests are the API requests the run sent (every attempt, a retry included). An error that
 * ends the command is then also written by `runMain` with its exit code (`run ended: … (exit N)`),
 * as is one before any run started (configuration, database, lock), which has no start line.
 */
import { describeError } from "../cli.ts";
import { logger } from "../log.ts";
import { countPendingActivities, countPendingSegments } from "../store/backfill_store.ts";
import type { QueueFilter } from "../store/queue_filter.ts";
import { formatLocalAndUtc } from "../time_format.ts";
import type { EngineContext, RunSummary } from "./run_types.ts";

const log = logger("run");

/** How a run that did not throw ended. */
export interface RunEnding {
  outcome: "done" | "stopped at rate budget" | "interrupted";
  /** When the rate budget reopens (outcome "stopped at rate budget"). */
  stoppedUntil: number | null;
  /** Said after what is still pending (a refresh: what is still due). */
  more?: string;
}

/** A run's ending as its summary tells it. */
export function summaryEnding(s: RunSummary): RunEnding {
  if (s.interrupted) return { outcome: "interrupted", stoppedUntil: null };
  if (s.stoppedUntil !== null) return { outcome: "stopped at rate budget", stoppedUntil: s.stoppedUntil };
  return { outcome: "done", stoppedUntil: null };
}

/** What identifies a run in its lines. */
interface RunLabel {
  /** The command as the user typed it, e.g. `manage_backfill --mode continuous, cycle 3`. */
  what: string;
  /** The queue filter the run's pending counts follow. */
  filter?: QueueFilter;
}

/**
 * Runs `body` as one logged run: its start line (what is pending), then its end line (outcome,
 * requests spent, what is still pending) however it ends; an error is logged and rethrown.
 */
export async function loggedRun<T>(
  ctx: EngineContext,
  label: RunLabel,
  body: () => Promise<T>,
  ending: (result: T) => RunEnding,
): Promise<T> {
  const sentBefore = requestsSent(ctx);
  log.info("start: {what}; {pending}", { what: label.what, pending: pending(ctx, label, "pending: ") });
  let result: T;
  try {
    result = await body();
  } catch (err) {
    // No exit code here: an outage ends a continuous cycle, not the command (runMain's line gives it).
    log.error("end: {what}: error: {cause}; {requests}; {pending}", {
      what: label.what,
      cause: describeError(err),
      requests: requestsText(requestsSent(ctx) - sentBefore),
      pending: pending(ctx, label, "still pending: "),
    });
    throw err;
  }
  const end = ending(result);
  logEnd(ctx, label, outcomeText(ctx, end), requestsSent(ctx) - sentBefore, end.more);
  return result;
}

/** The end line of a continuous run stopped by a signal while it slept between cycles (no cycle was running). */
export function logStoppedBetweenCycles(ctx: EngineContext, label: RunLabel): void {
  logEnd(ctx, label, "stopped on signal between cycles", 0);
}

function logEnd(ctx: EngineContext, label: RunLabel, outcome: string, requests: number, more?: string): void {
  const left = pending(ctx, label, "still pending: ") + (more ? `; ${more}` : "");
  log.info("end: {what}: {outcome}; {requests}; {pending}", {
    what: label.what,
    outcome,
    requests: requestsText(requests),
    pending: left,
  });
}

function outcomeText(ctx: EngineContext, end: RunEnding): string {
  switch (end.outcome) {
    case "done":
      return "done";
    case "interrupted":
      return "stopped on signal";
    case "stopped at rate budget":
      return end.stoppedUntil === null
        ? "stopped at the rate budget"
        : `stopped at the rate budget, which reopens at ${formatLocalAndUtc(end.stoppedUntil, ctx.now())}`;
  }
}

/** The API requests `ctx` has sent: every attempt when the context counts them, else each request of the gate. */
function requestsSent(ctx: EngineContext): number {
  return ctx.requestsSent?.() ?? ctx.timing?.count ?? 0;
}

/** "1 activity, 3 segments": pending counts in words (here and in the summaries, lib/backfill/summary.ts). */
export function countsText(p: { activities: number; segments: number }): string {
  const activities = p.activities === 1 ? "1 activity" : `${p.activities} activities`;
  const segments = p.segments === 1 ? "1 segment" : `${p.segments} segments`;
  return `${activities}, ${segments}`;
}

function requestsText(n: number): string {
  return n === 1 ? "1 request" : `${n} requests`;
}

/**
 * What is pending, counted now; never throws: an end line must not replace the error that ended
 * the run (a vanished or full database) with its own.
 */
function pending(ctx: EngineContext, label: RunLabel, prefix: string): string {
  try {
    const counts = {
      activities: countPendingActivities(ctx.db, label.filter),
      segments: countPendingSegments(ctx.db, label.filter),
    };
    return counts.activities + counts.segments === 0 ? "nothing pending" : prefix + countsText(counts);
  } catch (err) {
    return `pending unknown (${err instanceof Error ? err.message : String(err)})`;
  }
}
