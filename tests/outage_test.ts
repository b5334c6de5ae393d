/**
 * An outage is never a silent success: a run that could not reach Strava for any record it tried
 * ends with exit 1 and the documented message whatever the batch size, burning no attempts; and
 * continuous mode logs the outage and keeps going with a back-off instead of ending.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { runBackfill } from "../lib/backfill/engine.ts";
import { StravaUnreachableError } from "../lib/backfill/failure_policy.ts";
import { outageBackoffSeconds, runContinuous } from "../lib/backfill/manage.ts";
import { readState } from "../lib/backfill/state_file.ts";
import { engineWorld, runScript, scriptWorld, withDatabase } from "./helpers.ts";

const ACTIVITY = /\/activities\/\d+$/;

Deno.test("outage: two records tried, Strava unreachable for both: StravaUnreachableError, no attempt burnt", async () => {
  await using world = await engineWorld({ seed: 11, activities: 10, segments: 8 }, "o.db");
  const { sim, db, ctx } = world;
  await runBackfill(ctx, { mode: "activities", activities: 2, segments: 0 });
  sim.addFault({ path: ACTIVITY, kind: "503", times: 1000 });
  await rejects(
    runBackfill(ctx, { mode: "both", activities: 2, segments: 0 }),
    (err: Error) => {
      ok(err instanceof StravaUnreachableError, String(err));
      ok(/could not be reached for any of the 2 records tried .*nothing was lost, run again later/.test(err.message));
      return true;
    },
  );
  const charged = db.prepare("SELECT count(*) n FROM activities WHERE efforts_error LIKE '%HTTP 503%'").get() as {
    n: number;
  };
  strictEqual(charged.n, 0, "an outage burns no attempts");
});

Deno.test("outage: incremental_backfill --mode efforts --activities 1 with Strava down exits 1 with one line", async () => {
  await using world = await scriptWorld({ seed: 12, activities: 6, segments: 5 });
  const { dir, sim, opts } = world;
  const listed = await runScript("incremental_backfill", ["--mode", "activities"], opts);
  strictEqual(listed.code, 0, listed.stderr);
  sim.addFault({ path: ACTIVITY, kind: "503", times: 1000 });
  const r = await runScript("incremental_backfill", ["--mode", "efforts", "--activities", "1"], opts);
  strictEqual(r.code, 1, r.stdout + r.stderr);
  const lines = r.stderr.trim().split("\n");
  strictEqual(lines.length, 1, r.stderr);
  ok(/^error: Strava could not be reached for any of the 1 record tried .*run again later$/.test(lines[0]), lines[0]);
  withDatabase(dir.path, (db) => {
    const charged = db.prepare("SELECT count(*) n FROM activities WHERE efforts_error LIKE '%HTTP 503%'").get() as {
      n: number;
    };
    strictEqual(charged.n, 0);
  });
});

Deno.test("outage: continuous mode backs off through an outage, then carries on once Strava is back", async () => {
  await using world = await engineWorld({ seed: 13, activities: 8, segments: 6 }, "c.db");
  const { dir, sim, db, ctx } = world;
  // The first three cycles find Strava down (5 attempts each: the first and the client's 4 retries).
  sim.addFault({ kind: "503", times: 15 });
  const outages: number[] = [];
  const result = await runContinuous(ctx, {
    activities: 3,
    segments: 3,
    intervalSeconds: 60,
    maxRuns: 5,
    statePath: `${dir.path}/state.json`,
    onOutage: (_message, seconds) => outages.push(seconds),
  });
  deepStrictEqual(outages, [60, 120, 240]);
  strictEqual(result.cycles, 5);
  ok(result.last !== null && result.last.efforts.fetched > 0, "fetched once Strava answered");
  const { state } = await readState(`${dir.path}/state.json`);
  strictEqual(state.runs, 5);
  const charged = db.prepare("SELECT count(*) n FROM activities WHERE efforts_error LIKE '%HTTP 503%'").get() as {
    n: number;
  };
  strictEqual(charged.n, 0, "the outage burnt no attempts");
});

Deno.test("outage: the continuous back-off doubles up to an hour, never below the interval", () => {
  deepStrictEqual([1, 2, 3, 4, 5, 6, 40].map((n) => outageBackoffSeconds(300, n)), [
    300,
    600,
    1200,
    2400,
    3600,
    3600,
    3600,
  ]);
  strictEqual(outageBackoffSeconds(7200, 3), 7200);
  strictEqual(outageBackoffSeconds(1, 100), 3600);
});
