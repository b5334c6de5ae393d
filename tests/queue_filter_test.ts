import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { openDatabase, prepareExact } from "../lib/store/db.ts";
import type { Database } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import {
  countPendingActivities,
  countPendingSegments,
  pendingActivities,
  pendingSegments,
} from "../lib/store/backfill_store.ts";
import { queueFilter } from "../lib/backfill/flags.ts";
import { runBackfill } from "../lib/backfill/engine.ts";
import { UsageError } from "../lib/errors.ts";
import { type Json } from "../lib/testing/strava_sim.ts";
import { engineWorld, runScript, scriptWorld, tempDir } from "./helpers.ts";
import { apiRequests } from "./truth.ts";

/**
 * 1: Ride on 2025-12-31 local (2026-01-01 UTC), 2: VirtualRide 2026-01-01, 3: Run 2026-02-01,
 * 4: ride imported without a local date (UTC 2026-03-01), 5: deleted Ride 2026-03-02.
 * Segment 10 is reached from 1 (already fetched efforts), 20 from 3.
 */
async function withQueue(fn: (db: Database) => void): Promise<void> {
  await using dir = await tempDir();
  const db = openDatabase(`${dir.path}/q.db`, { create: true });
  try {
    migrate(db);
    db.exec(`
      INSERT INTO activities (id, sport_type, type, start_date, start_date_local) VALUES
        (1, 'Ride', 'Ride', '2026-01-01T03:00:00Z', '2025-12-31T20:00:00Z'),
        (2, 'VirtualRide', 'VirtualRide', '2026-01-01T18:00:00Z', '2026-01-01T11:00:00Z'),
        (3, 'Run', 'Run', '2026-02-01T15:00:00Z', '2026-02-01T08:00:00Z');
      INSERT INTO activities (id, sport_type, start_date) VALUES (4, 'Ride', '2026-03-01T10:00:00Z');
      INSERT INTO activities (id, sport_type, start_date, deleted_at) VALUES
        (5, 'Ride', '2026-03-02T10:00:00Z', '2026-04-01T00:00:00Z');
      INSERT INTO segments (id) VALUES (10), (20);
      INSERT INTO segment_efforts (id, activity_id, segment_id, start_date) VALUES
        (100, 1, 10, '2026-01-01T03:10:00Z'), (200, 3, 20, '2026-02-01T15:10:00Z');`);
    fn(db);
  } finally {
    db.close();
  }
}

const ids = (list: bigint[]) => list.map(Number);

Deno.test("queue filter: sport types (any case), local start dates, deleted activities never", async () => {
  await withQueue((db) => {
    const pick = (values: Parameters<typeof queueFilter>[0]) =>
      ids(pendingActivities(db, 10, undefined, queueFilter(values))).sort();
    deepStrictEqual(pick({}), [1, 2, 3, 4]);
    deepStrictEqual(pick({ "sport-type": "ride,VirtualRide" }), [1, 2, 4]);
    // Activity 1 started on 2025-12-31 where the rider was, although 2026-01-01 in UTC.
    deepStrictEqual(pick({ after: "2026-01-01" }), [2, 3, 4]);
    deepStrictEqual(pick({ before: "2026-01-01" }), [1]);
    deepStrictEqual(pick({ "sport-type": "Ride", after: "2026-01-01", before: "2026-03-02" }), [4]);
    strictEqual(countPendingActivities(db, queueFilter({ "sport-type": "Run" })), 1);
    strictEqual(countPendingActivities(db), 4);
  });
});

Deno.test("queue filter: only segments reached from the selected activities are pending", async () => {
  await withQueue((db) => {
    deepStrictEqual(ids(pendingSegments(db, 10)).sort(), [10, 20]);
    const runs = queueFilter({ "sport-type": "Run" });
    deepStrictEqual(ids(pendingSegments(db, 10, undefined, runs)), [20]);
    strictEqual(countPendingSegments(db, runs), 1);
    strictEqual(countPendingSegments(db, queueFilter({ after: "2026-03-01" })), 0);
  });
});

