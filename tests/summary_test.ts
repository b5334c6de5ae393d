import { deepStrictEqual } from "node:assert/strict";
import { formatRunSummary, pagesText } from "../lib/backfill/summary.ts";
import { emptySummary } from "../lib/backfill/run_types.ts";

Deno.test("summary: list pages counted in words a user reads ('1 page', '2 pages')", () => {
  deepStrictEqual([pagesText(0), pagesText(1), pagesText(2)], ["0 pages", "1 page", "2 pages"]);
  const s = { ...emptySummary(), listed: { pages: 1, added: 0, seen: 59 } };
  deepStrictEqual(formatRunSummary(s, "activities", 0), [
    "activities: 0 new from 59 listed (1 page)",
    "pending: 0 activities, 0 segments",
  ]);
});

Deno.test("summary: a signal ends incremental_backfill with one line that says nothing was lost", () => {
  const s = { ...emptySummary(), interrupted: true, pendingActivities: 3 };
  deepStrictEqual(formatRunSummary(s, "segments", 0).slice(-2), [
    "pending: 3 activities, 0 segments",
    "stopped on signal; nothing lost; run again to continue",
  ]);
});
