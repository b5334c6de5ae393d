import { ok, rejects, strictEqual } from "node:assert/strict";
import { prepareExact } from "../lib/store/db.ts";
import { MAX_CONSECUTIVE_FAILURES } from "../lib/backfill/failure_policy.ts";
import { MAX_ATTEMPTS } from "../lib/store/backfill_store.ts";
import { harness, seedFromArchive } from "./backfill_harness.ts";
import { assertMatchesTruth, statuses } from "./truth.ts";

Deno.test("backfill: a complete run equals the simulator's truth, with no duplicate request and no 429", async () => {
  await using h = await harness();
  const listed = await h.run({ mode: "activities" });
  strictEqual(listed.listed.pages, 1);
  const summary = await h.run({});
  strictEqual(summary.stoppedUntil, null);
  strictEqual(summary.pendingActivities, 0);
  strictEqual(summary.pendingSegments, 0);

  const needed = assertMatchesTruth(h.db, h.sim);
  // Requests: exactly one per fetchable activity and per segment, plus the list page; no 429.
  const requests = h.apiRequests();
  strictEqual(new Set(requests).size, requests.length, "no request twice");
  strictEqual(requests.length, 1 + needed);
  ok(requests.filter((r) => r.startsWith("/api/v3/activities/")).every((r) => r.includes("include_all_efforts=true")));
  strictEqual(h.sim.requests.filter((r) => r.status === 429).length, 0);

  // A second run with nothing pending asks nothing.
  const before = h.sim.requests.length;
  const again = await h.run({});
  strictEqual(h.sim.requests.length, before);
  strictEqual(again.efforts.fetched + again.segments.fetched, 0);
});

Deno.test("backfill: an imported archive is surveyed with one listing: deleted and GPS-less activities cost no fetch", async () => {
  await using h = await harness({ activities: 80, wait: true });
  seedFromArchive(h.db, h.sim.truth.activities);
  const deleted = h.sim.truth.activities.filter((a) => a.deleted);
  const noGps = h.sim.truth.activities.filter((a) => !a.deleted && !a.manual && !a.hasGps);
  ok(deleted.length > 0 && noGps.length > 0, "the simulated athlete has deleted and GPS-less activities");
  const summary = await h.run({});
  strictEqual(summary.listed.pages, 1, "one list page surveys all 80");
  const status = statuses(h.db, "activities");
  for (const a of deleted) strictEqual(status.get(a.id), "not_found");
  for (const a of noGps) strictEqual(status.get(a.id), "skipped");
  const fetched = h.apiRequests().filter((r) => r.startsWith("/api/v3/activities/"));
  for (const a of [...deleted, ...noGps]) {
    ok(!fetched.some((r) => r.startsWith(`/api/v3/activities/${a.id}?`)), `activity ${a.id} was not fetched`);
  }
  // The result is the same as a backfill from the API's own listing, request for request.
  const needed = assertMatchesTruth(h.db, h.sim);
  strictEqual(h.apiRequests().length, 1 + needed);
  const segStatus = statuses(h.db, "segments");
  const hidden = [...segStatus.keys()].filter((id) => h.sim.truth.notFoundSegments.has(id));
  ok(hidden.length > 0, "some ridden segments are hidden");
  for (const id of hidden) strictEqual(segStatus.get(id), "not_found");
  const before = h.sim.requests.length;
  await h.run({});
  strictEqual(h.sim.requests.length, before, "nothing settled is asked again");
});

Deno.test("backfill: a few imported activities are fetched one by one; a deleted one settles not_found, once", async () => {
  await using h = await harness({ activities: 80 });
  const deleted = h.sim.truth.activities.filter((a) => a.deleted).slice(0, 1);
  const some = [...deleted, ...h.sim.truth.activities.filter((a) => !a.deleted && !a.manual).slice(0, 3)];
  seedFromArchive(h.db, some);
  const summary = await h.run({ mode: "efforts" });
  strictEqual(summary.listed.pages, 0, "4 unknown activities are not worth a survey");
  strictEqual(statuses(h.db, "activities").get(deleted[0].id), "not_found");
  strictEqual(h.apiRequests().length, 4);
  await h.run({ mode: "efforts" });
  strictEqual(h.apiRequests().length, 4);
});

Deno.test("backfill: private activities are invisible without activity:read_all and settle not_found without a fetch", async () => {
  await using h = await harness({ scope: "read,activity:read", activities: 80 });
  seedFromArchive(h.db, h.sim.truth.activities);
  const privates = h.sim.truth.activities.filter((a) => a.private && !a.deleted && !a.manual);
  ok(privates.length > 0);
  await h.run({});
  const status = statuses(h.db, "activities");
  for (const a of privates) strictEqual(status.get(a.id), "not_found");
  const asked = h.apiRequests().filter((r) => privates.some((a) => r.startsWith(`/api/v3/activities/${a.id}?`)));
  strictEqual(asked.length, 0);
});

