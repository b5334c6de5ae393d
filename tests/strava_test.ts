import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { AuthError } from "../lib/errors.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { WINDOW_MS, windowStart } from "../lib/strava/rate_window.ts";
import { type SimOptions, StravaSimulator } from "../lib/testing/strava_sim.ts";
import {
  ForbiddenError,
  MalformedResponseError,
  NotFoundError,
  RateLimitedError,
  staticTokenProvider,
  StravaClient,
  StravaError,
  type TokenProvider,
  TransientError,
} from "../lib/strava/client.ts";

/** A recorded Strava response (tests/fixtures/strava, provenance in its README). */
const fixture = (name: string) => Deno.readTextFileSync(new URL(`./fixtures/strava/${name}`, import.meta.url));
const ERRORS = JSON.parse(fixture("error_responses.json"));

const API = "https://strava.test/api/v3";
const TOKEN = "sekrit-access-token-0123456789";
/** 2026-05-01 12:05:00 UTC. */
const T0 = Date.UTC(2026, 4, 1, 12, 5);

type Json = Record<string, unknown>;

/** What a handler answers: a Response, or an error to throw from fetch (a network failure). */
type Handler = (url: URL, call: number, signal: AbortSignal) => Response | Error | Promise<Response | Error>;

/** A JSON response with Strava's rate-limit headers (usage as given, default limits). */
function answer(status: number, body: string | unknown, usage: [number, number] = [1, 1]): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "X-Readratelimit-Usage": usage.join(","),
      "X-Readratelimit-Limit": "100,1000",
      "X-Ratelimit-Usage": usage.join(","),
      "X-Ratelimit-Limit": "200,2000",
    },
  });
}

/** A client over a scripted fetch; records every request and every backoff sleep. */
function setup(handler: Handler, options: { tokens?: TokenProvider; maxRetries?: number; timeoutMs?: number } = {}) {
  const clock = { t: T0 };
  const calls: { url: URL; auth: string | null }[] = [];
  const sleeps: number[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    calls.push({ url, auth: new Headers(init?.headers).get("authorization") });
    const result = await handler(url, calls.length, init!.signal!);
    if (result instanceof Error) throw result;
    return result;
  };
  const limiter = new RateLimiter({ now: () => clock.t });
  const client = new StravaClient({
    apiUrl: `${API}/`,
    tokens: options.tokens ?? staticTokenProvider(TOKEN),
    limiter,
    fetch: fetch as typeof globalThis.fetch,
    now: () => clock.t,
    sleep: (ms) => {
      sleeps.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
    random: () => 0.5,
    maxRetries: options.maxRetries,
    timeoutMs: options.timeoutMs,
  });
  return { client, calls, sleeps, limiter, clock };
}

/** Every activity request carries include_all_efforts=true; no token ever leaks into a message. */
function checkInvariants(calls: { url: URL }[], error?: unknown) {
  for (const { url } of calls) {
    if (url.pathname.startsWith("/api/v3/activities/")) {
      strictEqual(url.searchParams.get("include_all_efforts"), "true", `${url} lacks include_all_efforts=true`);
    }
  }
  if (error instanceof Error) ok(!`${error.message} ${error.stack}`.includes(TOKEN), "the token leaked into an error");
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

Deno.test("getActivity asks for all efforts and keeps the fixture's ids exact", async () => {
  const text = fixture("detailed_activity_with_segment_efforts.json");
  // Effort ids issued today exceed 2^53; the 2018 recording's do not, so give them today's size.
  let n = 0n;
  const big = text.replace(/"id": (49065\d+)/g, () => `"id": ${2n ** 60n + ++n}`);
  const { client, calls } = setup(() => answer(200, big));
  const activity = await client.getActivity(1946417534n);
  strictEqual(calls.length, 1);
  strictEqual(calls[0].url.href, `${API}/activities/1946417534?include_all_efforts=true`);
  strictEqual(calls[0].auth, `Bearer ${TOKEN}`);
  strictEqual(activity.id, 1946417534n);
  const efforts = activity.segment_efforts as Json[];
  strictEqual(efforts.length, 53);
  deepStrictEqual(efforts.slice(0, 2).map((e) => e.id), [1152921504606846977n, 1152921504606846978n]);
  ok(efforts.every((e) => typeof e.id === "bigint" && (e.id as bigint) > 2n ** 53n));
  strictEqual((efforts[0].segment as Json).id, 8457023n);
  checkInvariants(calls);
});

Deno.test("getSegment, getAthlete and listActivities send the right requests", async () => {
  const { client, calls, limiter } = setup((url) => {
    if (url.pathname === "/api/v3/segments/1109718") return answer(200, fixture("detailed_segment.json"), [2, 20]);
    if (url.pathname === "/api/v3/athlete") return answer(200, { id: 26462176, username: "x" }, [3, 21]);
    return answer(200, fixture("athlete_activities_after_before.json"), [4, 22]);
  });
  const segment = await client.getSegment(1109718n);
  strictEqual(segment.name, "E 14th St Climb");
  strictEqual((await client.getAthlete()).id, 26462176n);
  const list = await client.listActivities({ after: 1543622400, page: 2 });
  strictEqual(list.length, 7);
  ok(list.every((a) => typeof a.id === "bigint"));
  strictEqual(calls[2].url.pathname, "/api/v3/athlete/activities");
  deepStrictEqual(Object.fromEntries(calls[2].url.searchParams), { after: "1543622400", page: "2", per_page: "200" });
  await client.listActivities({ before: 1543622401, page: 1 });
  deepStrictEqual(Object.fromEntries(calls[3].url.searchParams), { before: "1543622401", page: "1", per_page: "200" });
  // The limiter learned the server's figures from every response.
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.usageDay], [4, 22]);
  checkInvariants(calls);
});

