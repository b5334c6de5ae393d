import { deepStrictEqual, notDeepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { isInteger, isLosslessNumber, isSafeNumber, parse } from "lossless-json";
import {
  DEFAULT_SCOPE,
  EFFORTS_WITHOUT_INCLUDE_ALL,
  expectedBackfill,
  type Json,
  segmentOutcome,
  StravaSimulator,
  toJsonText,
} from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";

const TWO_53 = 2n ** 53n;
const WINDOW = 15 * 60 * 1000;

/** Lossless parse with the project's convention (lib/json.ts): id and *_id integers are bigint. */
function parseExact(text: string): unknown {
  return parse(text, (key, value) => {
    if (!isLosslessNumber(value)) return value;
    if (isInteger(value.value) && (key === "id" || key.endsWith("_id") || !isSafeNumber(value.value))) {
      return BigInt(value.value);
    }
    return Number(value.value);
  });
}

async function get(
  sim: StravaSimulator,
  path: string,
  token?: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const res = await fetch(`${sim.apiUrl}${path}`, { ...init, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(form) });
  return { status: res.status, body: JSON.parse(await res.text()) };
}

Deno.test("sim data: the same seed gives the same athlete, another seed a different one", () => {
  const a = StravaSimulator.inProcess({ seed: 7, activities: 80, segments: 30 });
  const b = StravaSimulator.inProcess({ seed: 7, activities: 80, segments: 30 });
  const c = StravaSimulator.inProcess({ seed: 8, activities: 80, segments: 30 });
  const text = (s: StravaSimulator) =>
    toJsonText({
      athlete: s.truth.athlete,
      activities: s.truth.activities.map((x) => [x.summary, x.detail, x.deleted]),
      segments: [...s.truth.segments],
      notFound: [...s.truth.notFoundSegments],
    });
  strictEqual(text(a), text(b));
  notDeepStrictEqual(text(a), text(c));
  strictEqual(a.issueTokens().access_token, b.issueTokens().access_token);
});

Deno.test("sim data: every kind of activity, shared and unavailable segments, effort ids above 2^53", () => {
  const sim = StravaSimulator.inProcess({ seed: 3, activities: 200, segments: 40 });
  const t = sim.truth;
  strictEqual(t.activities.length, 200);
  const has = (pred: (a: typeof t.activities[number]) => boolean) => t.activities.some(pred);
  ok(has((a) => a.manual && !a.hasGps && a.effortIds.length === 0), "manual without GPS or efforts");
  ok(has((a) => a.trainer && !a.hasGps && a.effortIds.length === 0), "trainer ride without GPS");
  ok(has((a) => a.type === "VirtualRide" && a.effortIds.length > 0), "virtual ride with efforts");
  ok(has((a) => a.type === "Run" && a.effortIds.length > 0), "run with efforts");
  ok(has((a) => a.private && !a.deleted), "private");
  ok(has((a) => a.deleted), "deleted");
  for (let i = 1; i < t.activities.length; i++) {
    ok(t.activities[i].startEpoch > t.activities[i - 1].startEpoch);
    ok(t.activities[i].id > t.activities[i - 1].id);
  }
  const uses = new Map<bigint, number>();
  for (const a of t.activities) for (const s of new Set(a.segmentIds)) uses.set(s, (uses.get(s) ?? 0) + 1);
  ok(Math.max(...uses.values()) >= 10, "popular segments are ridden often");
  ok(t.notFoundSegments.size >= 1 && t.privateSegments.size >= 1);
  const efforts = t.activities.flatMap((a) => a.detail.segment_efforts as Json[]);
  ok(efforts.length > 300);
  ok(efforts.every((e) => typeof e.id === "bigint" && (e.id as bigint) > TWO_53));
  strictEqual(new Set(efforts.map((e) => e.id)).size, efforts.length, "effort ids are unique");
  for (const e of efforts) {
    for (const key of ["resource_state", "name", "elapsed_time", "moving_time", "start_date", "start_date_local"]) {
      ok(key in e, key);
    }
    for (const key of ["distance", "start_index", "end_index", "device_watts", "pr_rank", "achievements"]) ok(key in e);
    for (const key of ["kom_rank", "hidden", "segment", "activity", "athlete"]) ok(key in e, key);
  }
  // Every segment referenced exists in the truth as a detail, or is known to answer 404.
  for (const id of uses.keys()) ok(t.segments.has(id) || t.notFoundSegments.has(id));
  const seg = t.segments.values().next().value as Json;
  for (const key of ["total_elevation_gain", "effort_count", "athlete_count", "star_count", "created_at", "xoms"]) {
    ok(key in seg, key);
  }
  ok(typeof (seg.map as Json).polyline === "string" && "local_legend" in seg && "updated_at" in seg);
});

Deno.test("sim: effort ids above 2^53 are written exactly in the JSON text", async () => {
  await using sim = await StravaSimulator.start({ seed: 2 });
  const { access_token } = sim.issueTokens();
  const activity = sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length > 3)!;
  const res = await get(sim, `/activities/${activity.id}?include_all_efforts=true`, access_token);
  strictEqual(res.status, 200);
  for (const id of activity.effortIds) ok(res.text.includes(`"id":${id},`), `exact digits of ${id}`);
  // A float parse would have rounded at least one of them: the test would catch a lossy client.
  const floats = (JSON.parse(res.text).segment_efforts as { id: number }[]).map((e) => BigInt(e.id));
  ok(floats.some((f, i) => f !== activity.effortIds[i]));
  deepStrictEqual(parseExact(res.text), activity.detail);
});

