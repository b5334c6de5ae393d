/** Human-readable summaries of a backfill run, for stdout. */
import type { RunSummary } from "./engine.ts";
import { formatLocalAndUtc } from "../time_format.ts";

/** The lines printed after a run. */
export function formatRunSummary(s: RunSummary, mode: string, now: number): string[] {
  const lines: string[] = [];
  if (mode === "activities") {
    // A survey may have been the listing: imported activities it did not see are settled.
    const unlisted = s.efforts.not_found > 0 ? `, ${s.efforts.not_found} imported ones not listed (not_found)` : "";
    lines.push(`activities: ${s.listed.added} new from ${s.listed.seen} listed (${s.listed.pages} pages)${unlisted}`);
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
  lines.push(`pending: ${s.pendingActivities} activities, ${s.pendingSegments} segments`);
  if (s.stoppedUntil !== null) {
    lines.push(`rate budget spent: budget reopens at ${formatLocalAndUtc(s.stoppedUntil, now)}; run again then`);
  } else if (s.interrupted) {
    lines.push("interrupted: stopped cleanly after the record in flight; run again to continue");
  }
  return lines;
}