Deno.test("404 is NotFoundError, 403 is ForbiddenError; neither is retried", async () => {
  for (const [key, type] of [["404_record_not_found", NotFoundError], ["403_application_inactive", ForbiddenError]]) {
    const entry = ERRORS[key as string];
    const { client, calls, sleeps } = setup(() => answer(entry.status, entry.body));
    const err = await failure(client.getActivity(42n));
    ok(err instanceof (type as typeof StravaError), `${key}: ${err}`);
    strictEqual((err as StravaError).status, entry.status);
    ok(err.message.includes("/activities/42"));
    deepStrictEqual([calls.length, sleeps.length], [1, 0]);
    checkInvariants(calls, err);
  }
});

Deno.test("a 401 naming a missing permission is ForbiddenError, without a refresh", async () => {
  const entry = ERRORS["401_missing_scope"];
  let refreshes = 0;
  const tokens: TokenProvider = {
    accessToken: () => Promise.resolve(TOKEN),
    refreshAfterUnauthorized: () => Promise.resolve(`${refreshes++}`),
  };
  const { client, calls } = setup(() => answer(401, entry.body), { tokens });
  const err = await failure(client.getActivity(7n));
  ok(err instanceof ForbiddenError);
  strictEqual(err.missingScope, "activity:read_permission");
  strictEqual(err.status, 401);
  deepStrictEqual([calls.length, refreshes], [1, 0]);
  checkInvariants(calls, err);
});

Deno.test("a 401 refreshes the token once and retries with the new one", async () => {
  const rejected: string[] = [];
  const tokens: TokenProvider = {
    accessToken: () => Promise.resolve(TOKEN),
    refreshAfterUnauthorized: (old) => {
      rejected.push(old);
      return Promise.resolve("fresh-token");
    },
  };
  const unauthorized = ERRORS["401_authorization_error"].body;
  const ok200 = setup((_, n) => n === 1 ? answer(401, unauthorized) : answer(200, { id: 5 }), { tokens });
  strictEqual((await ok200.client.getSegment(5n)).id, 5n);
  deepStrictEqual(ok200.calls.map((c) => c.auth), [`Bearer ${TOKEN}`, "Bearer fresh-token"]);
  deepStrictEqual(rejected, [TOKEN]);

  // A second 401 after the refresh is an AuthError (exit 3), after exactly two requests.
  rejected.length = 0;
  const twice = setup(() => answer(401, unauthorized), { tokens });
  const err = await failure(twice.client.getSegment(5n));
  ok(err instanceof AuthError, String(err));
  deepStrictEqual([twice.calls.length, rejected.length], [2, 1]);
  checkInvariants(twice.calls, err);
});