Deno.test("sim: include_all_efforts decides whether all efforts come back", async () => {
  await using sim = await StravaSimulator.start({ seed: 4 });
  const { access_token } = sim.issueTokens();
  const activity = sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length > 5)!;
  const partial = await get(sim, `/activities/${activity.id}`, access_token);
  const full = await get(sim, `/activities/${activity.id}?include_all_efforts=true`, access_token);
  strictEqual((parseExact(partial.text) as Json & { segment_efforts: unknown[] }).segment_efforts.length, 3);
  strictEqual(EFFORTS_WITHOUT_INCLUDE_ALL, 3);
  deepStrictEqual(
    (parseExact(full.text) as { segment_efforts: Json[] }).segment_efforts.map((e) => e.id),
    activity.effortIds,
  );
});

Deno.test("sim: private, deleted and hidden records answer like Strava for each scope", async () => {
  await using sim = await StravaSimulator.start({ seed: 5, activities: 120 });
  const t = sim.truth;
  const all = sim.issueTokens("read,activity:read_all").access_token;
  const pub = sim.issueTokens("read,activity:read").access_token;
  const none = sim.issueTokens("read").access_token;
  const priv = t.activities.find((a) => a.private && !a.deleted)!;
  const deleted = t.activities.find((a) => a.deleted)!;

  strictEqual((await get(sim, `/activities/${priv.id}`, all)).status, 200);
  const hidden = await get(sim, `/activities/${priv.id}`, pub);
  strictEqual(hidden.status, 404);
  const notFound = { message: "Record Not Found", errors: [{ resource: "Activity", field: "id", code: "invalid" }] };
  deepStrictEqual(JSON.parse(hidden.text), notFound);
  deepStrictEqual(JSON.parse((await get(sim, `/activities/${deleted.id}`, all)).text), notFound);
  const noScope = await get(sim, `/activities/${priv.id}`, none);
  strictEqual(noScope.status, 401);
  deepStrictEqual(JSON.parse(noScope.text), {
    message: "Authorization Error",
    errors: [{ resource: "AccessToken", field: "activity:read_permission", code: "missing" }],
  });
  strictEqual((await get(sim, "/athlete/activities", none)).status, 401);

  const listed = async (token: string) => {
    const ids: bigint[] = [];
    for (let page = 1;; page++) {
      const items = parseExact((await get(sim, `/athlete/activities?page=${page}&per_page=50`, token)).text) as Json[];
      if (items.length === 0) return ids;
      ids.push(...items.map((i) => i.id as bigint));
    }
  };
  const expectAll = expectedBackfill(t, "read,activity:read_all").activities.map((a) => a.id).reverse();
  deepStrictEqual(await listed(all), expectAll);
  ok(expectAll.includes(priv.id) && !expectAll.includes(deleted.id));
  const expectPub = expectedBackfill(t, "read,activity:read").activities.map((a) => a.id).reverse();
  deepStrictEqual(await listed(pub), expectPub);
  ok(!expectPub.includes(priv.id));

  const gone = [...t.notFoundSegments][0];
  const res404 = await get(sim, `/segments/${gone}`, all);
  strictEqual(res404.status, 404);
  deepStrictEqual(JSON.parse(res404.text).errors[0], { resource: "Segment", field: "id", code: "invalid" });
  const privSeg = [...t.privateSegments][0];
  strictEqual((await get(sim, `/segments/${privSeg}`, all)).status, 403);
  const readAll = sim.issueTokens("read,read_all,activity:read_all").access_token;
  const seg = await get(sim, `/segments/${privSeg}`, readAll);
  strictEqual(seg.status, 200);
  deepStrictEqual(parseExact(seg.text), t.segments.get(privSeg));
  strictEqual(segmentOutcome(t, privSeg, DEFAULT_SCOPE), "forbidden");
  strictEqual(segmentOutcome(t, privSeg, "read,read_all"), "ok");
  strictEqual(segmentOutcome(t, gone, "read,read_all"), "not_found");
});

