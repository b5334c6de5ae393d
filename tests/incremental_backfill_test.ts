import { ok, strictEqual } from "node:assert/strict";
import { prepareExact } from "../lib/store/db.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { runScript, scriptWorld, spawnScript, withDatabase } from "./helpers.ts";
import { apiRequests, assertMatchesTruth } from "./truth.ts";

Deno.test("incremental_backfill: list, then a complete backfill equal to the truth; the re-run asks nothing", async () => {
  await using world = await scriptWorld({ seed: 11, activities: 30, segments: 25 });
  const { dir, sim, opts } = world;
  const listed = await runScript("incremental_backfill", ["--mode", "activities"], opts);
  strictEqual(listed.code, 0, listed.stderr);
  ok(listed.stdout.includes("activities: "), listed.stdout);
  const full = await runScript("incremental_backfill", ["--activities", "500", "--segments", "500"], opts);
  strictEqual(full.code, 0, full.stderr);
  ok(full.stdout.includes("pending: 0 activities, 0 segments"), full.stdout);
  const needed = withDatabase(dir.path, (db) => assertMatchesTruth(db, sim));
  const requests = apiRequests(sim);
  strictEqual(requests.length, 1 + needed);
  strictEqual(new Set(requests).size, requests.length);
  strictEqual(sim.requests.filter((r) => r.status === 429).length, 0);
  // The log names what was fetched; ids are exact there too.
  const log = await Deno.readTextFile(`${dir.path}/backfill.log`);
  const effortId = withDatabase(dir.path, (db) => prepareExact(db, "SELECT max(id) id FROM segment_efforts").get()!.id);
  ok(log.includes("stored") && !log.includes(`${effortId}n`));
  // Every fetch logs the usage Strava reported with it.
  ok(/stored \d+ segment efforts; reads \d+\/100 this window, \d+\/1000 today/.test(log), log.slice(0, 2000));

  const before = sim.requests.length;
  const again = await runScript("incremental_backfill", [], opts);
  strictEqual(again.code, 0, again.stderr);
  strictEqual(sim.requests.length, before, "nothing pending: no request");
});