Deno.test("staticTokenProvider: a 401 is an AuthError that says to run setup_auth, after one request", async () => {
  const { client, calls } = setup(() => answer(401, ERRORS["401_authorization_error"].body));
  const err = await failure(client.getAthlete());
  ok(err instanceof AuthError);
  strictEqual(err.message, "the access token was rejected or expired; run setup_auth");
  strictEqual(calls.length, 1);
  checkInvariants(calls, err);
});

Deno.test("a 429 is RateLimitedError, never retried, and the next call sends nothing", async () => {
  const entry = ERRORS["429_rate_limit_exceeded"];
  const { client, calls, sleeps, clock } = setup(() => answer(429, entry.body, [101, 400]));
  const err = await failure(client.getActivity(1n));
  ok(err instanceof RateLimitedError);
  deepStrictEqual([err.until, err.reason, err.status], [Date.UTC(2026, 4, 1, 12, 15), "rate_limited", 429]);
  deepStrictEqual([calls.length, sleeps.length], [1, 0]);
  clock.t += 60_000;
  const again = await failure(client.getSegment(2n));
  ok(again instanceof RateLimitedError);
  strictEqual(again.status, undefined);
  strictEqual(calls.length, 1, "the limiter refused: nothing was sent");
  checkInvariants(calls, err);
});

Deno.test("a spent budget refuses before sending anything", async () => {
  const { client, calls, limiter } = setup(() => answer(200, { id: 1 }));
  for (let i = 0; i < 90; i++) {
    const a = limiter.tryAcquire();
    if (!a.ok) throw new Error("budget should be open");
    a.permit.complete({ status: 200, headers: new Headers() });
  }
  const err = await failure(client.getActivity(1n));
  ok(err instanceof RateLimitedError);
  deepStrictEqual([err.reason, err.until], ["window", Date.UTC(2026, 4, 1, 12, 15)]);
  strictEqual(calls.length, 0);
});

Deno.test("5xx is retried a bounded number of times with growing, jittered backoff", async () => {
  const { client, calls, sleeps, limiter } = setup(() => answer(503, "<html>Service Unavailable</html>"), {
    maxRetries: 3,
  });
  const err = await failure(client.getSegment(9n));
  ok(err instanceof TransientError, String(err));
  strictEqual(err.status, 503);
  strictEqual(calls.length, 4, "one attempt plus three retries");
  deepStrictEqual(sleeps, [750, 1500, 3000], "1 s, 2 s, 4 s steps at jitter 0.5 → 75% of each");
  strictEqual(limiter.status().read.inFlight, 0);
  checkInvariants(calls, err);

  // A transient failure followed by success is just a success.
  const flaky = setup((_, n) => n === 1 ? answer(500, "oops") : answer(200, { id: 9 }));
  strictEqual((await flaky.client.getSegment(9n)).id, 9n);
  strictEqual(flaky.calls.length, 2);
});

Deno.test("backoff jitter stays within [50%, 100%] of each step and is capped", async () => {
  for (const random of [0, 0.999]) {
    const sleeps: number[] = [];
    const client = new StravaClient({
      apiUrl: API,
      tokens: staticTokenProvider(TOKEN),
      limiter: new RateLimiter({ now: () => T0 }),
      fetch: () => Promise.resolve(answer(502, "bad gateway")),
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
      random: () => random,
      maxRetries: 7,
    });
    await rejects(client.getSegment(1n), TransientError);
    const steps = [1000, 2000, 4000, 8000, 16000, 30000, 30000];
    sleeps.forEach((ms, i) => ok(ms >= steps[i] * 0.5 && ms <= steps[i], `${ms} for step ${steps[i]}`));
    strictEqual(sleeps.length, 7);
  }
});

