import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runContinuous, runOneTime } from "../lib/backfill/manage.ts";
import { readState } from "../lib/backfill/state_file.ts";
import { engineWorld, runScript, scriptWorld, spawnScript, withDatabase } from "./helpers.ts";
import { apiRequests, assertMatchesTruth } from "./truth.ts";

async function waitFor(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("manage one-time: batches to completion across rate windows (virtual clock), state recorded", async () => {
  await using world = await engineWorld({
    seed: 21,
    activities: 50,
    segments: 30,
    limits: { read15: 25 },
  }, "m.db");
  const { dir, clock, sim, db, ctx } = world;
  const batches: string[] = [];
  const start = clock.now();
  const result = await runOneTime(ctx, {
    activities: 7,
    segments: 9,
    statePath: `${dir.path}/state.json`,
    onBatch: (_s, mode) => batches.push(mode),
  });
  strictEqual(result.outcome, "done");
  ok(clock.now() - start > 2 * 15 * 60 * 1000, "crossed several windows");
  const needed = assertMatchesTruth(db, sim);
  strictEqual(apiRequests(sim).length, 1 + needed, "no request wasted");
  strictEqual(sim.requests.filter((r) => r.status === 429).length, 0);
  // Efforts before segments: every efforts batch comes before the first segments batch.
  const firstSegments = batches.indexOf("segments");
  ok(firstSegments > 1 && batches.slice(firstSegments).every((m) => m === "segments"), batches.join(","));
  const { state } = await readState(`${dir.path}/state.json`);
  strictEqual(state.runs, 1);
  strictEqual(state.last_outcome, "done");
  strictEqual(
    state.totals.segments_fetched,
    db.prepare("SELECT count(*) n FROM segments WHERE details_status = 'ok'").get()!.n,
  );
});

Deno.test("manage continuous: --max-runs cycles then exits 0; stats match the database, --json is valid", async () => {
  await using world = await scriptWorld({ seed: 4, activities: 12, segments: 10 });
  const { dir, opts } = world;
  const r = await runScript("manage_backfill", ["--mode", "continuous", "--interval", "1", "--max-runs", "2"], opts);
  strictEqual(r.code, 0, r.stderr);
  const { state } = await readState(`${dir.path}/backfill_state.json`);
  strictEqual(state.runs, 2);
  strictEqual(state.last_mode, "continuous");

  const json = await runScript("manage_backfill", ["--mode", "stats", "--json"], opts);
  strictEqual(json.code, 0, json.stderr);
  const stats = JSON.parse(json.stdout);
  withDatabase(dir.path, (db) => {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    strictEqual(stats.activities.total, n("SELECT count(*) n FROM activities"));
    strictEqual(stats.activities.processed, n("SELECT count(*) n FROM activities WHERE segment_efforts_processed = 1"));
    strictEqual(stats.activities.skipped, n("SELECT count(*) n FROM activities WHERE efforts_status = 'skipped'"));
    strictEqual(stats.efforts, n("SELECT count(*) n FROM segment_efforts"));
    strictEqual(stats.segments.total, n("SELECT count(*) n FROM segments"));
    strictEqual(stats.segments.detailed, n("SELECT count(*) n FROM segments WHERE details_status = 'ok'"));
    strictEqual(stats.distinct_segments_ridden, n("SELECT count(DISTINCT segment_id) n FROM segment_efforts"));
    ok(stats.activities.processed > 0);
  });
  strictEqual(stats.last_run.runs, 2);
  strictEqual(stats.budget.window.reads_allowed, 90);
  // The usage shown is that of the window stats ran in, which may be a later one than the runs'
  // (the suite runs at any hour): the reads the simulator counted in that window, on its clock.
  const windowEnd = Date.parse(stats.budget.window.resets_at);
  const reads = world.sim.requests.filter((q) =>
    q.path.startsWith("/api/") && q.at >= windowEnd - 15 * 60_000 && q.at < windowEnd
  );
  strictEqual(stats.budget.window.reads_left, 90 - reads.length, "usage persisted by the runs is shown");

  const table = await runScript("manage_backfill", [], opts);
  strictEqual(table.code, 0, table.stderr);
  ok(table.stdout.includes("Activities") && table.stdout.includes("Rate budget"), table.stdout);
});

Deno.test("manage: SIGTERM mid-run stops cleanly within seconds, state saved, database consistent", async () => {
  await using world = await scriptWorld({ seed: 8, activities: 30, segments: 20 });
  const { dir, sim, opts } = world;
  sim.addFault({ path: /\/activities\/\d+$/, kind: "slow", delayMs: 200, times: 1000 });
  const child = spawnScript("manage_backfill", ["--mode", "one-time"], opts);
  await waitFor(
    "a few activity requests",
    () => apiRequests(sim).filter((r) => r.includes("/activities/")).length >= 3,
  );
  const sentAt = Date.now();
  child.kill("SIGTERM");
  const out = await child.output();
  ok(Date.now() - sentAt < 5000, "stopped within seconds");
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  ok(new TextDecoder().decode(out.stdout).includes("stopped on signal"));
  const { state } = await readState(`${dir.path}/backfill_state.json`);
  strictEqual(state.last_outcome, "interrupted");
  ok(state.last_end !== null);
  withDatabase(dir.path, (db) => {
    strictEqual((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check, "ok");
    const processed =
      (db.prepare("SELECT count(*) n FROM activities WHERE efforts_status = 'ok'").get() as { n: number }).n;
    ok(processed >= 2, `${processed} activities stored before the signal`);
  });
});

Deno.test("manage: a second writer (manage or incremental) is refused while one runs; a stale lock is taken over", async () => {
  await using world = await scriptWorld({ seed: 2, activities: 5, segments: 5 });
  const { dir, sim, opts } = world;
  const first = spawnScript("manage_backfill", ["--mode", "continuous", "--interval", "60"], opts);
  try {
    await waitFor("the first run's cycle", () => sim.requests.length > 0);
    const second = await runScript("manage_backfill", ["--mode", "one-time"], opts);
    strictEqual(second.code, 1);
    ok(second.stderr.includes(`already running`) && second.stderr.includes(`(pid ${first.pid})`), second.stderr);
    const incremental = await runScript("incremental_backfill", [], opts);
    strictEqual(incremental.code, 1);
    ok(incremental.stderr.includes(`(pid ${first.pid})`), incremental.stderr);
    const stats = await runScript("manage_backfill", ["--mode", "stats"], opts);
    strictEqual(stats.code, 0, "stats never needs the lock");
  } finally {
    first.kill("SIGTERM");
    const out = await first.output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  }
  // A lock file left by a dead process (no OS lock held) is taken over.
  await Deno.writeTextFile(`${dir.path}/data/segments.db.lock`, "999999 2026-01-01T00:00:00Z\n");
  const after = await runScript("manage_backfill", ["--mode", "one-time"], opts);
  strictEqual(after.code, 0, after.stderr);
});

Deno.test("manage: a corrupt state file is reported and replaced, never fatal", async () => {
  await using world = await scriptWorld({ seed: 2, activities: 5, segments: 5 });
  const { dir, opts } = world;
  await Deno.writeTextFile(`${dir.path}/backfill_state.json`, "{ not json");
  const r = await runScript("manage_backfill", ["--mode", "one-time"], opts);
  strictEqual(r.code, 0, r.stderr);
  ok(r.stderr.includes("corrupt"), r.stderr);
  const { state, warning } = await readState(`${dir.path}/backfill_state.json`);
  strictEqual(warning, null);
  strictEqual(state.runs, 1);
  deepStrictEqual(state.last_outcome, "done");
});

Deno.test("manage continuous: new activities are listed on the first cycle, then at most once an hour", async () => {
  await using world = await engineWorld({ seed: 5, activities: 6, segments: 5 }, "c.db");
  const { dir, sim, db, ctx } = world;
  // Six cycles 20 minutes apart span 100 minutes: listings at 0 and 60 (the 80 has not waited an hour since).
  const result = await runContinuous(ctx, {
    activities: 50,
    segments: 50,
    intervalSeconds: 20 * 60,
    maxRuns: 6,
    statePath: `${dir.path}/state.json`,
  });
  strictEqual(result.cycles, 6);
  strictEqual(apiRequests(sim).filter((r) => r.startsWith("/api/v3/athlete/activities?")).length, 2);
  // An activity uploaded meanwhile is found by the next hourly listing and backfilled.
  const [added] = sim.addActivities(1);
  await runContinuous(ctx, { activities: 50, segments: 50, maxRuns: 1, statePath: `${dir.path}/state.json` });
  strictEqual(
    (db.prepare("SELECT efforts_status s FROM activities WHERE id = ?").get(added.id) as { s: string }).s,
    added.manual || !added.hasGps ? "skipped" : "ok",
  );
});