Deno.test("incremental_backfill: --no-wait stops at the budget (exit 0, when it reopens); the next run sends nothing", async () => {
  await using world = await scriptWorld({ seed: 3, activities: 40, limits: { read15: 12 } });
  const { sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  const r = await runScript("incremental_backfill", ["--no-wait"], opts);
  strictEqual(r.code, 0, r.stderr);
  // The runs may cross a quarter-hour (the suite is run at any hour): the expectations come from the
  // windows the requests fell in, on the simulator's clock, which is the one Strava's headers report.
  // floor(12 * 0.9) = 10 reads per window, one of them the list page; the last window is spent.
  const perWindow = readsPerWindow(sim);
  const seen = sim.requests.map((q) => `${new Date(q.at).toISOString()} ${q.status} ${q.fault ?? ""} ${q.path}`);
  ok([...perWindow.values()].every((n) => n <= 10), `${JSON.stringify([...perWindow])}\n${seen.join("\n")}`);
  const spent = Math.max(...perWindow.keys());
  strictEqual(perWindow.get(spent), 10);
  strictEqual(sim.requests.filter((q) => q.status === 429).length, 0);
  assertReopensAt(r.stdout, spent + WINDOW_MS);
  const count = sim.requests.length;
  const again = await runScript("incremental_backfill", ["--no-wait"], opts);
  strictEqual(again.code, 0);
  // The persisted budget is shared between runs: nothing more in the spent window.
  const later = sim.requests.slice(count);
  ok(later.every((q) => windowOf(q.at) > spent), "the persisted budget is shared between runs");
});

const WINDOW_MS = 15 * 60_000;

function windowOf(ms: number): number {
  return Math.floor(ms / WINDOW_MS) * WINDOW_MS;
}

/** API reads the simulator answered, counted per 15-minute window of its clock. */
function readsPerWindow(sim: StravaSimulator): Map<number, number> {
  const counts = new Map<number, number>();
  for (const q of sim.requests.filter((q) => q.path.startsWith("/api/"))) {
    counts.set(windowOf(q.at), (counts.get(windowOf(q.at)) ?? 0) + 1);
  }
  return counts;
}

/**
 * The stop message names `reopen`, local time and UTC. The date is there when the reopening is
 * not today (time_format's tests check when exactly); if present it must be the reopening's.
 */
function assertReopensAt(stdout: string, reopen: number): void {
  const m = stdout.match(
    /budget reopens at (?:(\d{4}-\d\d-\d\d) )?(\d\d:\d\d) \(UTC (?:(\d{4}-\d\d-\d\d) )?(\d\d:\d\d)\)/,
  );
  ok(m, stdout);
  const d = new Date(reopen);
  const pad = (n: number) => String(n).padStart(2, "0");
  const localDate = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  strictEqual(m[2], `${pad(d.getHours())}:${pad(d.getMinutes())}`, stdout);
  strictEqual(m[4], d.toISOString().slice(11, 16), stdout);
  if (m[1] !== undefined) strictEqual(m[1], localDate, stdout);
  if (m[3] !== undefined) strictEqual(m[3], d.toISOString().slice(0, 10), stdout);
}

Deno.test("incremental_backfill: a 429 on the first request stops cleanly and is not retried", async () => {
  await using world = await scriptWorld({ seed: 3, activities: 10, usage: { read15: 100 } });
  const { sim, opts } = world;
  const r = await runScript("incremental_backfill", ["--mode", "activities", "--no-wait"], opts);
  strictEqual(r.code, 0, r.stderr);
  ok(r.stdout.includes("budget reopens at"), r.stdout);
  strictEqual(sim.requests.length, 1);
  strictEqual(sim.requests[0].status, 429);
});

Deno.test("incremental_backfill: kill -9 mid-run leaves a consistent database; the next run redoes at most one record", async () => {
  await using world = await scriptWorld({ seed: 5, activities: 30, segments: 20 });
  const { dir, sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  sim.addFault({ path: /\/activities\/\d+$/, kind: "slow", delayMs: 150, times: 12 });
  const child = spawnScript("incremental_backfill", ["--mode", "efforts", "--activities", "500"], opts);
  const started = Date.now();
  while (sim.requests.filter((r) => r.path.startsWith("/api/v3/activities/")).length < 6) {
    if (Date.now() - started > 20_000) throw new Error("the backfill never got going");
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  strictEqual(status.signal, "SIGKILL");

  withDatabase(dir.path, (db) => {
    strictEqual((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check, "ok");
    const orphans = db.prepare(
      "SELECT count(*) n FROM segment_efforts e LEFT JOIN activities a ON a.id = e.activity_id WHERE a.id IS NULL OR a.segment_efforts_processed = 0",
    ).get() as { n: number };
    strictEqual(orphans.n, 0, "no effort without its processed activity");
    for (const a of sim.truth.activities) {
      const row = prepareExact(db, "SELECT efforts_status s FROM activities WHERE id = ?").get(a.id);
      if (row?.s !== "ok") continue;
      const n = db.prepare("SELECT count(*) n FROM segment_efforts WHERE activity_id = ?").get(a.id) as { n: number };
      strictEqual(n.n, a.effortIds.length, `activity ${a.id} has all its efforts`);
    }
  });
  const beforeResume = new Set(apiRequests(sim));
  const resume = await runScript("incremental_backfill", ["--activities", "500", "--segments", "500"], opts);
  strictEqual(resume.code, 0, resume.stderr);
  withDatabase(dir.path, (db) => assertMatchesTruth(db, sim));
  const repeated = apiRequests(sim).slice(beforeResume.size).filter((r) => beforeResume.has(r));
  ok(repeated.length <= 1, `redone: ${repeated.join(", ")}`);
});

Deno.test("incremental_backfill: Strava failing repeatedly exits 1 with one line; no token exits 3; a missing database exits 2", async () => {
  await using world = await scriptWorld({ seed: 9, activities: 10 });
  const { dir, sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  // Garbled answers are not retried by the client, so this is quick; 5xx storms with their
  // backoff are covered in-process with a virtual clock (backfill_test.ts).
  sim.addFault({ path: /\/activities\/\d+$/, kind: "malformed", times: 1000 });
  const storm = await runScript("incremental_backfill", ["--mode", "efforts"], opts);
  strictEqual(storm.code, 1, storm.stderr);
  strictEqual(storm.stderr.trim().split("\n").length, 1, storm.stderr);
  ok(storm.stderr.includes("in a row"), storm.stderr);

  const noToken = await runScript("incremental_backfill", ["--mode", "activities"], {
    cwd: dir.path,
    env: { STRAVA_API_URL: sim.apiUrl, STRAVA_OAUTH_URL: sim.oauthUrl },
    hosts: [sim.host],
  });
  strictEqual(noToken.code, 3, noToken.stderr);
  strictEqual(noToken.stderr.trim(), "error: No refresh token found. Please authenticate with Strava first.");

  const missing = await runScript("incremental_backfill", ["--db", "nope.db"], opts);
  strictEqual(missing.code, 2);
  ok(missing.stderr.includes("nope.db"));
  ok(!(await Deno.stat(`${dir.path}/nope.db`).catch(() => null)), "no database created");
});
