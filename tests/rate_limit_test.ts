import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { openDatabase, transaction } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { SharedRateState } from "../lib/store/rate_state.ts";
import {
  type Acquire,
  loadBudgetStatus,
  openSharedBudget,
  type Permit,
  RateLimiter,
} from "../lib/strava/rate_limit.ts";
import { DAY_MS, dayStart, WINDOW_MS, windowStart } from "../lib/strava/rate_window.ts";
import { MemoryRateState } from "../lib/testing/memory_rate_state.ts";
import { tempDir } from "./helpers.ts";

/** 2026-05-01 12:05:00 UTC: inside the 12:00–12:15 window. */
const T0 = Date.UTC(2026, 4, 1, 12, 5, 0);
const MIN = 60_000;

/** A virtual clock. */
function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** Strava's rate-limit headers, in the casing Strava really uses (fixture response_headers_rate_limit.json). */
function headers(
  read: [number, number],
  overall: [number, number] = read,
  limits: { read?: [number, number]; overall?: [number, number] } = {},
): Headers {
  return new Headers({
    "X-Readratelimit-Usage": read.join(","),
    "X-Readratelimit-Limit": (limits.read ?? [100, 1000]).join(","),
    "X-Ratelimit-Usage": overall.join(","),
    "X-Ratelimit-Limit": (limits.overall ?? [200, 2000]).join(","),
  });
}

function permit(acquire: Acquire): Permit {
  if (!acquire.ok) throw new Error(`refused: ${acquire.reason} until ${new Date(acquire.until).toISOString()}`);
  return acquire.permit;
}

/** Sends `n` requests that each get an answer without rate-limit headers. */
function spend(limiter: RateLimiter, n: number): void {
  for (let i = 0; i < n; i++) permit(limiter.tryAcquire()).complete({ status: 200, headers: new Headers() });
}

/**
 * `fn` with `open`, which opens the folder's budget store as one more process would, and
 * `stats`, the budget stats reads from it.
 */
async function withStore(
  fn: (open: () => SharedRateState, stats: (now: number) => ReturnType<typeof loadBudgetStatus>, dir: string) => void,
): Promise<void> {
  await using dir = await tempDir();
  const path = `${dir.path}/strava_budget.db`;
  const opened: SharedRateState[] = [];
  const open = () => {
    const store = new SharedRateState("client:1", path);
    opened.push(store);
    return store;
  };
  try {
    fn(open, (now) => loadBudgetStatus(now, undefined, path), dir.path);
  } finally {
    for (const store of opened) store[Symbol.dispose]();
  }
}

Deno.test("windows start at :00/:15/:30/:45 UTC and days at midnight UTC", () => {
  strictEqual(windowStart(Date.UTC(2026, 4, 1, 12, 14, 59, 999)), Date.UTC(2026, 4, 1, 12, 0));
  strictEqual(windowStart(Date.UTC(2026, 4, 1, 12, 15)), Date.UTC(2026, 4, 1, 12, 15));
  strictEqual(windowStart(Date.UTC(2026, 4, 1, 23, 59, 59)), Date.UTC(2026, 4, 1, 23, 45));
  strictEqual(dayStart(Date.UTC(2026, 4, 1, 23, 59, 59, 999)), Date.UTC(2026, 4, 1));
  strictEqual(dayStart(Date.UTC(2026, 4, 2)), Date.UTC(2026, 4, 2));
  strictEqual(WINDOW_MS, 900_000);
});

Deno.test("buffer arithmetic: allowed = floor(limit × buffer), and never one more", () => {
  const c = clock();
  const limiter = new RateLimiter({ now: c.now });
  const s = limiter.status();
  deepStrictEqual([s.read.allowed15, s.read.allowedDay, s.overall.allowed15, s.overall.allowedDay], [
    90,
    900,
    180,
    1800,
  ]);
  spend(limiter, 90);
  const refused = limiter.tryAcquire();
  deepStrictEqual(refused, { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "window" });
  strictEqual(limiter.reopensAt(), Date.UTC(2026, 4, 1, 12, 15));
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.remaining15], [90, 0]);

  for (const [buffer, limit15, expected] of [[0.5, 100, 50], [1, 100, 100], [0.9, 7, 6], [0.9, 10, 9]] as const) {
    const l = new RateLimiter({ now: c.now, buffer });
    permit(l.tryAcquire()).complete({ status: 200, headers: headers([1, 1], [1, 1], { read: [limit15, 1000] }) });
    spend(l, expected - 1);
    strictEqual(l.tryAcquire().ok, false, `buffer ${buffer} of ${limit15}`);
    strictEqual(l.status().read.usage15, expected);
  }
  throws(() => new RateLimiter({ buffer: 0 }), RangeError);
  throws(() => new RateLimiter({ buffer: 1.5 }), RangeError);
});