Deno.test("sim: listing pages, per_page cap and order by after/before", async () => {
  await using sim = await StravaSimulator.start({ seed: 6, activities: 450 });
  const token = sim.issueTokens().access_token;
  const visible = expectedBackfill(sim.truth).activities;
  const page = async (q: string) =>
    (parseExact((await get(sim, `/athlete/activities?${q}`, token)).text) as Json[]).map((a) => a.id as bigint);
  const capped = await page("per_page=500");
  strictEqual(capped.length, 200);
  deepStrictEqual(capped, visible.slice(-200).map((a) => a.id).reverse(), "newest first by default");
  strictEqual((await page("")).length, 30, "default per_page is 30");
  const pivot = visible[100];
  const after = await page(`after=${pivot.startEpoch}&per_page=200`);
  deepStrictEqual(after, visible.slice(101, 301).map((a) => a.id), "after alone: oldest first, exclusive");
  const between = await page(`after=${visible[10].startEpoch}&before=${visible[20].startEpoch}`);
  deepStrictEqual(between, visible.slice(11, 20).map((a) => a.id).reverse());
  const bad = await get(sim, "/athlete/activities?after=yesterday", token);
  strictEqual(bad.status, 400);
});

Deno.test("sim: rate limit headers, 429 at the limit, reset at the window boundary and at midnight", async () => {
  const clock = new VirtualClock(Date.UTC(2026, 4, 1, 23, 44, 0));
  await using sim = await StravaSimulator.start({
    now: clock.now,
    limits: { read15: 3, readDay: 5 },
    usage: { readDay: 1, allDay: 1 },
  });
  const token = sim.issueTokens().access_token;
  const usage = (h: Headers) => [h.get("x-readratelimit-usage"), h.get("x-ratelimit-usage")];
  for (let i = 1; i <= 3; i++) {
    const r = await get(sim, "/athlete", token);
    strictEqual(r.status, 200);
    deepStrictEqual(usage(r.headers), [`${i},${i + 1}`, `${i},${i + 1}`]);
    strictEqual(r.headers.get("x-readratelimit-limit"), "3,5");
    strictEqual(r.headers.get("x-ratelimit-limit"), "200,2000");
  }
  const limited = await get(sim, "/athlete", token);
  strictEqual(limited.status, 429);
  deepStrictEqual(JSON.parse(limited.text), {
    message: "Rate Limit Exceeded",
    errors: [{ resource: "Application", field: "rate limit", code: "exceeded" }],
  });
  deepStrictEqual(usage(limited.headers), ["4,5", "4,5"], "a refused request counts too");
  strictEqual(limited.headers.get("date"), "Fri, 01 May 2026 23:44:00 GMT", "Date follows the injected clock");
  // Errors carry the headers as well.
  const unauthorized = await get(sim, "/athlete", "nope");
  strictEqual(unauthorized.status, 429);
  strictEqual(unauthorized.headers.get("x-readratelimit-usage"), "5,6");

  clock.advanceTo(Date.UTC(2026, 4, 1, 23, 45, 0) - 1);
  strictEqual((await get(sim, "/athlete", token)).status, 429, "still the same window");
  clock.advanceTo(Date.UTC(2026, 4, 1, 23, 45, 0));
  const daily = await get(sim, "/athlete", token);
  strictEqual(daily.status, 429, "the daily budget is spent until midnight UTC");
  deepStrictEqual(usage(daily.headers), ["1,8", "1,8"]);
  clock.advanceTo(Date.UTC(2026, 4, 2, 0, 0, 0));
  const fresh = await get(sim, "/athlete", token);
  strictEqual(fresh.status, 200);
  deepStrictEqual(usage(fresh.headers), ["1,1", "1,1"]);
  deepStrictEqual(sim.rateUsage(), { read15: 1, readDay: 1, all15: 1, allDay: 1 });
  const oauth = await postForm(`${sim.oauthUrl}/token`, { client_id: "x" });
  strictEqual(oauth.status, 400);
  deepStrictEqual(sim.rateUsage().allDay, 1, "OAuth requests do not count");
});

