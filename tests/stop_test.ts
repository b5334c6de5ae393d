/**
 * SIGTERM stops a backfill within seconds, whatever it is doing: a stalled response, a stalled
 * token refresh, or continuous mode's sleep between cycles. Each case runs manage_backfill as a
 * subprocess under its scoped permissions against the simulator and checks what a user (or
 * systemd, which kills after 90 s) sees: exit 0, no request sent after the signal, state
 * `interrupted`, database intact.
 */
import { ok, strictEqual } from "node:assert/strict";
import { readState } from "../lib/backfill/state_file.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { createDatabase, simEnv, spawnScript, tempDir, withDatabase } from "./helpers.ts";

/** The generous bound: the target is under 5 s, but the test machine is shared and loaded. */
const STOP_BOUND_MS = 8000;

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sends SIGTERM once `inFlight` holds, then returns the exit, the seconds it took and the requests after it. */
async function terminate(sim: StravaSimulator, child: Deno.ChildProcess, inFlight: () => boolean | Promise<boolean>) {
  await waitFor("the request to stall", inFlight);
  const before = sim.requests.length;
  const sentAt = Date.now();
  child.kill("SIGTERM");
  const out = await child.output();
  const ms = Date.now() - sentAt;
  return {
    code: out.code,
    ms,
    after: sim.requests.slice(before),
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function integrity(dir: string): string {
  return withDatabase(dir, (db) => (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }))
    .integrity_check;
}

Deno.test("stop: SIGTERM during a stalled activity response exits 0 within seconds, sends nothing more", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 8, activities: 12, segments: 10 });
  createDatabase(dir.path);
  // Every activity response stalls for ten minutes: before the fix the client waited out its 30 s
  // timeout and retried four times (160 s, four more requests).
  sim.addFault({ path: /\/activities\/\d+$/, kind: "slow", delayMs: 600_000, times: 100 });
  const child = spawnScript("manage_backfill", ["--mode", "one-time"], {
    cwd: dir.path,
    env: simEnv(sim),
    hosts: [sim.host],
  });
  const r = await terminate(sim, child, () => sim.requests.some((e) => /\/activities\/\d+$/.test(e.path)));
  console.log(`stop after SIGTERM mid-request: ${r.ms} ms, ${r.after.length} requests after the signal`);
  strictEqual(r.code, 0, r.stderr);
  ok(r.ms < STOP_BOUND_MS, `stopped after ${r.ms} ms`);
  strictEqual(r.after.length, 0, JSON.stringify(r.after));
  ok(r.stdout.includes("stopped on signal"), r.stdout);
  const { state } = await readState(`${dir.path}/backfill_state.json`);
  strictEqual(state.last_outcome, "interrupted");
  strictEqual(integrity(dir.path), "ok");
  withDatabase(dir.path, (db) => {
    const charged = db.prepare("SELECT count(*) n FROM activities WHERE efforts_attempts > 0").get() as { n: number };
    strictEqual(charged.n, 0, "the interrupted request is charged to no record");
  });
});

Deno.test("stop: SIGTERM during a stalled token refresh exits 0 within seconds", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 3, activities: 5, segments: 5 });
  createDatabase(dir.path);
  const tokens = sim.issueTokens();
  sim.addFault({ path: /\/oauth\/token$/, kind: "slow", delayMs: 600_000, times: 10 });
  const child = spawnScript("manage_backfill", ["--mode", "one-time"], {
    cwd: dir.path,
    env: {
      STRAVA_API_URL: sim.apiUrl,
      STRAVA_OAUTH_URL: sim.oauthUrl,
      STRAVA_CLIENT_ID: "12345",
      STRAVA_CLIENT_SECRET: "sim-secret",
      STRAVA_REFRESH_TOKEN: tokens.refresh_token,
    },
    hosts: [sim.host],
  });
  const r = await terminate(sim, child, () => sim.requests.some((e) => e.path.endsWith("/oauth/token")));
  console.log(`stop after SIGTERM mid-refresh: ${r.ms} ms, ${r.after.length} requests after the signal`);
  strictEqual(r.code, 0, r.stderr);
  ok(r.ms < STOP_BOUND_MS, `stopped after ${r.ms} ms`);
  strictEqual(r.after.length, 0, JSON.stringify(r.after));
  const { state } = await readState(`${dir.path}/backfill_state.json`);
  strictEqual(state.last_outcome, "interrupted");
});

Deno.test("stop: SIGTERM while continuous mode sleeps between cycles is recorded as interrupted", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 5, activities: 4, segments: 4 });
  createDatabase(dir.path);
  const statePath = `${dir.path}/backfill_state.json`;
  const child = spawnScript("manage_backfill", ["--mode", "continuous", "--interval", "3600"], {
    cwd: dir.path,
    env: simEnv(sim),
    hosts: [sim.host],
  });
  const r = await terminate(sim, child, async () => {
    const { state } = await readState(statePath).catch(() => ({ state: null }));
    return state !== null && state.runs === 1 && state.last_outcome !== "running";
  });
  strictEqual(r.code, 0, r.stderr);
  ok(r.ms < STOP_BOUND_MS, `stopped after ${r.ms} ms`);
  strictEqual(r.after.length, 0);
  const { state } = await readState(statePath);
  strictEqual(state.last_outcome, "interrupted");
  strictEqual(state.runs, 1);
  strictEqual(integrity(dir.path), "ok");
});

Deno.test("stop: SIGTERM while waiting for the rate window exits 0 within seconds, sends nothing more", async () => {
  await using dir = await tempDir();
  // 3 reads per window (2 after the buffer): the run soon waits for the next window, up to 15 minutes.
  await using sim = await StravaSimulator.start({ seed: 6, activities: 12, segments: 10, limits: { read15: 3 } });
  createDatabase(dir.path);
  const child = spawnScript("manage_backfill", ["--mode", "one-time"], {
    cwd: dir.path,
    env: simEnv(sim),
    hosts: [sim.host],
  });
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  // Off a terminal the wait is announced once on stderr: that is the moment to send the signal.
  while (!stderr.includes("resumes at")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ended before waiting: ${stderr}`);
    stderr += value;
  }
  const before = sim.requests.length;
  const sentAt = Date.now();
  child.kill("SIGTERM");
  const { code } = await child.status;
  const ms = Date.now() - sentAt;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    stderr += value;
  }
  console.log(`stop after SIGTERM during a rate-window wait: ${ms} ms, ${sim.requests.length - before} requests after`);
  strictEqual(code, 0, stderr);
  ok(ms < STOP_BOUND_MS, `stopped after ${ms} ms`);
  strictEqual(sim.requests.length - before, 0);
  ok((await stdout).includes("stopped on signal"));
  const { state } = await readState(`${dir.path}/backfill_state.json`);
  strictEqual(state.last_outcome, "interrupted");
});
