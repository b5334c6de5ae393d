/**
 * Every run's start and end line in backfill.log (lib/backfill/run_log.ts), read from the real
 * log of the scripts run as subprocesses under their permissions against the simulator: done,
 * stopped at the budget (`--no-wait`), SIGTERM mid-request and between continuous cycles, an
 * error, and a capped refresh. The requests each end line names are the simulator's count.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { readState } from "../lib/backfill/state_file.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { createDatabase, runScript, scriptWorld, simEnv, spawnScript, tempDir } from "./helpers.ts";
import { apiRequests } from "./truth.ts";

const LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z \[(INF|ERR)\] strava-backfill\.run: (start|end): (.*)$/;

/** The start and end lines of `dir`'s backfill.log, as [level, start|end, text]. */
function runLines(dir: string): [string, string, string][] {
  return Deno.readTextFileSync(`${dir}/backfill.log`).split("\n").flatMap((line) => {
    const m = line.match(LINE);
    return m ? [[m[1], m[2], m[3]] as [string, string, string]] : [];
  });
}

const requests = (n: number) => (n === 1 ? "1 request" : `${n} requests`);

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("run log: a one-time run that finishes, then a refresh capped by --segments, each a start and an end line", async () => {
  await using world = await scriptWorld({ seed: 4, activities: 12, segments: 8 });
  const { dir, sim, opts } = world;
  const r = await runScript("manage_backfill", ["--mode", "one-time"], opts);
  strictEqual(r.code, 0, r.stderr);
  const spent = apiRequests(sim).length;
  ok(spent > 5);
  deepStrictEqual(runLines(dir.path), [
    ["INF", "start", "manage_backfill --mode one-time; nothing pending"],
    ["INF", "end", `manage_backfill --mode one-time: done; ${requests(spent)}; nothing pending`],
  ]);
  const detailed = Number(r.stdout.match(/segments: (\d+) detailed/)![1]);
  ok(detailed > 2, r.stdout);

  const refresh = await runScript("incremental_backfill", [
    "--mode",
    "refresh",
    "--segments",
    "2",
    "--refresh-after",
    "0",
  ], opts);
  strictEqual(refresh.code, 0, refresh.stderr);
  const lastLine = refresh.stdout.trimEnd().split("\n").at(-1);
  strictEqual(
    lastLine,
    `refresh: --segments 2 reached; still due: ${detailed - 2} segments, 0 changed activities to fetch again; ` +
      "the next pass goes on with them, least recently refreshed first",
  );
  deepStrictEqual(runLines(dir.path).slice(2), [
    ["INF", "start", "incremental_backfill --mode refresh; nothing pending"],
    [
      "INF",
      "end",
      `incremental_backfill --mode refresh: done; ${requests(apiRequests(sim).length - spent)}; nothing pending; ` +
      `still due for refresh: ${detailed - 2} segments, 0 changed activities`,
    ],
  ]);
});

Deno.test("run log: stopped at the budget (--no-wait) names the reopening time, the requests and what is pending", async () => {
  // 3 reads per window, 2 after the buffer.
  await using world = await scriptWorld({ seed: 6, activities: 12, segments: 10, limits: { read15: 3 } });
  const { dir, sim, opts } = world;
  const r = await runScript("incremental_backfill", ["--mode", "activities"], opts);
  strictEqual(r.code, 0, r.stderr);
  const listed = apiRequests(sim).length;
  const stopped = await runScript("manage_backfill", ["--mode", "one-time", "--no-wait"], opts);
  strictEqual(stopped.code, 0, stopped.stderr);
  const last = stopped.stdout.trimEnd().split("\n").at(-1)!;
  const m = last.match(/^stopped at the rate budget, which reopens at (.+); (still pending: .+); run again when/);
  ok(m, last);
  const lines = runLines(dir.path);
  strictEqual(lines.length, 4, JSON.stringify(lines));
  deepStrictEqual(lines[0], ["INF", "start", "incremental_backfill --mode activities; nothing pending"]);
  ok(
    /^incremental_backfill --mode activities: done; 1 request; still pending: \d+ activities, 0 segments$/.test(
      lines[1][2],
    ),
    lines[1][2],
  );
  deepStrictEqual(lines[2][1], "start");
  ok(/^manage_backfill --mode one-time; pending: \d+ activities, 0 segments$/.test(lines[2][2]), lines[2][2]);
  deepStrictEqual(lines[3].slice(0, 2), ["INF", "end"]);
  const end = lines[3][2].match(
    /^manage_backfill --mode one-time: stopped at the rate budget, which reopens at (.+); (\d+ requests?); (.+)$/,
  );
  ok(end, lines[3][2]);
  // The same instant as the last line on stdout (its UTC time: the date is added only when it is
  // not today, which two lines written a moment apart may see differently at midnight).
  const utc = (text: string) => text.match(/UTC (?:\d{4}-\d\d-\d\d )?(\d\d:\d\d)\)$/)?.[1];
  strictEqual(utc(end[1]), utc(m[1]));
  ok(utc(m[1]), m[1]);
  strictEqual(end[2], requests(apiRequests(sim).length - listed));
  strictEqual(end[3], m[2]);
});