Deno.test("network errors are retried, counted against the budget, then TransientError", async () => {
  const { client, calls, limiter } = setup(() => new TypeError("error sending request: connection refused"), {
    maxRetries: 2,
  });
  const err = await failure(client.getActivity(3n));
  ok(err instanceof TransientError);
  ok(err.message.includes("connection refused"), err.message);
  strictEqual(calls.length, 3);
  const s = limiter.status();
  deepStrictEqual([s.read.usage15, s.read.inFlight], [3, 0], "failed requests still count as sent");
  checkInvariants(calls, err);
});

Deno.test("a request that gets no answer times out and is retried; timers are cleared", async () => {
  // The server accepts the connection and never answers, until the client gives up.
  const hang: Handler = (_url, _n, signal) =>
    new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason as Error), { once: true }));
  const { client, calls } = setup(hang, { timeoutMs: 20, maxRetries: 1 });
  const err = await failure(client.getActivity(3n));
  ok(err instanceof TransientError, String(err));
  ok(err.message.includes("no response within 0.02 s"), err.message);
  strictEqual(calls.length, 2);

  // Headers arrive but the body stalls: the timeout covers reading the body too.
  const stall: Handler = (_url, _n, signal) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"id": '));
        signal.addEventListener("abort", () => controller.error(signal.reason), { once: true });
      },
    });
    return new Response(body, { status: 200 });
  };
  const slow = setup(stall, { timeoutMs: 20, maxRetries: 1 });
  const err2 = await failure(slow.client.getSegment(3n));
  ok(err2 instanceof TransientError, String(err2));
  ok(err2.message.includes("no response within"), err2.message);
  strictEqual(slow.calls.length, 2);
});

Deno.test("malformed 2xx bodies are MalformedResponseError and not retried", async () => {
  const cases: [string, (c: StravaClient) => Promise<unknown>, string][] = [
    ["<html>oops</html>", (c) => c.getActivity(1n), "not valid JSON"],
    ['{"id": 1', (c) => c.getActivity(1n), "not valid JSON"],
    ["", (c) => c.getSegment(1n), "not valid JSON"],
    ["[]", (c) => c.getActivity(1n), "expected a JSON object"],
    ['{"name": "no id"}', (c) => c.getSegment(1n), "no integer id"],
    ['{"id": "1"}', (c) => c.getAthlete(), "no integer id"],
    ['{"id": 2}', (c) => c.getActivity(1n), "answered with record 2"],
    ['{"id": 1}', (c) => c.listActivities({ page: 1 }), "expected a JSON array"],
    ['[{"id": 1}, {"name": "x"}]', (c) => c.listActivities({ page: 1 }), "no integer id"],
  ];
  for (const [body, call, message] of cases) {
    const { client, calls, sleeps } = setup(() => answer(200, body));
    const err = await failure(call(client));
    ok(err instanceof MalformedResponseError, `${body}: ${err}`);
    ok(err.message.includes(message), `${body}: ${err.message}`);
    deepStrictEqual([calls.length, sleeps.length], [1, 0]);
  }
});

Deno.test("other 4xx answers are a plain StravaError, not retried", async () => {
  const entry = ERRORS["400_token_invalid_client"];
  const { client, calls } = setup(() => answer(400, entry.body));
  const err = await failure(client.listActivities({ page: 1 }));
  ok(err instanceof StravaError && !(err instanceof TransientError));
  strictEqual(err.status, 400);
  ok(err.message.includes("Bad Request"));
  strictEqual(calls.length, 1);
});

