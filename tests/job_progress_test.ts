/**
 * Progress that means the whole job: done/total over everything pending across batches, a rate
 * from the first records, an ETA bound by the budget or by the latency (whichever is later), and
 * off a terminal one line per wait for the budget. All on the virtual clock.
 */
import { ok, strictEqual } from "node:assert/strict";
import { migrate } from "../lib/store/schema.ts";
import { runOneTime } from "../lib/backfill/manage.ts";
import { estimateFinish } from "../lib/backfill/eta.ts";
import { collectStats, formatStats } from "../lib/backfill/stats.ts";
import { emptyState } from "../lib/backfill/state_file.ts";
import { type Progress, type ProgressState, terminalProgress, waitNotice } from "../lib/progress.ts";
import { budgetStatus as status, T0 } from "./budget_fixture.ts";
import { engineWorld, simContext, tempDatabase } from "./helpers.ts";

Deno.test("eta: latency-bound work takes requests x latency, budget-bound work waits for windows", () => {
  // 60 requests with budget to spare at 0.8 s each: 48 s, not 0 s.
  strictEqual(estimateFinish(60, status(90, 900), T0, 800), T0 + 48_000);
  // Budget-bound: 91 reads at 1 ms, 90 now, the last when the 12:15 window opens.
  strictEqual(estimateFinish(91, status(90, 900), T0, 1), Date.UTC(2026, 4, 1, 12, 15) + 1);
  // Latency-bound across windows: at 10 s a request only 60 fit before 12:15 (not the 90 allowed),
  // then 90 per window: 60 + 90 = 150 requests end at 12:30.
  strictEqual(estimateFinish(150, status(90, 900), T0, 10_000), Date.UTC(2026, 4, 1, 12, 30));
  // Without a measured latency the budget alone decides, as before.
  strictEqual(estimateFinish(60, status(90, 900), T0), T0);
});

Deno.test("progress: done/total counts the whole job across batches, with a rate from the first records", async () => {
  await using world = await engineWorld({ seed: 41, activities: 30, segments: 20 }, "p.db");
  const { dir, clock, sim, db } = world;
  const states: ProgressState[] = [];
  const recorder: Progress = { update: (s) => states.push(s), waiting() {}, clear() {} };
  const ctx = { ...simContext(db, sim, clock), progress: recorder };
  await runOneTime(ctx, { activities: 5, segments: 5, statePath: `${dir.path}/state.json` });
  const work = states.filter((s) => s.phase === "efforts" || s.phase === "segments");
  ok(work.length > 10, `${work.length} updates`);
  // Never the batch of 5: the total is everything pending, and done keeps counting across batches.
  ok(work.every((s) => s.total > 5 || s.done + 5 >= s.total), JSON.stringify(work.slice(0, 3)));
  ok(work.at(-1)!.done > 5, "done counts across batches");
  for (let i = 1; i < work.length; i++) ok(work[i].done >= work[i - 1].done, "done never goes back");
  const first = work.find((s) => s.phase === "efforts")!;
  ok(first.total >= 20, `the first line already counts all pending work (${first.total})`);
});

Deno.test("progress: the live line shows a rate after the first record and leaves waits out of it", () => {
  let t = T0;
  let out = "";
  const p = terminalProgress({ write: (s) => out += s, now: () => t, columns: 200 });
  const line = () => out.split("\r\x1b[K").at(-1)!;
  p.update({ phase: "efforts", done: 0, total: 120, left15: 90, leftDay: 900 });
  t += 2_000;
  p.update({ phase: "efforts", done: 1, total: 120, left15: 89, leftDay: 899 });
  ok(line().includes("efforts 1/120 | 30.0/min"), line());
  p.waiting(t + 600_000, "rate budget spent");
  t += 600_000;
  p.update({ phase: "segments", done: 2, total: 120, left15: 90, leftDay: 898 });
  // 2 requests in 4 s of work (the 10-minute wait left out): still 30/min, and no reset at a new phase.
  t += 2_000;
  p.update({ phase: "segments", done: 2, total: 120, left15: 90, leftDay: 898 });
  ok(line().startsWith("segments 2/120 | 30.0/min"), line());
});

Deno.test("progress: off a terminal a wait for the budget is said once per wait, with when it resumes", async () => {
  await using world = await engineWorld({
    seed: 42,
    activities: 40,
    segments: 10,
    limits: { read15: 20 },
  }, "w.db");
  const { dir, clock, sim, db } = world;
  const lines: string[] = [];
  const ctx = {
    ...simContext(db, sim, clock),
    progress: waitNotice({ writeLine: (l) => lines.push(l), now: clock.now }),
  };
  await runOneTime(ctx, { activities: 50, segments: 50, statePath: `${dir.path}/state.json` });
  ok(lines.length >= 2, `${lines.length} waits`);
  ok(lines.every((l) => /^rate budget spent: waiting .+; resumes at \d\d:\d\d/.test(l)), lines.join("\n"));
  strictEqual(new Set(lines).size, lines.length, "each wait said once");
});

Deno.test("stats: the finish of 60 pending requests uses the latency the last run measured", async () => {
  await using world = await tempDatabase("s.db");
  const { db } = world;
  migrate(db);
  const insert = db.prepare("INSERT INTO activities (id, name) VALUES (?, 'a')");
  for (let i = 1; i <= 60; i++) insert.run(i);
  const state = { ...emptyState(), ms_per_request: 800 };
  const now = Date.now();
  const stats = collectStats(db, state, now);
  strictEqual(stats.eta.requests_needed, 60);
  ok(Date.parse(stats.eta.finish_at!) >= now + 47_000, stats.eta.finish_at!);
  ok(!formatStats(stats, now).includes("in 0s"), formatStats(stats, now));
});

Deno.test("stats: with nothing pending the estimate says so, not 'finishes now, in 0s'", async () => {
  await using world = await tempDatabase("s.db");
  const { db } = world;
  migrate(db);
  db.prepare("INSERT INTO activities (id, name, segment_efforts_processed, efforts_status) VALUES (1, 'a', 1, 'ok')")
    .run();
  const now = Date.parse("2026-03-01T12:00:00Z");
  const text = formatStats(collectStats(db, emptyState(), now), now);
  ok(/\n {2}requests needed +0\n/.test(text), text);
  ok(/\n {2}finishes +nothing pending\n/.test(text), text);
  ok(!text.includes("in 0s"), text);
});
