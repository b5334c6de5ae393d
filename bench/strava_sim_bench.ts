/**
 * Simulator cost, so tests and benchmarks that lean on it stay fast: generating an athlete
 * with 3,000 activities, and serving list pages and activity details through the in-process fetch.
 *
 * Usage: deno bench bench/strava_sim_bench.ts
 */
import { StravaSimulator } from "../lib/testing/strava_sim.ts";

Deno.bench("generate 3,000 activities / 500 segments", { group: "generate", baseline: true }, () => {
  StravaSimulator.inProcess({ seed: 1, activities: 3000, segments: 500 });
});

Deno.bench("generate 60 activities / 40 segments (test default)", { group: "generate" }, () => {
  StravaSimulator.inProcess({ seed: 1 });
});

// Limits out of the way: this measures serving, not 429s.
const sim = StravaSimulator.inProcess({
  seed: 1,
  activities: 3000,
  segments: 500,
  limits: { read15: 1e9, readDay: 1e9, all15: 1e9, allDay: 1e9 },
});
const headers = { Authorization: `Bearer ${sim.issueTokens().access_token}` };
const ids = sim.truth.activities.filter((a) => !a.deleted).map((a) => a.id);
let next = 0;

Deno.bench("in-process GET /athlete/activities?per_page=200", { group: "serve" }, async () => {
  const res = await sim.fetch(`${sim.apiUrl}/athlete/activities?per_page=200&page=${1 + (next++ % 14)}`, { headers });
  await res.text();
});

Deno.bench("in-process GET /activities/{id}?include_all_efforts=true", { group: "serve" }, async () => {
  const res = await sim.fetch(`${sim.apiUrl}/activities/${ids[next++ % ids.length]}?include_all_efforts=true`, {
    headers,
  });
  await res.text();
});