Deno.test("the 15-minute window reopens at the boundary, with usage back to 0", () => {
  const c = clock(Date.UTC(2026, 4, 1, 12, 14, 0));
  const limiter = new RateLimiter({ now: c.now });
  permit(limiter.tryAcquire()).complete({ status: 200, headers: headers([90, 300]) });
  strictEqual(limiter.tryAcquire().ok, false);
  c.t = Date.UTC(2026, 4, 1, 12, 14, 59, 999);
  strictEqual(limiter.reopensAt(), Date.UTC(2026, 4, 1, 12, 15));
  c.t = Date.UTC(2026, 4, 1, 12, 15);
  strictEqual(limiter.reopensAt(), c.t);
  const s = limiter.status();
  deepStrictEqual([s.read.usage15, s.read.usageDay, s.windowResetsAt], [0, 300, Date.UTC(2026, 4, 1, 12, 30)]);
  const p = permit(limiter.tryAcquire());
  p.complete({ status: 200, headers: headers([1, 301]) });
  strictEqual(limiter.status().read.remaining15, 89);
});

Deno.test("the daily budget closes until midnight UTC and reopens with the new day", () => {
  const c = clock(Date.UTC(2026, 4, 1, 23, 50));
  const limiter = new RateLimiter({ now: c.now });
  permit(limiter.tryAcquire()).complete({ status: 200, headers: headers([10, 899]) });
  permit(limiter.tryAcquire()).complete({ status: 200, headers: headers([11, 900]) });
  const refused = limiter.tryAcquire();
  deepStrictEqual(refused, { ok: false, until: Date.UTC(2026, 4, 2), reason: "daily" });
  c.t = Date.UTC(2026, 4, 1, 23, 59, 59, 999);
  strictEqual(limiter.tryAcquire().ok, false, "a new 15-min window does not reopen a spent day");
  c.t = Date.UTC(2026, 4, 2);
  const s = limiter.status();
  deepStrictEqual([s.read.usage15, s.read.usageDay, s.dayResetsAt], [0, 0, Date.UTC(2026, 4, 3)]);
  ok(limiter.tryAcquire().ok);
});

Deno.test("the overall daily limit binds too, and a write counts only against overall", () => {
  const c = clock();
  const limiter = new RateLimiter({ now: c.now });
  permit(limiter.tryAcquire()).complete({ status: 200, headers: headers([5, 100], [5, 1800]) });
  deepStrictEqual(limiter.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 2), reason: "daily" });
  strictEqual(limiter.tryAcquire("write").ok, false);

  const l2 = new RateLimiter({ now: c.now });
  permit(l2.tryAcquire()).complete({ status: 200, headers: headers([90, 200], [90, 200]) });
  strictEqual(l2.tryAcquire("read").ok, false);
  const w = permit(l2.tryAcquire("write"));
  strictEqual(l2.status().read.inFlight, 0);
  strictEqual(l2.status().overall.inFlight, 1);
  w.complete({ status: 201, headers: new Headers() });
  deepStrictEqual([l2.status().read.usage15, l2.status().overall.usage15], [90, 91]);
});

Deno.test("headers raise and lower the limits, matched case-insensitively", () => {
  const c = clock();
  const limiter = new RateLimiter({ now: c.now });
  // An app with raised limits gets them without configuration.
  permit(limiter.tryAcquire()).complete({
    status: 200,
    headers: headers([95, 95], [95, 95], { read: [300, 3000], overall: [600, 6000] }),
  });
  let s = limiter.status();
  deepStrictEqual([s.read.limit15, s.read.limitDay, s.read.allowed15, s.overall.allowed15], [300, 3000, 270, 540]);
  ok(limiter.tryAcquire().ok, "95 of 270 allowed");

  // Lowered limits close the window at once; lower-case names work as well.
  const lowered = new Headers({
    "x-readratelimit-limit": "50,500",
    "x-readratelimit-usage": "46,97",
    "x-ratelimit-limit": "100,1000",
    "x-ratelimit-usage": "46,97",
  });
  permit(limiter.tryAcquire()).complete({ status: 200, headers: lowered });
  s = limiter.status();
  deepStrictEqual([s.read.limit15, s.read.allowed15, s.read.usage15, s.read.inFlight], [50, 45, 46, 1]);
  strictEqual(limiter.tryAcquire().ok, false);
});

