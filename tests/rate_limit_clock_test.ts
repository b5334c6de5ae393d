/**
 * lib/strava/rate_limit.ts and rate_window.ts (Strava's clock): limits and clocks that cannot strand the tool.
 * A saved limit too small for the buffer, and a machine clock hours away from Strava's, on a
 * virtual clock and through the simulator.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type Acquire, type Permit, RateLimiter } from "../lib/strava/rate_limit.ts";
import { DAY_MS, WINDOW_MS } from "../lib/strava/rate_window.ts";
import { MemoryRateState } from "../lib/testing/memory_rate_state.ts";
import { RateLimitedError } from "../lib/strava/client.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { simClient } from "./helpers.ts";

const HOUR = 3_600_000;

function permit(acquire: Acquire): Permit {
  if (!acquire.ok) throw new Error(`refused: ${acquire.reason} until ${new Date(acquire.until).toISOString()}`);
  return acquire.permit;
}

/** A response as Strava sends it: its clock in Date, reads used and the read limits. */
function answer(serverNow: number, usage: [number, number], limit: [number, number] = [100, 1000]) {
  return {
    status: 200,
    headers: new Headers({
      Date: new Date(serverNow).toUTCString(),
      "X-Readratelimit-Usage": usage.join(","),
      "X-Readratelimit-Limit": limit.join(","),
      "X-Ratelimit-Usage": usage.join(","),
      "X-Ratelimit-Limit": "200,2000",
    }),
  };
}

Deno.test("a saved 15-minute limit below 2 closes only its own window: the next one re-learns the limit", () => {
  const c = { t: Date.UTC(2026, 4, 1, 12, 5) };
  const now = () => c.t;
  const state = new MemoryRateState();
  permit(new RateLimiter({ now, state }).tryAcquire()).complete(answer(c.t, [1, 40], [1, 1000]));
  // floor(1 × 0.9) = 0: this window is closed…
  const next = new RateLimiter({ now, state });
  deepStrictEqual(next.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "window" });
  // …but not the next ones, in a later process too: one request learns Strava's real limit.
  c.t = Date.UTC(2026, 4, 1, 12, 15);
  const later = new RateLimiter({ now, state });
  permit(later.tryAcquire()).complete(answer(c.t, [1, 41]));
  deepStrictEqual([later.status().read.limit15, later.status().read.remaining15], [100, 89]);
  ok(later.tryAcquire().ok);
});

Deno.test("a saved daily limit below 2 closes only its own day: the next day re-learns it", () => {
  const c = { t: Date.UTC(2026, 4, 1, 12, 5) };
  const now = () => c.t;
  const state = new MemoryRateState();
  permit(new RateLimiter({ now, state }).tryAcquire()).complete(answer(c.t, [1, 1], [100, 1]));
  deepStrictEqual(new RateLimiter({ now, state }).tryAcquire(), {
    ok: false,
    until: Date.UTC(2026, 4, 2),
    reason: "daily",
  });
  c.t = Date.UTC(2026, 4, 2, 0, 0, 1);
  const tomorrow = new RateLimiter({ now, state });
  permit(tomorrow.tryAcquire()).complete(answer(c.t, [1, 1]));
  deepStrictEqual([tomorrow.status().read.limitDay, tomorrow.status().read.remainingDay], [1000, 899]);
});

Deno.test("Strava's clock 2 h behind ours: the spent day reopens at Strava's midnight, in this process and the next", () => {
  // Ours says 01:00 on 2 May; Strava says 23:00 on 1 May, and 1 May's reads are spent.
  const c = { t: Date.UTC(2026, 4, 2, 1, 0) };
  const now = () => c.t;
  const skew = -2 * HOUR;
  const state = new MemoryRateState();
  const limiter = new RateLimiter({ now, state });
  permit(limiter.tryAcquire()).complete(answer(c.t + skew, [10, 900]));
  const stravaMidnight = Date.UTC(2026, 4, 2) - skew; // 02:00 on our clock
  deepStrictEqual(limiter.tryAcquire(), { ok: false, until: stravaMidnight, reason: "daily" });
  deepStrictEqual(new RateLimiter({ now, state }).tryAcquire(), { ok: false, until: stravaMidnight, reason: "daily" });
  deepStrictEqual([limiter.status().dayResetsAt, limiter.status().windowResetsAt], [
    stravaMidnight,
    Date.UTC(2026, 4, 2, 1, 15),
  ]);
  c.t = stravaMidnight;
  ok(new RateLimiter({ now, state }).tryAcquire().ok, "Strava's new day");
});

