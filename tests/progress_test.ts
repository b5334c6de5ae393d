import { ok, strictEqual } from "node:assert/strict";
import { importProgress, terminalProgress } from "../lib/progress.ts";
import { estimateFinish } from "../lib/backfill/eta.ts";
import { formatDuration, formatLocalAndUtc, isoSeconds } from "../lib/time_format.ts";
import { budgetStatus as status, T0 } from "./budget_fixture.ts";

const MIN = 60_000, DAY = 86_400_000;

Deno.test("eta: work that fits in the window finishes now; more waits for windows, then days", () => {
  strictEqual(estimateFinish(0, status(90, 900), T0), T0);
  strictEqual(estimateFinish(90, status(90, 900), T0), T0);
  // 91 reads: 90 now, 1 when the 12:15 window opens.
  strictEqual(estimateFinish(91, status(90, 900), T0), Date.UTC(2026, 4, 1, 12, 15));
  // 900 left today at 90 per window: the 900th read goes out in the tenth window, 12:00 + 9 x 15 min.
  strictEqual(estimateFinish(900, status(90, 900), T0), Date.UTC(2026, 4, 1, 14, 15));
  // The day's budget is spent: the next read waits for midnight UTC.
  strictEqual(estimateFinish(1, status(90, 0), T0), Date.UTC(2026, 4, 2));
  // 2,000 reads with a full day left: 900 today, 900 tomorrow, 200 the day after (3rd window).
  strictEqual(estimateFinish(2000, status(90, 900), T0), Date.UTC(2026, 4, 3) + 2 * 15 * MIN);
  // Years of work stay cheap to estimate.
  const far = estimateFinish(10_000_000, status(90, 900), T0);
  ok(far > T0 + 10_000 * DAY && far < T0 + 11_200 * DAY);
  // A 429 block delays everything until it lifts.
  strictEqual(estimateFinish(1, status(90, 900, Date.UTC(2026, 4, 1, 12, 15)), T0), Date.UTC(2026, 4, 1, 12, 15));
});

Deno.test("time format: local and UTC side by side, a date when the day differs; short durations", () => {
  const now = Date.UTC(2026, 10, 28, 15, 0);
  const sameDay = formatLocalAndUtc(Date.UTC(2026, 10, 28, 15, 45), now);
  ok(/^(\d{4}-\d\d-\d\d )?\d\d:\d\d \(UTC 15:45\)$/.test(sameDay), sameDay);
  ok(formatLocalAndUtc(Date.UTC(2026, 10, 29, 0, 0), now).endsWith("(UTC 2026-11-29 00:00)"));
  strictEqual(formatDuration(9_000), "9s");
  strictEqual(formatDuration(14 * MIN + 9_000), "14m 09s");
  strictEqual(formatDuration(2 * 60 * MIN + 5 * MIN), "2h 05m");
  strictEqual(formatDuration(3 * DAY + 4 * 60 * MIN), "3d 04h");
  strictEqual(isoSeconds(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), "2026-01-02T03:04:05Z");
});

Deno.test("terminal progress: one self-overwriting line with counts, rate, budget left, ETA and a countdown", () => {
  let t = T0;
  let out = "";
  const p = terminalProgress({ write: (s) => out += s, now: () => t, columns: 200 });
  p.update({ phase: "efforts", done: 0, total: 50, left15: 90, leftDay: 900, finishAt: T0 + 2 * 60 * MIN });
  t += 60_000;
  p.update({ phase: "efforts", done: 30, total: 50, left15: 60, leftDay: 870, finishAt: T0 + 2 * 60 * MIN });
  const last = out.split("\r\x1b[K").at(-1)!;
  strictEqual(last, "efforts 30/50 | 30.0/min | left: 60 this window, 870 today | ETA 1h 59m");
  p.waiting(Date.UTC(2026, 4, 1, 12, 15), "rate budget spent");
  ok(out.split("\r\x1b[K").at(-1)!.startsWith("rate budget spent: waiting 9m 00s until "), out);
  p.clear();
  ok(out.endsWith("\r\x1b[K"));
  strictEqual(out.includes("\n"), false, "never scrolls");
});

Deno.test("import progress: rows, share of the file and rows/s, redrawn at most every 250 ms, then cleared", () => {
  let t = 10_000;
  let out = "";
  const p = importProgress(1000, { write: (s) => out += s, now: () => t, enabled: true });
  t += 500;
  p.bytes(250);
  p.rows(1500);
  strictEqual(out, "\r\x1b[K1,500 rows (25%), 3,000 rows/s");
  t += 249;
  p.rows(1600);
  strictEqual(out.split("\r\x1b[K").length, 2, "not redrawn within 250 ms");
  t += 1;
  p.bytes(2000); // the share never passes 100%
  p.rows(2500);
  strictEqual(out.split("\r\x1b[K").at(-1), "2,500 rows (100%), 3,333 rows/s");
  p.clear();
  ok(out.endsWith("2,500 rows (100%), 3,333 rows/s\r\x1b[K"), out);
  strictEqual(out.includes("\n"), false, "never scrolls");
});

Deno.test("import progress: no share for an unknown size; nothing at all off a terminal", () => {
  let t = 0;
  let out = "";
  const unknown = importProgress(null, { write: (s) => out += s, now: () => t, enabled: true });
  t = 2000;
  unknown.rows(10);
  strictEqual(out, "\r\x1b[K10 rows, 5 rows/s");
  let off = "";
  const silent = importProgress(1000, { write: (s) => off += s, now: () => t, enabled: false });
  t = 5000;
  silent.bytes(500);
  silent.rows(100);
  silent.clear();
  strictEqual(off, "");
});
