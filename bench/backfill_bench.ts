/**
 * Long-backfill benchmark: `manage_backfill --mode one-time` as the script runs it (lib/backfill/manage.ts
 * runOneTime over the real engine, client, limiter, token refresh and SQLite store) against the
 * in-process Strava simulator on a virtual clock, so days of rate windows pass in seconds. Two ways
 * to start, as users do:
 *
 * - api: an empty database; the activities are listed from the API, then backfilled.
 * - archive: the athlete's bulk export imported first (deleted activities included, GPS unknown),
 *   then backfilled; the engine surveys the list once instead of fetching what cannot have efforts.
 *
 * Each reports requests used against the lower bound (list pages + activities that can have
 * efforts + distinct segments), 429s, and the UTC days the work took against
 * ceil(lower bound / floor(daily limit x buffer)). The goal is equality and zero 429s.
 *
 * Usage: deno task bench:backfill [--activities N] [--segments N] [--seed N] [--json]
 */
import { parseArgs } from "node:util";
import { type Database, openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { DAY_MS } from "../lib/strava/rate_window.ts";
import { SharedRateState } from "../lib/store/rate_state.ts";
import { StravaClient } from "../lib/strava/client.ts";
import { createTokenProvider } from "../lib/strava/tokens.ts";
import type { EngineContext, RunSummary } from "../lib/backfill/run_types.ts";
import { runOneTime } from "../lib/backfill/manage.ts";
import { importActivities } from "../lib/archive/import.ts";
import { readActivities } from "../lib/archive/activities_csv.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { generateArchive } from "../lib/testing/sim_archive.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    activities: { type: "string", default: "3000" },
    segments: { type: "string", default: "1500" },
    seed: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});

const BUFFER = 0.9;

/** One start (from the API or from the export) to the end of the backfill, measured. */
async function scenario(start: "api" | "archive") {
  const clock = new VirtualClock();
  const dir = await Deno.makeTempDir({ prefix: "backfill-bench-" });
  const sim = StravaSimulator.inProcess({
    seed: Number(values.seed),
    activities: Number(values.activities),
    segments: Number(values.segments),
    now: clock.now,
  });
  const db = openDatabase(`${dir}/bench.db`, { create: true });
  migrate(db);
  if (start === "archive") await importArchive(db, sim);
  using budget = new SharedRateState("client:12345", `${dir}/strava_budget.db`);
  const ctx = engineContext(db, sim, clock, dir, budget);

  const wall = performance.now();
  const startedAt = clock.now();
  // As `manage_backfill --mode one-time` runs it, with its default batch sizes.
  const oneTime = await runOneTime(ctx, { activities: 50, segments: 50, statePath: `${dir}/backfill_state.json` });
  const result = {
    start,
    ...measure(db, sim, oneTime.last!, clock.now() - startedAt),
    outcome: oneTime.outcome,
    wall_seconds: Number(((performance.now() - wall) / 1000).toFixed(1)),
  };
  db.close();
  await sim.close();
  await Deno.remove(dir, { recursive: true });
  return result;
}

/** The athlete's bulk export (deleted activities included, GPS unknown), imported as import_archive does. */
async function importArchive(db: Database, sim: StravaSimulator): Promise<void> {
  const csv = generateArchive(sim.truth, { headerVersion: 2026 });
  const label = "activities.csv";
  await importActivities(db, readActivities(ReadableStream.from([new TextEncoder().encode(csv)]), { label }), {
    label,
  });
}

/** The real limiter, client and token refresh on the simulator and the virtual clock. */
function engineContext(
  db: Database,
  sim: StravaSimulator,
  clock: VirtualClock,
  dir: string,
  budget: SharedRateState,
): EngineContext {
  const limiter = new RateLimiter({ state: budget, now: clock.now, buffer: BUFFER });
  const client = new StravaClient({
    apiUrl: sim.apiUrl,
    // Days pass: access tokens expire every six hours and are refreshed (and rotated) as in real use.
    tokens: createTokenProvider({
      config: {
        clientId: "12345",
        clientSecret: "sim-secret",
        refreshToken: sim.issueTokens().refresh_token,
        oauthUrl: sim.oauthUrl,
      },
      db,
      tokensPath: `${dir}/tokens.json`,
      fetch: sim.fetch,
      now: clock.now,
      sleep: clock.sleep,
    }),
    limiter,
    fetch: sim.fetch,
    now: clock.now,
    sleep: clock.sleep,
  });
  return { db, client, limiter, now: clock.now, sleep: clock.sleep, wait: true };
}

/** Requests and days used against their lower bounds, 429s, and what is left pending. */
function measure(db: Database, sim: StravaSimulator, summary: RunSummary, elapsedMs: number) {
  const api = sim.requests.filter((r) => r.path.startsWith("/api/"));
  const n = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
  const listPages = api.filter((r) => r.path === "/api/v3/athlete/activities").length;
  const canHaveEfforts = sim.truth.activities.filter((a) => !a.deleted && !a.manual && a.hasGps).length;
  const distinctSegments = n("SELECT count(DISTINCT segment_id) n FROM segment_efforts");
  const lowerBound = Math.ceil((sim.truth.activities.filter((a) => !a.deleted).length + 1) / 200) + canHaveEfforts +
    distinctSegments;
  const perDay = Math.floor(1000 * BUFFER);
  return {
    activities: sim.truth.activities.length,
    activities_with_efforts_possible: canHaveEfforts,
    distinct_segments: distinctSegments,
    list_pages: listPages,
    requests_used: api.length,
    lower_bound_requests: lowerBound,
    responses_429: sim.requests.filter((r) => r.status === 429).length,
    utc_days_used: new Set(api.map((r) => Math.floor(r.at / DAY_MS))).size,
    lower_bound_days: Math.ceil(lowerBound / perDay),
    simulated_days_elapsed: Number((elapsedMs / DAY_MS).toFixed(2)),
    pending_left: summary.pendingActivities + summary.pendingSegments,
    // The seed's own definition of pending: must be 0 once the backfill is complete.
    processed_flag_zero: n("SELECT count(*) n FROM activities WHERE segment_efforts_processed = 0"),
  };
}

const results = [await scenario("api"), await scenario("archive")];
if (values.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  for (const result of results) {
    console.log(`long backfill, real engine, virtual clock (seed ${values.seed}), starting from the ${result.start}`);
    for (const [k, v] of Object.entries(result)) console.log(`  ${k.padEnd(34)} ${v}`);
    const ok = result.requests_used === result.lower_bound_requests && result.responses_429 === 0 &&
      result.utc_days_used === result.lower_bound_days && result.pending_left === 0 &&
      result.processed_flag_zero === 0;
    console.log(ok ? "  => on the lower bound, zero 429s" : "  => OFF the lower bound");
  }
}