Deno.test("backfill: --no-wait stops at the budget with the reopening time, and the next window resumes", async () => {
  await using h = await harness({ limits: { read15: 20, readDay: 1000 } });
  await h.run({ mode: "activities" });
  const first = await h.run({});
  ok(first.stoppedUntil !== null, "stopped at the budget");
  strictEqual(first.stoppedUntil! % (15 * 60 * 1000), 0, "reopens on a window boundary");
  // 90% of 20 = 18 reads per window; the list page took one.
  strictEqual(h.apiRequests().length, 18);
  strictEqual(h.sim.requests.filter((r) => r.status === 429).length, 0);
  let runs = 1;
  for (let s = first; s.stoppedUntil !== null; runs++) {
    h.clock.advanceTo(s.stoppedUntil + 1000);
    s = await h.run({});
  }
  ok(runs > 2);
  const requests = h.apiRequests();
  strictEqual(new Set(requests).size, requests.length, "resuming never repeats a request");
  strictEqual(h.sim.requests.filter((r) => r.status === 429).length, 0);
});

Deno.test("backfill: waiting mode sleeps across windows to completion without a 429", async () => {
  await using h = await harness({ limits: { read15: 20, readDay: 1000 }, wait: true });
  await h.run({ mode: "activities" });
  const start = h.clock.now();
  const summary = await h.run({});
  strictEqual(summary.stoppedUntil, null);
  strictEqual(summary.pendingActivities + summary.pendingSegments, 0);
  ok(h.clock.now() - start >= 15 * 60 * 1000, "waited at least one window");
  strictEqual(h.sim.requests.filter((r) => r.status === 429).length, 0);
});

Deno.test("backfill: a 429 stops the run at once and the next run sends nothing until the window reopens", async () => {
  await using h = await harness();
  await h.run({ mode: "activities" });
  h.sim.addFault({ path: /\/activities\/\d+/, kind: "429" });
  const s = await h.run({});
  ok(s.stoppedUntil !== null);
  strictEqual(s.stoppedReason, "rate_limited");
  const count = h.sim.requests.length;
  const again = await h.run({});
  ok(again.stoppedUntil !== null);
  strictEqual(h.sim.requests.length, count, "no request into a spent window");
});

Deno.test("backfill: a record that keeps failing settles as failed after bounded attempts", async () => {
  await using h = await harness();
  await h.run({ mode: "activities" });
  const [victim] = (prepareExact(
    h.db,
    "SELECT id FROM activities WHERE manual = 0 AND has_gps = 1 ORDER BY start_date DESC LIMIT 1",
  ).all() as { id: bigint }[]).map((r) => r.id);
  for (let run = 1; run <= MAX_ATTEMPTS; run++) {
    h.sim.addFault({ path: new RegExp(`/activities/${victim}$`), kind: "malformed", times: 10 });
    await h.run({ mode: "efforts", activities: 3 });
    const row = prepareExact(
      h.db,
      "SELECT efforts_status s, efforts_attempts n, efforts_error e FROM activities WHERE id = ?",
    )
      .get(victim) as { s: string | null; n: bigint; e: string };
    strictEqual(Number(row.n), run);
    strictEqual(row.s, run < MAX_ATTEMPTS ? null : "failed");
    ok(row.e.length > 0);
  }
  const asked = h.apiRequests().filter((r) => r.startsWith(`/api/v3/activities/${victim}?`)).length;
  await h.run({ mode: "efforts", activities: 1000 });
  strictEqual(h.apiRequests().filter((r) => r.startsWith(`/api/v3/activities/${victim}?`)).length, asked);
});

Deno.test("backfill: a 5xx storm ends the run with an error and charges no record an attempt", async () => {
  await using h = await harness();
  await h.run({ mode: "activities" });
  h.sim.addFault({ path: /\/activities\/\d+/, kind: "503", times: 1000 });
  await rejects(h.run({ mode: "efforts" }), new RegExp(`failed ${MAX_CONSECUTIVE_FAILURES} times in a row`));
  const charged = h.db.prepare("SELECT count(*) n FROM activities WHERE efforts_attempts > 0").get() as { n: number };
  strictEqual(charged.n, 0);
});

Deno.test("backfill: an aborted signal stops cleanly before the next record", async () => {
  await using h = await harness();
  await h.run({ mode: "activities" });
  const controller = new AbortController();
  let fetched = 0;
  const client = h.ctx.client;
  h.ctx.client = {
    ...client,
    getActivity: async (id) => {
      const a = await client.getActivity(id);
      if (++fetched === 2) controller.abort();
      return a;
    },
    getSegment: (id) => client.getSegment(id),
    listActivities: (p) => client.listActivities(p),
  };
  h.ctx.signal = controller.signal;
  const s = await h.run({});
  strictEqual(s.interrupted, true);
  strictEqual(s.efforts.fetched, 2);
});

Deno.test("backfill: a token without activity:read stops with an AuthError and settles nothing", async () => {
  await using h = await harness({ scope: "read" });
  seedFromArchive(h.db, h.sim.truth.activities.slice(0, 5));
  await rejects(h.run({ mode: "efforts" }), (e: Error) => e.name === "AuthError" && /activity:read/.test(e.message));
  const settled = h.db.prepare("SELECT count(*) n FROM activities WHERE efforts_status NOT IN ('skipped')").get() as {
    n: number;
  };
  strictEqual(settled.n, 0);
});
