import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { StravaUnreachableError } from "../lib/backfill/failure_policy.ts";
import { type Database, openDatabase, prepareExact } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { runBackfill } from "../lib/backfill/engine.ts";
import type { EngineContext } from "../lib/backfill/run_types.ts";
import { type RefreshLimits, runRefresh } from "../lib/backfill/refresh.ts";
import { parseJson } from "../lib/json.ts";
import { expectedBackfill, type Json, StravaSimulator } from "../lib/testing/strava_sim.ts";
import {
  addActivities,
  changeSegment,
  cropActivity,
  deleteActivity,
  editActivity,
  removeSegment,
  restoreActivity,
} from "../lib/testing/sim_world.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { engineWorld, runScript, scriptWorld, simContext, tempDir } from "./helpers.ts";
import { apiRequests, wire } from "./truth.ts";

const DAY = 86_400_000;
const BIG = { read15: 100_000, readDay: 1_000_000, all15: 200_000, allDay: 2_000_000 };

interface Harness extends AsyncDisposable {
  db: Database;
  sim: StravaSimulator;
  clock: VirtualClock;
  ctx: EngineContext;
  refresh(limits?: Partial<RefreshLimits>): ReturnType<typeof runRefresh>;
  /** API requests since the last call. */
  newRequests(): string[];
}

