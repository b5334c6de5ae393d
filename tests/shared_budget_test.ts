import { ok, strictEqual } from "node:assert/strict";
import { openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { windowStart } from "../lib/strava/rate_limit.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { runScript, simEnv, spawnScript, tempDir } from "./helpers.ts";

/** Reads per 15-minute window (Strava's clock), from the simulator's request log. */
function readsPerWindow(sim: StravaSimulator): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of sim.requests) {
    if (r.method !== "GET" || !r.path.startsWith("/api/v3/")) continue;
    const w = windowStart(r.at);
    out.set(w, (out.get(w) ?? 0) + 1);
  }
  return out;
}

/** `n` backfills at once, each on its own database in one folder, against a simulator with `limit` reads per window. */
async function concurrentRuns(
  n: number,
  limit: number,
): Promise<{ perWindow: number[]; codes: number[]; e429: number }> {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 5, activities: 60, segments: 30, limits: { read15: limit } });
  await Deno.mkdir(`${dir.path}/data`);
  for (let i = 0; i < n; i++) {
    const db = openDatabase(`${dir.path}/data/p${i}.db`, { create: true });
    migrate(db);
    db.close();
  }
  const env = { ...simEnv(sim), STRAVA_CLIENT_ID: "12345" };
  for (let i = 0; i < n; i++) {
    const listed = await runScript("incremental_backfill", ["--mode", "activities", "--db", `data/p${i}.db`], {
      cwd: dir.path,
      env,
      hosts: [sim.host],
    });
    strictEqual(listed.code, 0, listed.stderr);
  }
  const children = Array.from(
    { length: n },
    (_, i) =>
      spawnScript("incremental_backfill", ["--no-wait", "--db", `data/p${i}.db`, "--log-file", `p${i}.log`], {
        cwd: dir.path,
        env,
        hosts: [sim.host],
      }),
  );
  const outputs = await Promise.all(children.map((c) => c.output()));
  return {
    perWindow: [...readsPerWindow(sim).values()],
    codes: outputs.map((o) => o.code),
    e429: sim.requests.filter((r) => r.status === 429).length,
  };
}

for (const n of [2, 4]) {
  Deno.test(`shared budget: ${n} processes on ${n} databases in one folder never pass floor(limit × buffer) together`, async () => {
    const limit = 40;
    const r = await concurrentRuns(n, limit);
    console.log(`${n} processes: reads per window ${r.perWindow.join(", ")} (allowed ${Math.floor(limit * 0.9)})`);
    strictEqual(r.e429, 0);
    ok(r.perWindow.every((x) => x <= Math.floor(limit * 0.9)), `reads per window: ${r.perWindow}`);
    ok(r.codes.every((c) => c === 0), `exit codes ${r.codes}`);
  });
}