Deno.test("the recorded Strava headers are read (fixture response_headers_rate_limit.json)", () => {
  const recorded = JSON.parse(
    Deno.readTextFileSync(new URL("./fixtures/strava/response_headers_rate_limit.json", import.meta.url)),
  );
  const recordedAt = Date.parse(recorded.headers.Date);
  const c = clock(recordedAt + 300);
  const limiter = new RateLimiter({ now: c.now });
  permit(limiter.tryAcquire()).complete({ status: 200, headers: new Headers(recorded.headers) });
  const s = limiter.status();
  deepStrictEqual([s.read.usage15, s.read.usageDay, s.read.limit15, s.read.limitDay], [1, 18, 100, 1000]);
  deepStrictEqual([s.overall.usage15, s.overall.usageDay, s.overall.limit15, s.overall.limitDay], [1, 18, 200, 2000]);
});

Deno.test("requests in flight count against the budget until answered", () => {
  const c = clock();
  const limiter = new RateLimiter({ now: c.now });
  const permits = Array.from({ length: 90 }, () => permit(limiter.tryAcquire()));
  strictEqual(limiter.tryAcquire().ok, false, "90 in flight fill the window");
  deepStrictEqual([limiter.status().read.inFlight, limiter.status().read.remaining15], [90, 0]);
  // Answers arrive out of order: an older answer never lowers the newer count.
  permits[1].complete({ status: 200, headers: headers([2, 2]) });
  permits[0].complete({ status: 200, headers: headers([1, 1]) });
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.inFlight], [2, 88]);
  strictEqual(limiter.tryAcquire().ok, false);
  // A request that failed without an answer still counts as sent.
  permits[2].fail();
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.inFlight], [3, 87]);
  // The server's figure from a later request is the truth, and still counts the failed one.
  permits[3].complete({ status: 200, headers: headers([3, 3]) });
  strictEqual(limiter.status().read.usage15, 3);
  throws(() => permits[3].complete({ status: 200, headers: headers([3, 3]) }), /twice/);
  for (const p of permits.slice(4)) p.complete({ status: 200, headers: new Headers() });
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.inFlight], [89, 0]);
  ok(limiter.tryAcquire().ok);
});

Deno.test("a server figure from Strava's previous window stays there: our windows follow Strava's clock", () => {
  // Our clock is 1.1 s ahead of Strava's: a request sent as our window opens lands in Strava's old one.
  const c = clock(Date.UTC(2026, 4, 1, 12, 15, 0, 100));
  const limiter = new RateLimiter({ now: c.now });
  const h = headers([91, 400]);
  h.set("Date", new Date(Date.UTC(2026, 4, 1, 12, 14, 59)).toUTCString());
  permit(limiter.tryAcquire()).complete({ status: 200, headers: h });
  // Strava's window is the 12:00 one still, and spent (91 ≥ 90): nothing more until it rolls over on
  // Strava's clock, i.e. 12:15:00 there, which is at most 12:15:01.1 here (Date is truncated to the second).
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.usageDay], [91, 400]);
  deepStrictEqual(limiter.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15, 1, 100), reason: "window" });
  c.t = Date.UTC(2026, 4, 1, 12, 15, 1, 100);
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.usageDay], [0, 400]);
  // A Date years away (a broken clock somewhere) moves the frame; the figures are still taken.
  const far = headers([50, 450]);
  far.set("Date", new Date(Date.UTC(2020, 0, 1)).toUTCString());
  permit(limiter.tryAcquire()).complete({ status: 200, headers: far });
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.usageDay], [50, 450]);
});

Deno.test("a 429 from a Strava clock 2 s behind ours blocks until Strava's window turns, on our clock", () => {
  const c = clock(Date.UTC(2026, 4, 1, 12, 29, 59));
  const limiter = new RateLimiter({ now: c.now });
  const h = headers([100, 500]);
  h.set("Date", new Date(Date.UTC(2026, 4, 1, 12, 29, 57)).toUTCString());
  permit(limiter.tryAcquire()).complete({ status: 429, headers: h });
  strictEqual(limiter.status().blockedUntil, Date.UTC(2026, 4, 1, 12, 30, 2));
  c.t = Date.UTC(2026, 4, 1, 12, 30, 1);
  strictEqual(limiter.tryAcquire().ok, false, "our window turned, Strava's has not");
  c.t = Date.UTC(2026, 4, 1, 12, 30, 2);
  ok(limiter.tryAcquire().ok);
});