Deno.test("queue filter flags: bad dates, an empty range and an empty list are usage errors", () => {
  strictEqual(queueFilter({}), undefined);
  throws(() => queueFilter({ after: "2026-13-01" }), UsageError);
  throws(() => queueFilter({ after: "2026-02-30" }), UsageError);
  throws(() => queueFilter({ before: "01/02/2026" }), UsageError);
  throws(() => queueFilter({ after: "2026-02-01", before: "2026-02-01" }), /no activity could match/);
  throws(() => queueFilter({ "sport-type": " , " }), UsageError);
  throws(() => queueFilter({ "sport-type": "Ride;DROP" }), UsageError);
  deepStrictEqual(queueFilter({ "sport-type": "Ride, VirtualRide" })?.sportTypes, ["Ride", "VirtualRide"]);
});

Deno.test("queue filter: a filtered backfill fetches only the selected activities and the segments they reach", async () => {
  await using world = await engineWorld({ seed: 3, activities: 60, segments: 30 }, "f.db");
  const { sim, db, ctx } = world;
  await runBackfill(ctx, { mode: "activities", activities: 1000, segments: 1000 });
  const filter = queueFilter({ "sport-type": "Run,TrailRun" })!;
  const listed = apiRequests(sim).length;
  const summary = await runBackfill(ctx, { mode: "both", activities: 1000, segments: 1000, filter });
  strictEqual(summary.pendingActivities + summary.pendingSegments, 0, "nothing left for the filter");
  const requests = apiRequests(sim).slice(listed);
  const runs = new Set(
    sim.truth.activities.filter((a) => a.kind === "run" && !a.deleted).map((a) => String(a.id)),
  );
  const fetched = requests.filter((r) => r.startsWith("/api/v3/activities/")).map((r) => r.split(/[/?]/)[4]);
  ok(fetched.length > 0 && fetched.every((id) => runs.has(id)), fetched.join(","));
  const reached = new Set(
    sim.truth.activities.filter((a) => runs.has(String(a.id))).flatMap((a) =>
      (a.detail.segment_efforts as Json[]).map((e) => String((e.segment as Json).id))
    ),
  );
  const segments = requests.filter((r) => r.startsWith("/api/v3/segments/")).map((r) => r.split(/[/?]/)[4]);
  ok(segments.length > 0 && segments.every((id) => reached.has(id)), segments.join(","));
  // Rides are still waiting.
  ok(countPendingActivities(db) > 0);
  const rideStatus = prepareExact(
    db,
    "SELECT count(*) n FROM activities WHERE sport_type = 'Ride' AND efforts_status = 'ok'",
  )
    .get() as { n: bigint };
  strictEqual(Number(rideStatus.n), 0);
});

Deno.test("queue filter in the scripts: incremental_backfill and manage_backfill stats", async () => {
  await using world = await scriptWorld({ seed: 3, activities: 40, segments: 20 });
  const { sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  const newest = sim.truth.activities.filter((a) => !a.deleted && a.hasGps && !a.manual).at(-1)!;
  const day = String(newest.detail.start_date_local).slice(0, 10);
  const r = await runScript("incremental_backfill", ["--after", day, "--activities", "100", "--segments", "100"], opts);
  strictEqual(r.code, 0, r.stderr);
  ok(r.stdout.includes(`filter (from ${day}): the pending counts above are for it`), r.stdout);
  ok(r.stdout.includes("pending: 0 activities, 0 segments"), r.stdout);
  const fetched = apiRequests(sim).filter((q) => q.startsWith("/api/v3/activities/"));
  const expected = sim.truth.activities
    .filter((a) => !a.deleted && a.hasGps && !a.manual && String(a.detail.start_date_local) >= day)
    .map((a) => `/api/v3/activities/${a.id}?include_all_efforts=true`);
  ok(expected.length >= 1);
  deepStrictEqual(fetched.sort(), expected.sort());

  const stats = await runScript("manage_backfill", ["--mode", "stats", "--json", "--sport-type", "Ride"], opts);
  strictEqual(stats.code, 0, stats.stderr);
  const json = JSON.parse(stats.stdout);
  strictEqual(json.filter.selects, "sport types Ride");
  ok(json.filter.pending_activities > 0 && json.filter.pending_activities < json.activities.pending);
  const table = await runScript("manage_backfill", ["--sport-type", "Ride"], opts);
  ok(table.stdout.includes("Filter: sport types Ride"), table.stdout);

  const bad = await runScript("incremental_backfill", ["--after", "2026-02-30"], opts);
  strictEqual(bad.code, 2);
  ok(bad.stderr.includes("--after must be a date YYYY-MM-DD"), bad.stderr);
  const refresh = await runScript("incremental_backfill", ["--mode", "refresh", "--sport-type", "Ride"], opts);
  strictEqual(refresh.code, 2);
});