Deno.test("sim: with a skewed Strava clock, windows and the Date header follow Strava's clock", async () => {
  const clock = new VirtualClock(Date.UTC(2026, 4, 1, 9, 14, 30));
  await using sim = await StravaSimulator.start({ now: clock.now, clockSkewMs: 20_000, usage: { read15: 7 } });
  const token = sim.issueTokens().access_token;
  const r = await get(sim, "/athlete", token);
  strictEqual(r.headers.get("date"), "Fri, 01 May 2026 09:14:50 GMT");
  strictEqual(r.headers.get("x-readratelimit-usage"), "8,1", "counted in Strava's 09:00 window");
  clock.advance(15_000); // 09:14:45 here, 09:15:05 at Strava: a new window there
  strictEqual((await get(sim, "/athlete", token)).headers.get("x-readratelimit-usage"), "1,2");
});

Deno.test("sim: OAuth code grant, single-use codes, consent, and refresh rotation", async () => {
  const clock = new VirtualClock();
  await using sim = await StravaSimulator.start({ now: clock.now, clientId: "777", clientSecret: "s3cret" });
  const authorize = async (q: Record<string, string>) => {
    const res = await fetch(`${sim.oauthUrl}/authorize?${new URLSearchParams(q)}`, { redirect: "manual" });
    const text = await res.text();
    return { status: res.status, location: res.headers.get("location"), text };
  };
  const base = {
    client_id: "777",
    redirect_uri: "http://127.0.0.1:8721/callback",
    response_type: "code",
    approval_prompt: "force",
    scope: "read,activity:read_all",
    state: "st8",
  };
  const ok1 = await authorize(base);
  strictEqual(ok1.status, 302);
  const loc = new URL(ok1.location!);
  strictEqual(loc.origin + loc.pathname, "http://127.0.0.1:8721/callback");
  strictEqual(loc.searchParams.get("state"), "st8");
  strictEqual(loc.searchParams.get("scope"), "read,activity:read_all");
  const code = loc.searchParams.get("code")!;
  ok(/^[0-9a-f]{40}$/.test(code));

  deepStrictEqual(JSON.parse((await authorize({ ...base, client_id: "1" })).text), {
    message: "Bad Request",
    errors: [{ resource: "Application", field: "client_id", code: "invalid" }],
  });
  strictEqual((await authorize({ ...base, redirect_uri: "http://evil.example/cb" })).status, 400);
  strictEqual((await authorize({ ...base, scope: "view_private" })).status, 400);
  strictEqual((await authorize({ ...base, response_type: "token" })).status, 400);

  const token = `${sim.oauthUrl}/token`;
  const wrongSecret = await postForm(token, {
    client_id: "777",
    client_secret: "x",
    code,
    grant_type: "authorization_code",
  });
  strictEqual(wrongSecret.status, 400);
  const exchanged = await postForm(token, {
    client_id: "777",
    client_secret: "s3cret",
    code,
    grant_type: "authorization_code",
  });
  strictEqual(exchanged.status, 200);
  deepStrictEqual(Object.keys(exchanged.body), [
    "token_type",
    "expires_at",
    "expires_in",
    "refresh_token",
    "access_token",
    "athlete",
  ]);
  strictEqual(exchanged.body.expires_at, Math.floor(clock.now() / 1000) + 21600);
  strictEqual((exchanged.body.athlete as Json).id, Number(sim.truth.athleteId));
  const reused = await postForm(token, {
    client_id: "777",
    client_secret: "s3cret",
    code,
    grant_type: "authorization_code",
  });
  strictEqual(reused.status, 400);
  deepStrictEqual(reused.body.errors, [{ resource: "RequestToken", field: "code", code: "invalid" }]);

  const refresh1 = exchanged.body.refresh_token as string;
  const rotated = await postForm(token, {
    client_id: "777",
    client_secret: "s3cret",
    grant_type: "refresh_token",
    refresh_token: refresh1,
  });
  strictEqual(rotated.status, 200);
  ok(!("athlete" in rotated.body));
  notDeepStrictEqual(rotated.body.refresh_token, refresh1);
  notDeepStrictEqual(rotated.body.access_token, exchanged.body.access_token);
  const old = await postForm(token, {
    client_id: "777",
    client_secret: "s3cret",
    grant_type: "refresh_token",
    refresh_token: refresh1,
  });
  strictEqual(old.status, 400);
  deepStrictEqual(old.body.errors, [{ resource: "RefreshToken", field: "refresh_token", code: "invalid" }]);
  strictEqual(sim.validRefreshTokens(), 1);
  strictEqual((await get(sim, "/athlete", rotated.body.access_token as string)).status, 200);

  sim.revokeRefreshTokens();
  const revoked = await postForm(token, {
    client_id: "777",
    client_secret: "s3cret",
    grant_type: "refresh_token",
    refresh_token: rotated.body.refresh_token as string,
  });
  strictEqual(revoked.status, 400);

  // The user unticks activity:read_all, then cancels.
  sim.setConsent({ scope: "read,activity:read" });
  const unticked = new URL((await authorize(base)).location!);
  strictEqual(unticked.searchParams.get("scope"), "read");
  sim.setConsent({ deny: true });
  const denied = new URL((await authorize(base)).location!);
  strictEqual(denied.searchParams.get("error"), "access_denied");
  strictEqual(denied.searchParams.get("code"), null);
  strictEqual(denied.searchParams.get("state"), "st8");

  // No secret, code or token is recorded in the request log.
  const log = JSON.stringify(sim.requests);
  for (const secret of [code, "s3cret", refresh1, exchanged.body.access_token as string]) ok(!log.includes(secret));
});