/** A simulated athlete, backfilled completely. */
async function backfilled(activities: number): Promise<Harness> {
  const dir = await tempDir();
  const clock = new VirtualClock();
  const sim = StravaSimulator.inProcess({ seed: 11, activities, segments: 30, now: clock.now, limits: BIG });
  const db = openDatabase(`${dir.path}/r.db`, { create: true });
  migrate(db);
  const ctx = simContext(db, sim, clock, { wait: false });
  await runBackfill(ctx, { mode: "activities", activities: 10_000, segments: 10_000 });
  const done = await runBackfill(ctx, { mode: "both", activities: 10_000, segments: 10_000 });
  strictEqual(done.pendingActivities + done.pendingSegments, 0, "backfill complete");
  let seen = apiRequests(sim).length;
  return {
    db,
    sim,
    clock,
    ctx,
    refresh: (limits) => runRefresh(ctx, { activities: 1000, segments: 1000, refreshAfterDays: 30, ...limits }),
    newRequests() {
      const all = apiRequests(sim);
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    },
    async [Symbol.asyncDispose]() {
      db.close();
      await sim.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const pagesFor = (listed: number) => Math.floor(listed / 200) + 1;
const rows = (db: Database, sql: string, ...params: (string | bigint | number)[]) =>
  db.prepare(sql).all(...params).map((r) => ({ ...r }));
const listedCount = (sim: StravaSimulator) => sim.truth.activities.filter((a) => !a.deleted).length;

Deno.test("refresh: with nothing changed it costs the list pages only and writes nothing", async () => {
  await using h = await backfilled(230);
  h.newRequests();
  const before = rows(h.db, "SELECT * FROM activities ORDER BY id");
  const result = await h.refresh();
  const requests = h.newRequests();
  strictEqual(requests.length, pagesFor(listedCount(h.sim)));
  ok(requests.every((r) => r.startsWith("/api/v3/athlete/activities?")));
  deepStrictEqual(result.refresh, {
    listingComplete: true,
    added: 0,
    updated: 0,
    deleted: 0,
    reappeared: 0,
    revived: 0,
    requeued: 0,
    refetched: 0,
    segmentsRefreshed: 0,
    segmentErrors: 0,
    stoppedAtReserve: false,
    refetchSettled: 0,
    segmentsDue: 0,
    activitiesDue: 0,
  });
  deepStrictEqual(rows(h.db, "SELECT * FROM activities ORDER BY id"), before);
});

Deno.test("refresh: after the world changed, the database equals the new world at list pages + changed activities + segments", async () => {
  await using h = await backfilled(230);
  const { sim, db } = h;
  const candidates = sim.truth.activities.filter((a) => !a.deleted && !a.private && a.effortIds.length >= 2);
  const [deletedA, deletedB, renamedA, renamedB, croppedA, croppedB] = candidates;
  // When the oldest stored activity is among the deleted, the listing ends above a stored one:
  // one more list request confirms that end (lib/backfill/listing.ts).
  const oldest = sim.truth.activities.find((a) => !a.deleted)!;
  const confirm = oldest === deletedA || oldest === deletedB ? 1 : 0;
  deleteActivity(sim, deletedA.id);
  deleteActivity(sim, deletedB.id);
  editActivity(sim, renamedA.id, { name: "Morning ride, renamed" });
  editActivity(sim, renamedB.id, { name: "Commute home", commute: true, sport_type: "GravelRide" });
  const removed = [...cropActivity(sim, croppedA.id, 0.5), ...cropActivity(sim, croppedB.id, 0.4)];
  const [added] = addActivities(sim, 1);
  const ridden = [...new Set(candidates.flatMap((a) => a.segmentIds))].filter((id) => sim.truth.segments.has(id));
  changeSegment(sim, ridden[0], { name: "Renamed climb", effort_count: 987_654, athlete_count: 54_321 });
  changeSegment(sim, ridden[1], { effort_count: 123_456, athlete_count: 7_890, star_count: 42 });
  const detailed = Number(
    (db.prepare("SELECT count(*) n FROM segments WHERE details_status = 'ok'").get() as {
      n: number;
    }).n,
  );
  const effortsOfDeleted = Number(
    (db.prepare(
      "SELECT count(*) n FROM segment_efforts WHERE activity_id IN (?, ?)",
    ).get(deletedA.id, deletedB.id) as { n: number }).n,
  );
  h.newRequests();

  const result = await h.refresh({ refreshAfterDays: 0 });

  // Requests: list pages + one per changed activity + one per refreshed segment, nothing else.
  const requests = h.newRequests();
  const pages = pagesFor(listedCount(sim));
  strictEqual(requests.length, pages + confirm + 2 + detailed, requests.join("\n"));
  strictEqual(requests.filter((r) => r.startsWith("/api/v3/athlete/activities?")).length, pages + confirm);
  deepStrictEqual(
    requests.filter((r) => r.startsWith("/api/v3/activities/")).map((r) => r.split("?")[0]).sort(),
    [croppedA.id, croppedB.id].map((id) => `/api/v3/activities/${id}`).sort(),
  );
  strictEqual(new Set(requests.filter((r) => r.startsWith("/api/v3/segments/"))).size, detailed);
  deepStrictEqual(
    { ...result.refresh },
    {
      listingComplete: true,
      added: 1,
      updated: 4,
      deleted: 2,
      reappeared: 0,
      revived: 0,
      requeued: 2,
      refetched: 2,
      segmentsRefreshed: detailed,
      segmentErrors: 0,
      stoppedAtReserve: false,
      refetchSettled: 0,
      segmentsDue: 0,
      activitiesDue: 0,
    },
  );

  // Deleted: marked, kept with their efforts, out of the views.
  for (const a of [deletedA, deletedB]) {
    const [row] = rows(db, "SELECT deleted_at, efforts_status FROM activities WHERE id = ?", a.id);
    ok(row.deleted_at !== null, `activity ${a.id} marked`);
    strictEqual(row.efforts_status, "ok");
  }
  strictEqual(
    Number(
      (db.prepare("SELECT count(*) n FROM segment_efforts WHERE activity_id IN (?, ?)").get(
        deletedA.id,
        deletedB.id,
      ) as { n: number }).n,
    ),
    effortsOfDeleted,
  );
  strictEqual(
    rows(db, "SELECT 1 FROM segment_history WHERE activity_id IN (?, ?)", deletedA.id, deletedB.id).length,
    0,
  );

  // Every listed activity's summary fields equal Strava's; the new one is pending.
  for (const a of sim.truth.activities.filter((a) => !a.deleted)) {
    const [row] = rows(
      db,
      "SELECT name, sport_type, commute, distance, elapsed_time, moving_time, deleted_at FROM activities WHERE id = ?",
      a.id,
    );
    const s = a.summary;
    deepStrictEqual(
      row,
      {
        name: s.name,
        sport_type: s.sport_type,
        commute: s.commute ? 1 : 0,
        distance: s.distance,
        elapsed_time: s.elapsed_time,
        moving_time: s.moving_time,
        deleted_at: null,
      },
      `activity ${a.id}`,
    );
  }
  // The stored detailed record keeps everything the listing lacks, ids above 2^53 exact; only the edited fields change.
  const patched = parseJson(
    rows(db, "SELECT raw_json FROM activities WHERE id = ?", renamedB.id)[0].raw_json as string,
  );
  deepStrictEqual(patched, wire(renamedB.detail));
  strictEqual((patched as Json).name, "Commute home");
  deepStrictEqual(
    rows(db, "SELECT segment_efforts_processed p, efforts_status s FROM activities WHERE id = ?", added.id),
    [
      { p: 0, s: null },
    ],
  );

  // Live efforts equal Strava's efforts of every fetched activity; the cropped ones' exactly.
  const expected = expectedBackfill(sim.truth);
  const fetchable = new Set(
    expected.activities.filter((a) => !a.manual && a.hasGps && a.id !== added.id).map((a) => a.id),
  );
  const expectedIds = [...expected.efforts.values()]
    .filter((e) => fetchable.has((e.activity as Json).id as bigint)).map((e) => e.id as bigint).sort();
  const liveIds = (prepareExact(
    db,
    "SELECT e.id FROM segment_efforts e JOIN activities a ON a.id = e.activity_id WHERE a.deleted_at IS NULL ORDER BY e.id",
  ).all() as { id: bigint }[]).map((r) => r.id);
  deepStrictEqual(liveIds, expectedIds);
  for (const cropped of [croppedA, croppedB]) {
    const stored = prepareExact(db, "SELECT id, raw_json FROM segment_efforts WHERE activity_id = ? ORDER BY id")
      .all(cropped.id) as { id: bigint; raw_json: string }[];
    deepStrictEqual(stored.map((e) => e.id), [...cropped.effortIds].sort());
    for (const e of stored) {
      deepStrictEqual(
        parseJson(e.raw_json),
        wire((cropped.detail.segment_efforts as Json[]).find((x) => x.id === e.id)),
      );
    }
  }
  for (const id of removed) strictEqual(rows(db, "SELECT 1 FROM segment_efforts WHERE id = ?", id).length, 0);

  // Segments: every detailed one equals Strava's record now (names, counts, athlete stats).
  for (const row of prepareExact(db, "SELECT id, raw_json FROM segments WHERE details_status = 'ok'").all()) {
    deepStrictEqual(parseJson(row.raw_json as string), wire(sim.truth.segments.get(row.id as bigint)));
  }
  deepStrictEqual(rows(db, "SELECT name, effort_count, athlete_count FROM segments WHERE id = ?", ridden[0]), [
    { name: "Renamed climb", effort_count: 987_654, athlete_count: 54_321 },
  ]);

  // A second refresh finds nothing more to do but the listing; deleted ones are not asked for.
  const again = await h.refresh({ refreshAfterDays: 30 });
  strictEqual(h.newRequests().length, pages);
  strictEqual(again.refresh.deleted, 0);
});

Deno.test("refresh: a deleted activity that reappears is cleared; a removed segment settles not_found", async () => {
  await using h = await backfilled(40);
  const { sim, db } = h;
  const victim = sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length > 0)!;
  deleteActivity(sim, victim.id);
  await h.refresh();
  ok(rows(db, "SELECT deleted_at FROM activities WHERE id = ?", victim.id)[0].deleted_at !== null);
  restoreActivity(sim, victim.id);
  const segmentId = victim.segmentIds.find((id) => sim.truth.segments.has(id) && !sim.truth.privateSegments.has(id))!;
  removeSegment(sim, segmentId);
  h.newRequests();
  const result = await h.refresh({ refreshAfterDays: 0 });
  strictEqual(result.refresh.reappeared, 1);
  strictEqual(rows(db, "SELECT deleted_at FROM activities WHERE id = ?", victim.id)[0].deleted_at, null);
  deepStrictEqual(rows(db, "SELECT details_status FROM segments WHERE id = ?", segmentId), [
    { details_status: "not_found" },
  ]);
  strictEqual(result.run.segments.not_found, 1);
  // Settled: the next refresh of every segment does not ask for it again.
  ok(h.newRequests().includes(`/api/v3/segments/${segmentId}?`));
  await h.refresh({ refreshAfterDays: 0 });
  const last = h.newRequests();
  ok(last.length > 1);
  ok(!last.includes(`/api/v3/segments/${segmentId}?`));
});

Deno.test("refresh: --refresh-after picks segment details older than DAYS, least recently fetched first, within --segments", async () => {
  await using h = await backfilled(40);
  const { db, clock } = h;
  const ids = (prepareExact(db, "SELECT id FROM segments WHERE details_status = 'ok' ORDER BY id").all() as {
    id: bigint;
  }[]).map((r) => r.id);
  ok(ids.length >= 5);
  // Fetched 40, 35, 31, 29 and 5 days ago; the rest today.
  const ages = [40, 35, 31, 29, 5];
  const stamp = (days: number) => new Date(clock.now() - days * DAY).toISOString().slice(0, 19) + "Z";
  ages.forEach((days, i) =>
    db.prepare("UPDATE segments SET details_fetched_at = ? WHERE id = ?").run(stamp(days), ids[i])
  );
  h.newRequests();
  const result = await h.refresh({ refreshAfterDays: 30, segments: 2 });
  strictEqual(result.refresh.segmentsRefreshed, 2);
  deepStrictEqual(
    h.newRequests().filter((r) => r.startsWith("/api/v3/segments/")).map((r) => r.split("?")[0]),
    [ids[0], ids[1]].map((id) => `/api/v3/segments/${id}`),
  );
  await h.refresh({ refreshAfterDays: 30, segments: 50 });
  deepStrictEqual(
    h.newRequests().filter((r) => r.startsWith("/api/v3/segments/")).map((r) => r.split("?")[0]),
    [`/api/v3/segments/${ids[2]}`],
  );
});

Deno.test("incremental_backfill --mode refresh: a deleted, a cropped and a new activity, as a user runs it", async () => {
  await using world = await scriptWorld({ seed: 5, activities: 30, segments: 20 });
  const { dir, sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  const full = await runScript("incremental_backfill", ["--activities", "500", "--segments", "500"], opts);
  ok(full.stdout.includes("pending: 0 activities, 0 segments"), full.stdout);
  const [gone, cropped] = sim.truth.activities.filter((a) => !a.deleted && !a.private && a.effortIds.length >= 2);
  const confirm = gone === sim.truth.activities.find((a) => !a.deleted) ? 1 : 0;
  deleteActivity(sim, gone.id);
  cropActivity(sim, cropped.id, 0.5);
  addActivities(sim, 1);
  const before = apiRequests(sim).length;
  const r = await runScript("incremental_backfill", ["--mode", "refresh"], opts);
  strictEqual(r.code, 0, r.stderr);
  ok(r.stdout.includes("1 new (pending), 1 updated, 1 deleted on Strava (kept)"), r.stdout);
  ok(r.stdout.includes("1 cropped or re-processed, 1 fetched again"), r.stdout);
  ok(r.stdout.includes("pending: 1 activities"), r.stdout);
  // One list page (+1 confirming its end when the oldest was deleted), the cropped activity; no
  // segment is 30 days old yet.
  strictEqual(apiRequests(sim).length - before, 2 + confirm);
  const log = await Deno.readTextFile(`${dir.path}/backfill.log`);
  ok(log.includes("no longer in the athlete's list: marked deleted"), log.slice(-2000));
  const bad = await runScript("incremental_backfill", ["--mode", "refresh", "--refresh-after", "-1"], opts);
  strictEqual(bad.code, 2);
});

Deno.test("refresh: an activity once settled not_found that Strava lists again is pending again", async () => {
  await using h = await backfilled(40);
  const { sim, db } = h;
  // As when a private activity answered 404 to a token without activity:read_all, re-authorized since
  // (its fetch never succeeded: no efforts_fetched_at).
  const hidden = sim.truth.activities.find((a) => !a.deleted && a.effortIds.length > 0)!;
  db.prepare(
    `UPDATE activities SET efforts_status = 'not_found', efforts_error = 'Record Not Found',
       efforts_fetched_at = NULL WHERE id = ?`,
  ).run(hidden.id);
  h.newRequests();
  const result = await h.refresh();
  strictEqual(result.refresh.revived, 1);
  strictEqual(h.newRequests().length, 1, "the list page only; the next backfill fetches it");
  deepStrictEqual(
    rows(
      db,
      "SELECT segment_efforts_processed p, efforts_status s, efforts_error e FROM activities WHERE id = ?",
      hidden.id,
    ),
    [{ p: 0, s: null, e: null }],
  );
});

Deno.test("refresh: a pass stopped at the budget (--no-wait) marks nothing deleted; the next one finishes", async () => {
  await using world = await engineWorld({ seed: 11, activities: 230, segments: 30, limits: BIG }, "r.db");
  const { clock, sim, db } = world;
  const ctx = simContext(db, sim, clock, { wait: false });
  await runBackfill(ctx, { mode: "activities", activities: 10_000, segments: 10_000 });
  await runBackfill(ctx, { mode: "both", activities: 10_000, segments: 10_000 });
  const gone = sim.truth.activities.find((a) => !a.deleted && a.effortIds.length > 0)!;
  deleteActivity(sim, gone.id);
  // Another program has spent this window but one read: page 1 is read (its answer reports the
  // window spent), page 2 is not.
  const allowed = Math.floor(BIG.read15 * 0.9);
  sim.setRateUsage({ read15: allowed - 1 });
  const stopped = await runRefresh(ctx, { activities: 10, segments: 10, refreshAfterDays: 30 });
  ok(stopped.run.stoppedUntil !== null, "stopped at the budget");
  strictEqual(stopped.refresh.listingComplete, false);
  strictEqual(stopped.refresh.deleted, 0);
  strictEqual(rows(db, "SELECT 1 FROM activities WHERE deleted_at IS NOT NULL").length, 0);
  clock.advance(stopped.run.stoppedUntil! - clock.now() + 1000);
  const done = await runRefresh(ctx, { activities: 10, segments: 10, refreshAfterDays: 30 });
  strictEqual(done.refresh.listingComplete, true);
  strictEqual(done.refresh.deleted, 1);
});

Deno.test("refresh: with a token that cannot see private activities, they are not taken for deleted", async () => {
  await using h = await backfilled(60);
  const { sim, db } = h;
  const privateIds = sim.truth.activities.filter((a) => a.private && !a.deleted).map((a) => a.id);
  ok(privateIds.length > 0);
  const gone = sim.truth.activities.find((a) => !a.private && !a.deleted && a.effortIds.length > 0)!;
  deleteActivity(sim, gone.id);
  const publicOnly = simContext(db, sim, h.clock, { wait: false, scope: "read,activity:read" });
  const result = await runRefresh(publicOnly, { activities: 10, segments: 10, refreshAfterDays: 30 });
  strictEqual(result.refresh.deleted, 1);
  deepStrictEqual(
    rows(db, "SELECT id FROM activities WHERE deleted_at IS NOT NULL").map((r) => BigInt(r.id as number)),
    [
      gone.id,
    ],
  );
  // With activity:read_all the private ones are listed, and a deleted private one is marked.
  const secret = sim.truth.activities.find((a) => a.private && !a.deleted)!;
  deleteActivity(sim, secret.id);
  const again = await h.refresh();
  strictEqual(again.refresh.deleted, 1);
  ok(rows(db, "SELECT deleted_at FROM activities WHERE id = ?", secret.id)[0].deleted_at !== null);
});

Deno.test("refresh: Strava down once the listing is done ends the pass as an outage and charges no attempt", async () => {
  await using h = await backfilled(30);
  const cropped = h.sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length >= 2)!;
  cropActivity(h.sim, cropped.id, 0.5);
  // The listing answers; every fetch of an activity after it (the re-fetch and the check request) gets 503s.
  h.sim.addFault({ path: /\/activities\/\d+$/, kind: "503", times: 1000 });
  await rejects(() => h.refresh(), StravaUnreachableError);
  const row = h.db.prepare("SELECT efforts_attempts, segment_efforts_processed FROM activities WHERE id = ?")
    .get(cropped.id) as { efforts_attempts: number; segment_efforts_processed: number };
  strictEqual(Number(row.efforts_attempts ?? 0), 0, "an outage burns no attempt");
  strictEqual(Number(row.segment_efforts_processed), 0, "the cropped activity is still pending");
});

Deno.test("refresh: a segment whose refresh keeps failing keeps its details and the pass goes on; all failing is an outage", async () => {
  await using h = await backfilled(30);
  const details = () => rows(h.db, "SELECT id, name, details_status FROM segments ORDER BY id");
  const before = details();
  const detailed = before.filter((r) => r.details_status === "ok").map((r) => r.id as bigint);
  const [bad] = detailed;
  h.sim.addFault({ path: new RegExp(`/segments/${bad}$`), kind: "503", times: 1000 });
  const one = await h.refresh({ refreshAfterDays: 0 });
  strictEqual(one.refresh.segmentErrors, 1);
  strictEqual(one.refresh.segmentsRefreshed, detailed.length - 1);
  strictEqual(one.run.segments.failed + one.run.segments.retry_later, 0, "the failure is not charged");
  deepStrictEqual(details(), before, "details kept");
  // Every segment failing: the policy's check request does not answer either, so the pass ends as an outage.
  h.sim.addFault({ path: /\/(segments|activities)\/\d+$/, kind: "503", times: 1000 });
  await rejects(() => h.refresh({ refreshAfterDays: 0 }), /Strava failed 3 times in a row/);
  deepStrictEqual(details(), before, "details kept");
});
