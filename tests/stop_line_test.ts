/**
 * Issue "Input and files" 6: a stop prints one line, not two saying the same. manage_backfill
 * ends with one line saying why it stopped (signal or rate budget); its batch summaries do not
 * say it as well. incremental_backfill, which has no ending line of its own, keeps its one.
 */
import { ok, strictEqual } from "node:assert/strict";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { createDatabase, runScript, scriptWorld, simEnv, spawnScript, tempDir } from "./helpers.ts";

const stopLines = (stdout: string) => stdout.split("\n").filter((l) => /stopped|interrupted|budget/.test(l));

Deno.test("manage one-time --no-wait at the rate budget: one line says it stopped and when it reopens", async () => {
  await using world = await scriptWorld({ seed: 3, activities: 30, limits: { read15: 12 } });
  const { opts } = world;
  const r = await runScript("manage_backfill", ["--mode", "one-time", "--no-wait"], opts);
  strictEqual(r.code, 0, r.stderr);
  const lines = stopLines(r.stdout);
  strictEqual(lines.length, 1, r.stdout);
  ok(
    /^stopped at the rate budget, which reopens at [^()]+ \(UTC [^()]+\); still pending: /.test(lines[0]),
    lines[0],
  );
  const single = await runScript("incremental_backfill", ["--no-wait"], opts);
  strictEqual(single.code, 0, single.stderr);
  strictEqual(stopLines(single.stdout).length, 1, single.stdout);
});

Deno.test("manage one-time stopped by SIGTERM: one line says so", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 8, activities: 20, segments: 10 });
  createDatabase(dir.path);
  sim.addFault({ path: /\/activities\/\d+$/, kind: "slow", delayMs: 200, times: 1000 });
  const child = spawnScript("manage_backfill", ["--mode", "one-time"], {
    cwd: dir.path,
    env: simEnv(sim),
    hosts: [sim.host],
  });
  const deadline = Date.now() + 60_000;
  while (sim.requests.filter((q) => /\/activities\/\d+/.test(q.path)).length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGTERM");
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = stopLines(stdout);
  strictEqual(lines.length, 1, stdout);
  ok(lines[0].startsWith("stopped on signal; state saved;"), lines[0]);
});