Deno.test("sim: access tokens expire by the injected clock", async () => {
  const clock = new VirtualClock();
  await using sim = await StravaSimulator.start({ now: clock.now, accessTokenTtlSeconds: 600 });
  const { access_token, expires_at } = sim.issueTokens();
  strictEqual(expires_at, Math.floor(clock.now() / 1000) + 600);
  strictEqual((await get(sim, "/athlete", access_token)).status, 200);
  clock.advance(600_000);
  const expired = await get(sim, "/athlete", access_token);
  strictEqual(expired.status, 401);
  deepStrictEqual(JSON.parse(expired.text), {
    message: "Authorization Error",
    errors: [{ resource: "Athlete", field: "access_token", code: "invalid" }],
  });
  const missing = await get(sim, "/athlete");
  strictEqual(missing.status, 401);
  deepStrictEqual(JSON.parse(missing.text).errors, [{ resource: "Application", field: "", code: "invalid" }]);
  deepStrictEqual(sim.requests.map((r) => r.auth), ["token#1", "token#1:expired", "none"]);
});

Deno.test("sim: faults 500, 503, malformed and 429 hit only matching requests, `times` times", async () => {
  const clock = new VirtualClock(Date.UTC(2026, 4, 1, 10, 0, 0));
  await using sim = await StravaSimulator.start({ now: clock.now });
  const token = sim.issueTokens().access_token;
  const seg = [...sim.truth.segments.keys()].find((id) => !sim.truth.privateSegments.has(id))!;
  sim.addFault({ path: /\/segments\//, kind: "500", times: 2 });
  strictEqual((await get(sim, "/athlete", token)).status, 200, "other paths are untouched");
  strictEqual((await get(sim, `/segments/${seg}`, token)).status, 500);
  strictEqual((await get(sim, `/segments/${seg}`, token)).status, 500);
  strictEqual((await get(sim, `/segments/${seg}`, token)).status, 200);

  sim.addFault({ kind: "503" });
  const unavailable = await get(sim, "/athlete", token);
  strictEqual(unavailable.status, 503);
  ok(unavailable.headers.get("x-ratelimit-usage"));

  sim.addFault({ kind: "malformed" });
  const malformed = await get(sim, `/segments/${seg}`, token);
  strictEqual(malformed.status, 200);
  let threw = false;
  try {
    JSON.parse(malformed.text);
  } catch {
    threw = true;
  }
  ok(threw && malformed.text.length > 10, "a truncated body that is not JSON");

  sim.addFault({ kind: "429" });
  const forced = await get(sim, "/athlete", token);
  strictEqual(forced.status, 429);
  strictEqual(JSON.parse(forced.text).message, "Rate Limit Exceeded");
  strictEqual((await get(sim, "/athlete", token)).status, 429, "the window is spent, not just one answer");
  clock.advance(WINDOW);
  strictEqual((await get(sim, "/athlete", token)).status, 200);
  strictEqual(sim.pendingFaults(), 0);
  deepStrictEqual(
    sim.requests.map((r) => [r.status, r.fault]),
    [
      [200, undefined],
      [500, "500"],
      [500, "500"],
      [200, undefined],
      [503, "503"],
      [200, "malformed"],
      [429, "429"],
      [429, undefined],
      [200, undefined],
    ],
  );
});

Deno.test("sim: a dropped connection fails the client's request, over the socket and in-process", async () => {
  await using sim = await StravaSimulator.start();
  const token = sim.issueTokens().access_token;
  sim.addFault({ kind: "drop", path: /^\/api\/v3\/athlete$/ });
  await rejects(async () => {
    const res = await fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } });
    await res.text();
  }, TypeError);
  sim.addFault({ kind: "drop" });
  await rejects(sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } }), TypeError);
  deepStrictEqual(sim.requests.map((r) => [r.status, r.fault]), [[0, "drop"], [0, "drop"]]);
  const after = await sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } });
  strictEqual(after.status, 200);
  await after.body?.cancel();
});