Deno.test("a 429 on the first request of a run blocks the window, in this process and the next", async () => {
  await withStore((open) => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now, state: open() });
    const p = permit(limiter.tryAcquire());
    p.complete({ status: 429, headers: headers([101, 350], [101, 350]) });
    deepStrictEqual(limiter.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "rate_limited" });
    strictEqual(limiter.status().blockedUntil, Date.UTC(2026, 4, 1, 12, 15));

    // A new process right after: no request at all.
    c.t += MIN;
    const next = new RateLimiter({ now: c.now, state: open() });
    deepStrictEqual(next.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "rate_limited" });
    c.t = Date.UTC(2026, 4, 1, 12, 15);
    ok(next.tryAcquire().ok);
  });
});

Deno.test("a 429 with the daily usage at its limit blocks until midnight UTC", async () => {
  await withStore((open) => {
    const c = clock();
    const limiter = new RateLimiter({ now: c.now, state: open() });
    permit(limiter.tryAcquire()).complete({ status: 429, headers: headers([40, 1000], [40, 1000]) });
    const refused = limiter.tryAcquire();
    deepStrictEqual(refused, { ok: false, until: Date.UTC(2026, 4, 2), reason: "rate_limited" });
    c.t = Date.UTC(2026, 4, 1, 23, 59);
    strictEqual(new RateLimiter({ now: c.now, state: open() }).tryAcquire().ok, false);
    c.t = Date.UTC(2026, 4, 2);
    ok(new RateLimiter({ now: c.now, state: open() }).tryAcquire().ok);
  });
});

Deno.test("state persists across two limiter instances on one budget store", async () => {
  await withStore((open, stats) => {
    const c = clock();
    const first = new RateLimiter({ now: c.now, state: open() });
    permit(first.tryAcquire()).complete({
      status: 200,
      headers: headers([40, 500], [45, 600], { read: [150, 1500], overall: [300, 3000] }),
    });
    permit(first.tryAcquire()).fail();

    c.t += 5 * MIN; // same window
    let s = new RateLimiter({ now: c.now, state: open() }).status();
    deepStrictEqual(
      [s.read.usage15, s.read.usageDay, s.read.limit15, s.read.limitDay, s.overall.usage15, s.overall.limit15],
      [41, 501, 150, 1500, 46, 300],
    );
    strictEqual(s.read.inFlight, 0);

    c.t = Date.UTC(2026, 4, 1, 12, 15); // next window: its usage is 0, the day's stays, limits stay
    s = new RateLimiter({ now: c.now, state: open() }).status();
    deepStrictEqual([s.read.usage15, s.read.usageDay, s.read.limit15], [0, 501, 150]);

    c.t = Date.UTC(2026, 4, 2, 0, 1); // next day: both 0
    s = stats(c.t);
    deepStrictEqual([s.read.usage15, s.read.usageDay, s.read.allowedDay, s.blockedUntil], [0, 0, 1350, null]);
  });
});

Deno.test("two processes at once: the larger usage of the same window wins when persisting", async () => {
  await withStore((open, stats) => {
    const c = clock();
    const a = new RateLimiter({ now: c.now, state: open() });
    const b = new RateLimiter({ now: c.now, state: open() });
    permit(a.tryAcquire()).complete({ status: 200, headers: headers([50, 700]) });
    c.t += 1000;
    permit(b.tryAcquire()).complete({ status: 200, headers: headers([30, 650]) });
    deepStrictEqual([b.status().read.usage15, b.status().read.usageDay], [50, 700]);
    const persisted = stats(c.t);
    deepStrictEqual([persisted.read.usage15, persisted.read.usageDay], [50, 700]);
    // Figures another process wrote in an earlier window count as 0 now.
    c.t = Date.UTC(2026, 4, 1, 12, 20);
    permit(a.tryAcquire()).complete({ status: 200, headers: headers([3, 703]) });
    deepStrictEqual([a.status().read.usage15, a.status().read.usageDay], [3, 703]);
  });
});

Deno.test("the budget arithmetic needs no SQLite: two limiters share one in-memory state", () => {
  const c = clock();
  const state = new MemoryRateState();
  const a = new RateLimiter({ now: c.now, state });
  const b = new RateLimiter({ now: c.now, state });
  permit(a.tryAcquire()).complete({ status: 200, headers: headers([50, 700]) });
  c.t += 1000;
  permit(b.tryAcquire()).complete({ status: 200, headers: headers([30, 650]) });
  deepStrictEqual([b.status().read.usage15, b.status().read.usageDay], [50, 700]);
  // A 429 seen by one blocks the next limiter that starts from the same state.
  permit(a.tryAcquire()).complete({ status: 429, headers: headers([101, 720]) });
  deepStrictEqual(new RateLimiter({ now: c.now, state }).tryAcquire(), {
    ok: false,
    until: Date.UTC(2026, 4, 1, 12, 15),
    reason: "rate_limited",
  });
});

