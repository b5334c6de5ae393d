import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import {
  DEFAULT_SCOPE,
  EFFORTS_WITHOUT_INCLUDE_ALL,
  expectedBackfill,
  type Json,
  segmentOutcome,
  StravaSimulator,
} from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { get, parseExact, postForm } from "./sim_helpers.ts";

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
  // Strava's clock jumps 2 hours back (the world changes under a running backfill).
  sim.setClockSkew(-2 * 3600_000);
  strictEqual((await get(sim, "/athlete", token)).headers.get("date"), "Fri, 01 May 2026 07:14:45 GMT");
});

Deno.test("sim: limits changed while running are enforced and sent at once", async () => {
  const clock = new VirtualClock(Date.UTC(2026, 4, 1, 9, 5));
  await using sim = await StravaSimulator.start({ now: clock.now });
  const token = sim.issueTokens().access_token;
  sim.setRateLimits({ read15: 1 });
  const first = await get(sim, "/athlete", token);
  deepStrictEqual([first.status, first.headers.get("x-readratelimit-limit")], [200, "1,1000"]);
  strictEqual((await get(sim, "/athlete", token)).status, 429);
  sim.setRateLimits({ read15: 100 });
  const again = await get(sim, "/athlete", token);
  deepStrictEqual([again.status, again.headers.get("x-readratelimit-limit")], [200, "100,1000"]);
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
      status: 401,
      at: clock.now(),
      auth: "none",
      tokenOutsideHeader: "query",
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