Deno.test("sim: a slow answer arrives late, and a client that gives up leaves no timer behind", async () => {
  await using sim = await StravaSimulator.start();
  const token = sim.issueTokens().access_token;
  const headers = { Authorization: `Bearer ${token}` };
  sim.addFault({ kind: "slow", delayMs: 40 });
  const started = performance.now();
  const late = await sim.fetch(`${sim.apiUrl}/athlete`, { headers });
  ok(performance.now() - started >= 35);
  strictEqual(late.status, 200);
  await late.body?.cancel();

  sim.addFault({ kind: "slow", delayMs: 60_000, times: 2 });
  await rejects(
    sim.fetch(`${sim.apiUrl}/athlete`, { headers, signal: AbortSignal.timeout(30) }),
    (e: Error) => e.name === "TimeoutError",
  );
  await rejects(
    fetch(`${sim.apiUrl}/athlete`, { headers, signal: AbortSignal.timeout(30) }),
    (e: Error) => e.name === "TimeoutError",
  );
  // The server notices the socket client leaving and drops its 60 s timer at once.
  for (let i = 0; i < 200 && sim.pendingDelays() > 0; i++) await new Promise((r) => setTimeout(r, 5));
  strictEqual(sim.pendingDelays(), 0);
  deepStrictEqual(sim.requests.map((r) => [r.status, r.fault]), [[200, "slow"], [0, "slow"], [0, "slow"]]);
});

