/**
 * The folder's budget store under load: `N` requests through the real limiter and the real
 * budget file (strava_budget.db in a temp folder) to the simulator over HTTP, as a backfill
 * sends them. Prints the requests sent and the limiter's wall time per request; run it under
 * `strace -f -c -e trace=fsync,fdatasync,unlink` to count the store's syncs per request.
 *
 * Usage: deno run --allow-read --allow-write --allow-net=127.0.0.1 bench/budget_store_bench.ts [--requests N]
 */
import { parseArgs } from "node:util";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { SharedRateState } from "../lib/store/rate_state.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "300" } } });
const n = Number(values.requests);
const dir = await Deno.makeTempDir();
await using sim = await StravaSimulator.start({
  seed: 1,
  activities: 10,
  limits: { read15: 1e6, readDay: 1e7, all15: 1e6, allDay: 1e7 },
});
const token = sim.issueTokens().access_token;
let limiterMs = 0;
try {
  using state = new SharedRateState("client:1", `${dir}/strava_budget.db`);
  const limiter = new RateLimiter({ state });
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const acquired = limiter.tryAcquire();
    limiterMs += performance.now() - t;
    if (!acquired.ok) throw new Error(`refused: ${acquired.reason}`);
    const response = await fetch(`${sim.apiUrl}/athlete`, { headers: { authorization: `Bearer ${token}` } });
    await response.body?.cancel();
    t = performance.now();
    acquired.permit.complete(response);
    limiterMs += performance.now() - t;
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(`${n} requests; limiter and budget store ${(limiterMs / n * 1000).toFixed(0)} µs per request`);