Deno.test("run log: an error ends the run with its one-line cause, the requests and what is pending", async () => {
  await using world = await scriptWorld({ seed: 8, activities: 6, segments: 5 });
  const { dir, sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  const before = apiRequests(sim).length;
  // A token without activity:read: the first activity fetch is refused (exit 3).
  const r = await runScript("incremental_backfill", ["--mode", "efforts"], { ...opts, env: simEnv(sim, "read") });
  strictEqual(r.code, 3, r.stdout + r.stderr);
  const cause = r.stderr.trimEnd().replace(/^error: /, "");
  ok(cause.includes("activity:read"), cause);
  const lines = runLines(dir.path).slice(2);
  strictEqual(lines.length, 2, JSON.stringify(lines));
  deepStrictEqual(lines[0], ["INF", "start", "incremental_backfill --mode efforts; pending: 6 activities, 0 segments"]);
  const sent = apiRequests(sim).length - before;
  strictEqual(sent, 1);
  deepStrictEqual(lines[1].slice(0, 2), ["ERR", "end"]);
  const prefix = `incremental_backfill --mode efforts: error: ${cause}; 1 request; still pending: `;
  ok(lines[1][2].startsWith(prefix), lines[1][2]);
  ok(/^\d+ activities, 0 segments$/.test(lines[1][2].slice(prefix.length)), lines[1][2]);
  // runMain's line follows with the exit code, as for an error before any run.
  ok(Deno.readTextFileSync(`${dir.path}/backfill.log`).trimEnd().endsWith(`run ended: ${cause} (exit 3)`));
});

Deno.test("run log: SIGTERM mid-request, and between continuous cycles, end the run 'stopped on signal'", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 5, activities: 6, segments: 4 });
  createDatabase(dir.path);
  const env = simEnv(sim);
  // Continuous: one cycle, then a signal while it sleeps.
  const statePath = `${dir.path}/backfill_state.json`;
  const continuous = spawnScript("manage_backfill", ["--mode", "continuous", "--interval", "3600"], {
    cwd: dir.path,
    env,
    hosts: [sim.host],
  });
  await waitFor("the first cycle", async () => {
    const { state } = await readState(statePath).catch(() => ({ state: null }));
    return state !== null && state.runs === 1 && state.last_outcome !== "running";
  });
  continuous.kill("SIGTERM");
  strictEqual((await continuous.output()).code, 0);
  const cycle = apiRequests(sim).length;
  deepStrictEqual(runLines(dir.path), [
    ["INF", "start", "manage_backfill --mode continuous, cycle 1; nothing pending"],
    ["INF", "end", `manage_backfill --mode continuous, cycle 1: done; ${requests(cycle)}; nothing pending`],
    [
      "INF",
      "end",
      "manage_backfill --mode continuous, after 1 cycle: stopped on signal between cycles; 0 requests; nothing pending",
    ],
  ]);
  // One-time: a new activity whose response stalls, then SIGTERM.
  sim.addFault({ path: /\/activities\/\d+$/, kind: "slow", delayMs: 600_000, times: 100 });
  const { addActivities } = await import("../lib/testing/sim_world.ts");
  addActivities(sim, 1);
  const oneTime = spawnScript("manage_backfill", ["--mode", "one-time"], { cwd: dir.path, env, hosts: [sim.host] });
  await waitFor("the stalled request", () => sim.requests.slice(cycle).some((e) => /\/activities\/\d+$/.test(e.path)));
  oneTime.kill("SIGTERM");
  strictEqual((await oneTime.output()).code, 0);
  const lines = runLines(dir.path).slice(3);
  deepStrictEqual(lines, [
    ["INF", "start", "manage_backfill --mode one-time; nothing pending"],
    [
      "INF",
      "end",
      `manage_backfill --mode one-time: stopped on signal; ${
        requests(apiRequests(sim).length - cycle)
      }; still pending: 1 activity, 0 segments`,
    ],
  ]);
});

Deno.test("run log: a continuous cycle that refreshed ends its line with what the refresh left due", async () => {
  await using world = await scriptWorld({ seed: 4, activities: 12, segments: 8 });
  const { dir, opts } = world;
  // Batches of 3 segments: the first cycles fetch them; the first cycle with nothing pending
  // refreshes 3 of them (--refresh-after 0: all are due) and leaves the rest due.
  const r = await runScript(
    "manage_backfill",
    ["--mode", "continuous", "--interval", "1", "--max-runs", "6", "--segments", "3", "--refresh-after", "0"],
    opts,
  );
  strictEqual(r.code, 0, r.stderr);
  const lines = runLines(dir.path);
  strictEqual(lines.length, 12, JSON.stringify(lines));
  for (const [i, [, kind, text]] of lines.entries()) {
    strictEqual(kind, i % 2 === 0 ? "start" : "end");
    ok(text.startsWith(`manage_backfill --mode continuous, cycle ${Math.floor(i / 2) + 1}`), text);
  }
  const refreshed = lines.find(([, , text]) => text.includes("still due for refresh"));
  ok(refreshed, JSON.stringify(lines));
  ok(
    /: done; \d+ requests; nothing pending; still due for refresh: \d+ segments, 0 changed activities$/.test(
      refreshed[2],
    ),
  );
  ok(r.stdout.includes("refresh: --segments 3 reached; still due: "), r.stdout);
});