Deno.test("bad arguments are refused before any request", async () => {
  const { client, calls } = setup(() => answer(200, { id: 1 }));
  await rejects(client.getActivity(0n), TypeError);
  await rejects(client.getActivity(5 as unknown as bigint), TypeError);
  await rejects(client.listActivities({ page: 0 }), TypeError);
  await rejects(client.listActivities({ before: -1, page: 1 }), TypeError);
  await rejects(client.listActivities({ page: 1, perPage: 201 }), TypeError);
  strictEqual(calls.length, 0);
});

Deno.test("each retry asks the provider for the token again (a long backoff can outlast one)", async () => {
  let n = 0;
  const tokens: TokenProvider = {
    accessToken: () => Promise.resolve(`token-${++n}`),
    refreshAfterUnauthorized: () => Promise.reject(new AuthError("no")),
  };
  const { client, calls } = setup((_, call) => call === 1 ? answer(503, "down") : answer(200, { id: 8 }), { tokens });
  strictEqual((await client.getSegment(8n)).id, 8n);
  deepStrictEqual(calls.map((c) => c.auth), ["Bearer token-1", "Bearer token-2"]);
});

// ---- Against the project's Strava simulator, over real HTTP on 127.0.0.1 ----

/**
 * A client on the simulator's socket. Simulator and limiter share a clock standing still at
 * 12:05 UTC, so no test meets a window edge; backoff sleeps are recorded, not waited.
 */
async function simSetup(options: SimOptions = {}, client: { timeoutMs?: number; maxRetries?: number } = {}) {
  const now = () => T0;
  const sim = await StravaSimulator.start({ now, ...options });
  const { access_token } = sim.issueTokens(options.scope);
  const limiter = new RateLimiter({ now });
  const sleeps: number[] = [];
  const strava = new StravaClient({
    apiUrl: sim.apiUrl,
    tokens: staticTokenProvider(access_token),
    limiter,
    sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    ...client,
  });
  return { sim, limiter, strava, sleeps, token: access_token };
}

Deno.test("simulator: an activity with all its efforts, ids above 2^53 exact, usage from Strava's headers", async () => {
  const { sim, limiter, strava } = await simSetup();
  await using _ = sim;
  const truth = sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length > 3)!;
  const activity = await strava.getActivity(truth.id);
  strictEqual(activity.id, truth.id);
  const efforts = activity.segment_efforts as Json[];
  deepStrictEqual(efforts.map((e) => e.id), truth.effortIds);
  ok(truth.effortIds.every((id) => id > 2n ** 53n));
  strictEqual(sim.requests.length, 1);
  strictEqual(sim.requests[0].query, "include_all_efforts=true");
  const usage = sim.rateUsage();
  deepStrictEqual([limiter.status().read.usage15, limiter.status().read.usageDay], [usage.read15, usage.readDay]);
});

Deno.test("simulator: listing pages returns every listed activity with exact ids", async () => {
  const { sim, strava } = await simSetup({ activities: 45 });
  await using _ = sim;
  const seen: bigint[] = [];
  for (let page = 1;; page++) {
    const list = await strava.listActivities({ after: 0, page, perPage: 20 });
    seen.push(...list.map((a) => a.id as bigint));
    if (list.length < 20) break;
  }
  const listed = sim.truth.activities.filter((a) => !a.deleted).map((a) => a.id);
  deepStrictEqual(seen.toSorted((a, b) => (a < b ? -1 : 1)), listed);
  ok(sim.requests.every((r) => /per_page=20/.test(r.query) && /after=0/.test(r.query)));
});