Deno.test("shared store: processes reserve before sending, so together they never pass floor(limit × buffer)", () => {
  const c = clock();
  const state = new MemoryRateState();
  const procs = Array.from({ length: 4 }, () => new RateLimiter({ now: c.now, state }));
  // Each has 87 of 90 used (from a header), then all four try to send at once: only 3 may.
  permit(procs[0].tryAcquire()).complete({ status: 200, headers: headers([87, 87]) });
  const granted = procs.map((l) => l.tryAcquire()).filter((a) => a.ok);
  strictEqual(granted.length, 3);
  strictEqual(state.reservations().length, 3);
  deepStrictEqual(procs[3].tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "window" });
  // Answers arrive in any order; the figures never drop below what another process saw.
  const answers = [90, 88, 89];
  granted.forEach((a, i) => permit(a).complete({ status: 200, headers: headers([answers[i], 100]) }));
  strictEqual(state.reservations().length, 0);
  for (const l of procs) {
    ok(!l.tryAcquire().ok);
    strictEqual(l.status().read.usage15, 90);
  }
});

Deno.test("shared store: a reservation left by a killed process expires and counts as spent", () => {
  const c = clock();
  const state = new MemoryRateState();
  const killed = new RateLimiter({ now: c.now, state, reservationTtlMs: 2 * MIN });
  const alive = new RateLimiter({ now: c.now, state, reservationTtlMs: 2 * MIN });
  permit(alive.tryAcquire()).complete({ status: 200, headers: headers([89, 89]) });
  ok(killed.tryAcquire().ok, "sent, then the process was killed before the answer");
  deepStrictEqual(alive.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "window" });
  strictEqual(alive.status().read.inFlight, 1);
  c.t += 2 * MIN;
  // Expired: no longer in flight, but Strava may have counted it.
  deepStrictEqual(alive.tryAcquire(), { ok: false, until: Date.UTC(2026, 4, 1, 12, 15), reason: "window" });
  deepStrictEqual([alive.status().read.inFlight, alive.status().read.usage15], [0, 90]);
  strictEqual(state.reservations().length, 0);
  // In the next window the budget is whole again.
  c.t = Date.UTC(2026, 4, 1, 12, 15);
  ok(alive.tryAcquire().ok);
});

Deno.test("persisting inside a transaction the caller has open on its database goes to the budget store", async () => {
  await withStore((open, stats, dir) => {
    const c = clock();
    const db = openDatabase(`${dir}/segments.db`, { create: true });
    try {
      migrate(db);
      const limiter = new RateLimiter({ now: c.now, state: open() });
      const p = permit(limiter.tryAcquire());
      transaction(db, () => p.complete({ status: 200, headers: headers([7, 8]) }));
      strictEqual(stats(c.t).read.usage15, 7);
    } finally {
      db.close();
    }
  });
});

Deno.test("a budget file that cannot be opened is left as it was, and the run goes on with a budget of its own", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/strava_budget.db`;
  await Deno.writeTextFile(path, "not a database, 40 characters long....\n");
  strictEqual(openSharedBudget("client:1", path), undefined);
  strictEqual(await Deno.readTextFile(path), "not a database, 40 characters long....\n");
  strictEqual(loadBudgetStatus(T0, 0.9, path).read.usage15, 0, "stats: Strava's defaults");
});

Deno.test("loadBudgetStatus without a budget file reports defaults", () => {
  const s = loadBudgetStatus(T0, 0.5, "/nonexistent/strava_budget.db");
  deepStrictEqual([s.read.allowed15, s.read.remainingDay, s.overall.allowedDay], [50, 500, 1000]);
  deepStrictEqual([s.windowResetsAt, s.dayResetsAt], [windowStart(T0) + WINDOW_MS, dayStart(T0) + DAY_MS]);
});

Deno.test("unreadable header values are ignored, not trusted", () => {
  const c = clock();
  const limiter = new RateLimiter({ now: c.now });
  permit(limiter.tryAcquire()).complete({
    status: 200,
    headers: new Headers({ "X-Readratelimit-Limit": "lots", "X-Readratelimit-Usage": "1,2,3" }),
  });
  const s = limiter.status();
  deepStrictEqual([s.read.limit15, s.read.usage15, s.read.usageDay], [100, 1, 1]);
});
