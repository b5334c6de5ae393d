/** Human-readable summaries of a backfill run, for stdout. */
import type { ManageResult, RunSummary } from "./run_types.ts";
import { formatLocalAndUtc } from "../time_format.ts";
import { countsText } from "./run_log.ts";

/**
 * The lines printed after a run. `stopLine: false` leaves out the line saying why the run
 * stopped (budget or signal), for a caller that ends with its own line saying it
 * (manage_backfill's `formatEnding`): a stop prints one line, not two saying the same.
 */
export function formatRunSummary(
  s: RunSummary,
  mode: string,
  now: number,
  { stopLine = true }: { stopLine?: boolean } = {},
): string[] {
  const lines: string[] = [];
  if (mode === "activities") {
    // A survey may have been the listing: imported activities it did not see are settled.
    const unlisted = s.efforts.not_found > 0 ? `, ${s.efforts.not_found} imported ones not listed (not_found)` : "";
    lines.push(
      `activities: ${s.listed.added} new from ${s.listed.seen} listed (${pagesText(s.listed.pages)})${unlisted}`,
    );
  }
  if (mode === "both" || mode === "efforts") {
    const e = s.efforts;
    lines.push(
      `efforts: ${e.fetched} activities fetched (${e.efforts_stored} segment efforts), ${s.skipped} skipped, ` +
        `${e.not_found} not found, ${e.forbidden} forbidden, ${e.failed} failed, ${e.retry_later} to retry`,
    );
  }
  if (mode === "both" || mode === "segments") {
    const g = s.segments;
    lines.push(
      `segments: ${g.fetched} detailed, ${g.not_found} not found, ${g.forbidden} forbidden, ` +
        `${g.failed} failed, ${g.retry_later} to retry`,
    );
  }
  // A listing that was no evidence of absence: the user learns that nothing was settled from it
  // (a refresh says it in its own summary, formatRefreshSummary).
  if (s.listed.absence && mode !== "refresh") lines.push(`listing: ${s.listed.absence}`);
  lines.push(`pending: ${s.pendingActivities} activities, ${s.pendingSegments} segments`);
  if (!stopLine) return lines;
  if (s.stoppedUntil !== null) {
    lines.push(`rate budget spent: budget reopens at ${formatLocalAndUtc(s.stoppedUntil, now)}; run again then`);
  } else if (s.interrupted) {
    // The signal aborts the request in flight too; that record is simply asked for again.
    lines.push("stopped on signal; nothing lost; run again to continue");
  }
  return lines;
}

/** "1 page", "3 pages": list pages read. */
export function pagesText(pages: number): string {
  return pages === 1 ? "1 page" : `${pages} pages`;
}

function pendingText(p: ManageResult["pending"]): string {
  if (p.activities === 0 && p.segments === 0) return "nothing pending";
  return `still pending: ${countsText(p)}`;
}

/**
 * The last line of a manage_backfill run: why it ended and what is still pending, so "done"
 * never stands for work left behind.
 */
export function formatEnding(r: ManageResult, now: number): string {
  const pending = pendingText(r.pending);
  switch (r.outcome) {
    case "interrupted":
      return `stopped on signal; state saved; ${pending}; run again to continue`;
    case "stopped at rate budget": {
      const when = r.stoppedUntil === null ? "" : `, which reopens at ${formatLocalAndUtc(r.stoppedUntil, now)}`;
      return `stopped at the rate budget${when}; ${pending}; run again when it reopens`;
    }
    case "done":
      if (r.maxRunsReached) {
        return `stopped after ${r.cycles} cycle${r.cycles === 1 ? "" : "s"} (--max-runs); ${pending}`;
      }
      if (pending === "nothing pending") return "done: nothing pending";
      // One-time mode ends when a batch settles nothing: what is left failed this run (retried
      // next run) or lies beyond a batch size of 0.
      return `done for this run; ${pending} (records that failed this run are retried on the next)`;
  }
}