Deno.test("simulator: 503 twice then success; a dropped connection is retried; bodies all consumed", async () => {
  const { sim, strava, sleeps } = await simSetup();
  await using _ = sim;
  const id = sim.truth.activities.find((a) => !a.deleted && !a.private)!.id;
  sim.addFault({ path: /\/activities\//, kind: "503", times: 2 });
  strictEqual((await strava.getActivity(id)).id, id);
  deepStrictEqual(sim.requests.map((r) => r.status), [503, 503, 200]);
  strictEqual(sleeps.length, 2);
  sim.addFault({ path: /\/activities\//, kind: "drop" });
  strictEqual((await strava.getActivity(id)).id, id);
  strictEqual(sim.requests.length, 5);
});

Deno.test("simulator: a truncated body is MalformedResponseError, not retried", async () => {
  const { sim, strava } = await simSetup();
  await using _ = sim;
  const id = sim.truth.activities.find((a) => !a.deleted && !a.private)!.id;
  sim.addFault({ path: /\/activities\//, kind: "malformed" });
  await rejects(strava.getActivity(id), MalformedResponseError);
  strictEqual(sim.requests.length, 1);
});

Deno.test("simulator: a slow answer times out, is retried a bounded number of times, then TransientError", async () => {
  const { sim, strava } = await simSetup({}, { timeoutMs: 150, maxRetries: 1 });
  await using _ = sim;
  sim.addFault({ path: /\/segments\//, kind: "slow", delayMs: 60_000, times: 2 });
  const segment = [...sim.truth.segments.keys()][0];
  const err = await failure(strava.getSegment(segment));
  ok(err instanceof TransientError, String(err));
  strictEqual(sim.requests.length, 2);
});

Deno.test("simulator: a 429 is not retried and the limiter then sends nothing until the window turns", async () => {
  const { sim, strava, limiter } = await simSetup();
  await using _ = sim;
  const id = sim.truth.activities.find((a) => !a.deleted && !a.private)!.id;
  sim.addFault({ kind: "429" });
  const err = await failure(strava.getActivity(id));
  ok(err instanceof RateLimitedError);
  strictEqual(err.status, 429);
  strictEqual(err.until, windowStart(T0) + WINDOW_MS);
  await rejects(strava.getSegment(1n), RateLimitedError);
  strictEqual(sim.requests.length, 1);
  strictEqual(limiter.status().blockedUntil, err.until);
});

Deno.test("simulator: the limiter stops at 90% of the server's figures, whatever they are", async () => {
  // Another process already spent 87 of this window's 100 reads.
  const { sim, strava } = await simSetup({ usage: { read15: 87, all15: 87 } });
  await using _ = sim;
  const ids = sim.truth.activities.filter((a) => !a.deleted && !a.private).map((a) => a.id);
  let fetched = 0;
  let refusal: RateLimitedError | undefined;
  for (const id of ids) {
    try {
      await strava.getActivity(id);
      fetched++;
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      refusal = err;
      break;
    }
  }
  // The first answer told the limiter about the other process: 88, 89, 90 of 90 allowed.
  strictEqual(fetched, 3);
  deepStrictEqual([refusal?.reason, refusal?.status], ["window", undefined]);
  strictEqual(sim.rateUsage().read15, 90);
  const sent = sim.requests.length;
  await rejects(strava.getActivity(ids[0]), RateLimitedError);
  strictEqual(sim.requests.length, sent, "refused without sending");
});

Deno.test("simulator: a token without activity:read is Forbidden (missing scope); a revoked one is AuthError", async () => {
  const { sim, strava } = await simSetup({ scope: "read" });
  await using _ = sim;
  const id = sim.truth.activities.find((a) => !a.deleted)!.id;
  const err = await failure(strava.getActivity(id));
  ok(err instanceof ForbiddenError, String(err));
  strictEqual(err.missingScope, "activity:read_permission");

  sim.revokeAccessTokens();
  const err2 = await failure(strava.getAthlete());
  ok(err2 instanceof AuthError, String(err2));
  strictEqual(sim.requests.length, 2);
});

Deno.test("simulator: a deleted activity is NotFoundError", async () => {
  const { sim, strava } = await simSetup({ activities: 120 });
  await using _ = sim;
  const deleted = sim.truth.activities.find((a) => a.deleted);
  ok(deleted, "the seeded athlete has a deleted activity");
  await rejects(strava.getActivity(deleted.id), NotFoundError);
});
