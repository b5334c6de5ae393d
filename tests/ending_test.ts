/**
 * Honest endings: the last line of a run says why it ended and what is still pending (never
 * `done: nothing pending` with work left), and stats tells a run in progress from one whose
 * process was killed.
 */
import { ok, strictEqual } from "node:assert/strict";
import { openDatabase } from "../lib/store/db.ts";
import { runOneTime } from "../lib/backfill/manage.ts";
import {
  CONTINUOUS_ALIVE,
  DEAD_RUN_OUTCOME,
  KILLED_OUTCOME,
  outcomeText,
  withLiveOutcome,
} from "../lib/backfill/stats.ts";
import { emptyState, readState } from "../lib/backfill/state_file.ts";
import { acquireRunLock } from "../lib/store/run_lock.ts";
import { formatEnding } from "../lib/backfill/summary.ts";
import { engineWorld, runScript, scriptWorld, spawnScript, tempDir, withDatabase } from "./helpers.ts";

const pendingCounts = (dir: string) =>
  withDatabase(dir, (db) => ({
    activities: (db.prepare(
      "SELECT count(*) n FROM activities WHERE segment_efforts_processed = 0 AND efforts_status IS NULL",
    ).get() as { n: number }).n,
    segments: (db.prepare("SELECT count(*) n FROM segments WHERE details_status IS NULL").get() as { n: number }).n,
  }));

Deno.test("ending: continuous --max-runs says it stopped at --max-runs and what is pending, matching the database", async () => {
  await using world = await scriptWorld({ seed: 9, activities: 20, segments: 12 });
  const { dir, opts } = world;
  const args = ["--mode", "continuous", "--interval", "1", "--max-runs", "1", "--activities", "2", "--segments", "2"];
  const r = await runScript("manage_backfill", args, opts);
  strictEqual(r.code, 0, r.stderr);
  const last = r.stdout.trim().split("\n").at(-1)!;
  const p = pendingCounts(dir.path);
  ok(p.activities > 0, "work is left");
  strictEqual(
    last,
    `stopped after 1 cycle (--max-runs); still pending: ${p.activities} activities, ${p.segments} segments`,
  );
  ok(!r.stdout.includes("nothing pending"), r.stdout);
});

Deno.test("ending: one-time with a record that keeps failing does not claim nothing is pending", async () => {
  await using world = await engineWorld({ seed: 21, activities: 12, segments: 8 }, "e.db");
  const { dir, clock, sim, ctx } = world;
  const id = sim.truth.activities.find((a) => !a.manual)!.id;
  sim.addFault({ path: new RegExp(`/activities/${id}$`), kind: "503", times: 1000 });
  const result = await runOneTime(ctx, { activities: 50, segments: 50, statePath: `${dir.path}/state.json` });
  strictEqual(result.outcome, "done");
  ok(result.pending.activities >= 1, JSON.stringify(result.pending));
  const line = formatEnding(result, clock.now());
  ok(line.startsWith("done for this run; still pending: "), line);
  ok(line.includes("retried on the next"), line);
});

Deno.test("ending: stats says running while a backfill holds the lock, and killed after kill -9", async () => {
  await using world = await scriptWorld({ seed: 8, activities: 12, segments: 10 });
  const { dir, sim, opts } = world;
  sim.addFault({ path: /\/activities\/\d+$/, kind: "slow", delayMs: 600_000, times: 100 });
  const child = spawnScript("manage_backfill", ["--mode", "one-time"], opts);
  const start = Date.now();
  while (!sim.requests.some((e) => /\/activities\/\d+$/.test(e.path))) {
    if (Date.now() - start > 30_000) throw new Error("no activity request");
    await new Promise((r) => setTimeout(r, 25));
  }
  const stats = async () => {
    const r = await runScript("manage_backfill", ["--mode", "stats", "--json"], opts);
    strictEqual(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).last_run.last_outcome;
  };
  strictEqual(await stats(), "running");
  child.kill("SIGKILL");
  await child.output();
  strictEqual((await readState(`${dir.path}/backfill_state.json`)).state.last_outcome, "running");
  strictEqual(await stats(), KILLED_OUTCOME, "--json gives a short code a script can match");
  const table = await runScript("manage_backfill", ["--mode", "stats"], opts);
  ok(table.stdout.includes(`outcome                ${DEAD_RUN_OUTCOME}`), table.stdout);
});

Deno.test("ending: stats says a continuous run asleep between cycles is running, not just 'done'", async () => {
  await using dir = await tempDir();
  const dbPath = `${dir.path}/c.db`;
  openDatabase(dbPath, { create: true }).close();
  const cycleDone = { ...emptyState(), runs: 4, last_mode: "continuous", last_outcome: "done" };
  strictEqual(outcomeText(withLiveOutcome(cycleDone, dbPath)), "done");
  {
    using _lock = acquireRunLock(dbPath);
    const live = withLiveOutcome(cycleDone, dbPath);
    strictEqual(live.last_outcome, "done", "--json keeps the last cycle's outcome code");
    strictEqual(live.between_cycles, true);
    strictEqual(outcomeText(live), `done (last cycle); ${CONTINUOUS_ALIVE}`);
    const oneTime = { ...cycleDone, last_mode: "one-time" };
    strictEqual(outcomeText(withLiveOutcome(oneTime, dbPath)), "done");
  }
  strictEqual(outcomeText(withLiveOutcome(cycleDone, dbPath)), "done");
});