Deno.test("sim: close abandons pending slow answers promptly", async () => {
  const sim = await StravaSimulator.start();
  const token = sim.issueTokens().access_token;
  sim.addFault({ kind: "slow", delayMs: 60_000 });
  const pending = sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } })
    .then(() => "answered", (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 5));
  strictEqual(sim.pendingDelays(), 1);
  const started = performance.now();
  await sim.close();
  ok((await pending) instanceof TypeError);
  strictEqual(sim.pendingDelays(), 0);
  ok(performance.now() - started < 5000);
  await sim.close();
  await rejects(sim.fetch(`${sim.apiUrl}/athlete`), TypeError);
});

Deno.test("sim: the request log records method, path, scrubbed query, status, time and auth marker", async () => {
  const clock = new VirtualClock();
  await using sim = await StravaSimulator.start({ now: clock.now });
  const { access_token } = sim.issueTokens();
  await get(sim, "/athlete/activities?after=0&per_page=2", access_token);
  clock.advance(1000);
  const res = await fetch(`${sim.apiUrl}/athlete?access_token=${access_token}`);
  await res.body?.cancel();
  deepStrictEqual(sim.requests, [
    {
      method: "GET",
      path: "/api/v3/athlete/activities",
      query: "after=0&per_page=2",
      status: 200,
      at: clock.now() - 1000,
      auth: "token#1",
    },
    {
      method: "GET",
      path: "/api/v3/athlete",
      query: "access_token=[redacted]",
      status: 200,
      at: clock.now(),
      auth: "token#1",
    },
  ]);
});

Deno.test("sim: in-process fetch answers like the socket and refuses other hosts", async () => {
  const sim = StravaSimulator.inProcess({ seed: 9 });
  const token = sim.issueTokens().access_token;
  strictEqual(sim.port, 0);
  const res = await sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } });
  strictEqual(res.status, 200);
  deepStrictEqual(parseExact(await res.text()), sim.truth.athleteSummary);
  await rejects(sim.fetch("http://127.0.0.1:1/api/v3/athlete"), TypeError);
  const detailed = sim.issueTokens("read,profile:read_all").access_token;
  const full = await sim.handle(
    new Request(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${detailed}` } }),
  );
  deepStrictEqual(parseExact(await full.text()), sim.truth.athlete);
  await sim.close();
});

Deno.test("sim: new and deleted activities show up in listings and the truth", async () => {
  await using sim = await StravaSimulator.start({ seed: 11, activities: 20 });
  const token = sim.issueTokens().access_token;
  const newest = expectedBackfill(sim.truth).activities.at(-1)!;
  const added = sim.addActivities(3);
  ok(added.every((a) => a.startEpoch > newest.startEpoch));
  const since = parseExact((await get(sim, `/athlete/activities?after=${newest.startEpoch}`, token)).text) as Json[];
  deepStrictEqual(since.map((a) => a.id), added.filter((a) => !a.deleted).map((a) => a.id));
  sim.deleteActivity(added[0].id);
  strictEqual((await get(sim, `/activities/${added[0].id}`, token)).status, 404);
  ok(!expectedBackfill(sim.truth).activities.includes(added[0]));
});