Deno.test("Strava's clock 2 h ahead of ours: its new day starts at 22:00 on ours, not at our midnight", () => {
  const c = { t: Date.UTC(2026, 4, 1, 21, 50) };
  const now = () => c.t;
  const skew = 2 * HOUR;
  const state = new MemoryRateState();
  const limiter = new RateLimiter({ now, state });
  permit(limiter.tryAcquire()).complete(answer(c.t + skew, [10, 900]));
  deepStrictEqual(limiter.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 22), reason: "daily" });
  c.t = Date.UTC(2026, 4, 1, 22);
  ok(new RateLimiter({ now, state }).tryAcquire().ok);
});

/** A client and limiter on `clock`, reaching `sim` in-process, with the state a folder's runs share. */
function sharedClient(sim: StravaSimulator, clock: VirtualClock, state: MemoryRateState) {
  return simClient(sim, clock, { limiter: { state } });
}

/** Hours between when a refusal says the day reopens and when Strava's day really does. */
async function hoursLostToSkew(skewMs: number): Promise<number> {
  const local = Date.UTC(2026, 4, 2, 1, 0);
  const clock = new VirtualClock(local);
  await using sim = StravaSimulator.inProcess({ now: clock.now, clockSkewMs: skewMs, usage: { readDay: 899 } });
  const state = new MemoryRateState();
  const segment = [...sim.truth.segments.keys()].find((id) => !sim.truth.privateSegments.has(id))!;
  await sharedClient(sim, clock, state).client.getSegment(segment);
  let until = NaN;
  try {
    await sharedClient(sim, clock, state).client.getSegment(segment);
  } catch (err) {
    ok(err instanceof RateLimitedError, String(err));
    until = err.until;
  }
  const stravaNow = local + skewMs;
  const stravaMidnightOnOurClock = Math.floor(stravaNow / DAY_MS) * DAY_MS + DAY_MS - skewMs;
  strictEqual(sim.requests.length, 1, "the spent day costs no request");
  return (until - stravaMidnightOnOurClock) / HOUR;
}

Deno.test("through the simulator: with Strava 2 h behind or ahead, no hour of the next day is lost", async () => {
  strictEqual(await hoursLostToSkew(-2 * HOUR), 0);
  strictEqual(await hoursLostToSkew(2 * HOUR), 0);
  strictEqual(await hoursLostToSkew(0), 0);
});

Deno.test("through the simulator: after Strava answered a limit of 1, a later window learns the real one", async () => {
  const clock = new VirtualClock(Date.UTC(2026, 4, 1, 12, 5));
  await using sim = StravaSimulator.inProcess({ now: clock.now, limits: { read15: 1 } });
  const state = new MemoryRateState();
  const segments = [...sim.truth.segments.keys()].filter((id) => !sim.truth.privateSegments.has(id));
  await sharedClient(sim, clock, state).client.getSegment(segments[0]);
  sim.setRateLimits({ read15: 100 });
  // This window stays closed (the limiter knows only the limit of 1)…
  await sharedClient(sim, clock, state).client.getSegment(segments[1]).then(
    () => ok(false, "sent past a limit of 1"),
    (err) => ok(err instanceof RateLimitedError, String(err)),
  );
  strictEqual(sim.requests.length, 1);
  // …the next one opens, and the first answer brings the real limit back.
  clock.advance(WINDOW_MS);
  const { client, limiter } = sharedClient(sim, clock, state);
  for (const id of segments.slice(1, 6)) await client.getSegment(id);
  deepStrictEqual([limiter.status().read.limit15, sim.requests.length], [100, 6]);
});

Deno.test("a fresh store keeps the limits of the first answer when its Date header is more than a second behind", () => {
  // The reservation before the first answer stores the defaults; the answer's Date (truncated to the
  // second, 1.003 s behind) moves Strava's clock back, so the limits it teaches carry an earlier instant
  // than that stored row. Defaults are no evidence: they must not win over the limits Strava sent.
  const c = { t: Date.UTC(2026, 4, 1, 12, 5, 0, 3) };
  const now = () => c.t;
  const state = new MemoryRateState();
  const limiter = new RateLimiter({ now, state });
  const first = answer(c.t - 1_003, [813, 813], [1_000_000, 10_000_000]);
  first.headers.set("X-Ratelimit-Limit", "1000000,10000000");
  permit(limiter.tryAcquire()).complete(first);
  deepStrictEqual([limiter.status().read.limit15, limiter.status().read.usage15], [1_000_000, 813]);
  ok(limiter.tryAcquire().ok, "no wait for a window that has room");
  const next = new RateLimiter({ now, state });
  deepStrictEqual(next.status().read.limit15, 1_000_000, "a later process reads the limits Strava sent");
});
