/**
 * What a refresh pass leaves due, and the order the next passes take it in: a cap
 * (`--segments`, `--activities`) ends a pass early, its last line says what is still due, and the
 * next passes go on least recently asked for first, never asking for a segment twice before
 * every due one was asked for once (issue 17, item 8); a cropped activity whose refetch answers
 * 404 is settled, not "left pending" (item 10).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runBackfill } from "../lib/backfill/engine.ts";
import type { EngineContext } from "../lib/backfill/run_types.ts";
import { formatRefreshLeft, formatRefreshSummary, type RefreshLimits, runRefresh } from "../lib/backfill/refresh.ts";
import { prepareExact } from "../lib/store/db.ts";
import { cropActivity, deleteActivity, removeSegment } from "../lib/testing/sim_world.ts";
import { type EngineWorld, engineWorld, simContext } from "./helpers.ts";
import { apiRequests } from "./truth.ts";

const BIG = { read15: 100_000, readDay: 1_000_000, all15: 200_000, allDay: 2_000_000 };
const NEXT = "the next pass goes on with them, least recently refreshed first";

/** A simulated athlete, backfilled completely, with a context that never waits. */
async function backfilled(activities: number): Promise<{ world: EngineWorld; ctx: EngineContext } & AsyncDisposable> {
  const world = await engineWorld({ seed: 11, activities, segments: 30, limits: BIG }, "due.db");
  const ctx = simContext(world.db, world.sim, world.clock, { wait: false });
  await runBackfill(ctx, { mode: "activities", activities: 10_000, segments: 10_000 });
  const done = await runBackfill(ctx, { mode: "both", activities: 10_000, segments: 10_000 });
  strictEqual(done.pendingActivities + done.pendingSegments, 0, "backfill complete");
  return { world, ctx, [Symbol.asyncDispose]: () => world[Symbol.asyncDispose]() };
}

/** Segment ids asked for since request `from`, a retried request once. */
function segmentsAsked(world: EngineWorld, from: number): bigint[] {
  const ids = apiRequests(world.sim).slice(from).flatMap((path) => {
    const m = path.match(/^\/api\/v3\/segments\/(\d+)/);
    return m ? [BigInt(m[1])] : [];
  });
  return ids.filter((id, i) => i === 0 || ids[i - 1] !== id);
}

const detailedIds = (world: EngineWorld) =>
  (prepareExact(world.db, "SELECT id FROM segments WHERE details_status = 'ok' ORDER BY id").all() as {
    id: bigint;
  }[]).map((r) => r.id);

Deno.test("refresh cap: every due segment once before any repeats, a failed or settled one not first again; the last line says what is left", async () => {
  await using h = await backfilled(40);
  const { world, ctx } = h;
  const ids = detailedIds(world);
  ok(ids.length >= 12, `${ids.length} detailed segments`);
  // All fetched 40 days ago, a minute apart, the highest id longest ago: least recently fetched
  // first is then the reverse of the ids.
  const order = [...ids].reverse();
  const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 19) + "Z";
  for (const [i, id] of order.entries()) {
    world.db.prepare("UPDATE segments SET details_fetched_at = ? WHERE id = ?")
      .run(stamp(world.clock.now() - 40 * 86_400_000 + i * 60_000), id);
  }
  // The second segment asked for fails transiently in the first pass (every attempt the client
  // makes answers 503), so it stays due; the sixth answers 404 (removed on Strava) and settles.
  const failing = order[1];
  const removed = order[5];
  world.sim.addFault({ path: new RegExp(`/segments/${failing}$`), kind: "503", times: 5 });
  removeSegment(world.sim, removed);
  const cap = 4;
  const limits: RefreshLimits = { activities: 10, segments: cap, refreshAfterDays: 30 };
  const asked: bigint[] = [];
  let last = "";
  for (let pass = 1; pass <= Math.ceil(ids.length / cap) + 1; pass++) {
    world.clock.advance(60_000); // passes run at different times
    const from = apiRequests(world.sim).length;
    const result = await runRefresh(ctx, limits);
    asked.push(...segmentsAsked(world, from));
    last = formatRefreshLeft(result);
    // Due: every segment not asked for yet, and the failed one until it is refreshed.
    const due = ids.length - Math.min(asked.length, ids.length) + (asked.length >= ids.length ? 0 : 1);
    if (asked.length > ids.length) break;
    strictEqual(result.refresh.segmentsDue, due, `pass ${pass}`);
    strictEqual(
      last,
      `refresh: --segments ${cap} reached; still due: ${due} segment${due === 1 ? "" : "s"} (details older than ` +
        `30 days), 0 changed activities to fetch again; ${NEXT}`,
    );
  }
  // Each due segment exactly once, least recently fetched first; then the one that failed, only
  // after every other due one was asked for; the settled one never again.
  deepStrictEqual(asked, [...order, failing]);
  strictEqual(last, "refresh: done; no segment or changed activity is left due");
  const row = world.db.prepare("SELECT details_status, details_error FROM segments WHERE id = ?").get(failing)!;
  deepStrictEqual({ ...row }, { details_status: "ok", details_error: null });
  strictEqual(
    (world.db.prepare("SELECT details_status FROM segments WHERE id = ?").get(removed)!).details_status,
    "not_found",
  );
});

Deno.test("refresh: stale segments by --refresh-after: a capped pass names what is left, the next one finishes it", async () => {
  await using h = await backfilled(40);
  const { world, ctx } = h;
  const all = detailedIds(world);
  const stamp = (days: number) => new Date(world.clock.now() - days * 86_400_000).toISOString().slice(0, 19) + "Z";
  for (const [i, id] of all.slice(0, 5).entries()) {
    world.db.prepare("UPDATE segments SET details_fetched_at = ? WHERE id = ?").run(stamp(40 - i), id);
  }
  const limits: RefreshLimits = { activities: 10, segments: 3, refreshAfterDays: 30 };
  const first = await runRefresh(ctx, limits);
  strictEqual(first.refresh.segmentsRefreshed, 3);
  strictEqual(
    formatRefreshLeft(first),
    `refresh: --segments 3 reached; still due: 2 segments (details older than 30 days), ` +
      `0 changed activities to fetch again; ${NEXT}`,
  );
  const from = apiRequests(world.sim).length;
  const second = await runRefresh(ctx, limits);
  deepStrictEqual(segmentsAsked(world, from), all.slice(3, 5));
  strictEqual(formatRefreshLeft(second), "refresh: done; no segment or changed activity is left due");
});

Deno.test("refresh --activities cap: the cropped activities left are fetched by the next pass, and said", async () => {
  await using h = await backfilled(40);
  const { world, ctx } = h;
  const cropped = world.sim.truth.activities.filter((a) => !a.deleted && !a.private && a.effortIds.length >= 2)
    .slice(0, 3);
  for (const a of cropped) cropActivity(world.sim, a.id, 0.5);
  const limits: RefreshLimits = { activities: 2, segments: 10, refreshAfterDays: 30 };
  const first = await runRefresh(ctx, limits);
  strictEqual(first.refresh.requeued, 3);
  strictEqual(first.refresh.refetched, 2);
  strictEqual(
    formatRefreshSummary(first)[1],
    "refresh: 3 cropped or re-processed, 2 fetched again with their efforts replaced (1 left to fetch again)",
  );
  strictEqual(
    formatRefreshLeft(first),
    `refresh: --activities 2 reached; still due: 0 segments (details older than 30 days), ` +
      `1 changed activity to fetch again; ${NEXT}`,
  );
  const from = apiRequests(world.sim).length;
  const second = await runRefresh(ctx, limits);
  const fetched = apiRequests(world.sim).slice(from).filter((p) => p.startsWith("/api/v3/activities/"));
  strictEqual(fetched.length, 1);
  strictEqual(second.refresh.refetched, 1);
  strictEqual(second.refresh.activitiesDue, 0);
  strictEqual(formatRefreshLeft(second), "refresh: done; no segment or changed activity is left due");
});

Deno.test("refresh: a cropped activity whose refetch answers 404 is settled, not left pending", async () => {
  await using h = await backfilled(30);
  const { world, ctx } = h;
  const cropped = world.sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length >= 2)!;
  cropActivity(world.sim, cropped.id, 0.5);
  // The athlete deletes it after the listing showed it cropped, just before its refetch: Strava answers 404.
  const client = ctx.client;
  const racing: EngineContext = {
    ...ctx,
    client: {
      listActivities: (params) => client.listActivities(params),
      getSegment: (id) => client.getSegment(id),
      getActivity: (id) => {
        if (id === cropped.id) deleteActivity(world.sim, id);
        return client.getActivity(id);
      },
    },
  };
  const result = await runRefresh(racing, { activities: 10, segments: 10, refreshAfterDays: 30 });
  strictEqual(result.run.efforts.not_found, 1);
  strictEqual(result.refresh.refetchSettled, 1);
  strictEqual(result.refresh.activitiesDue, 0);
  strictEqual(
    formatRefreshSummary(result)[1],
    "refresh: 1 cropped or re-processed, 0 fetched again with their efforts replaced, 1 not found (settled)",
  );
  strictEqual(formatRefreshLeft(result), "refresh: done; no segment or changed activity is left due");
  const [row] = world.db.prepare("SELECT efforts_status, segment_efforts_processed p FROM activities WHERE id = ?")
    .all(cropped.id);
  deepStrictEqual({ ...row }, { efforts_status: "not_found", p: 1 });
});

Deno.test("refresh: a pass stopped at the budget says so in its last line, with what is still due", async () => {
  await using h = await backfilled(40);
  const { world, ctx } = h;
  const ids = detailedIds(world);
  // Another program has spent this window but three reads: the list page and two segments.
  world.sim.setRateUsage({ read15: Math.floor(BIG.read15 * 0.9) - 3 });
  const result = await runRefresh(ctx, { activities: 10, segments: 50, refreshAfterDays: 0 });
  ok(result.run.stoppedUntil !== null, "stopped at the budget");
  strictEqual(result.refresh.segmentsRefreshed, 2);
  strictEqual(
    formatRefreshLeft(result),
    `refresh: stopped at the rate budget; still due: ${ids.length - 2} segments, 0 changed activities to fetch ` +
      `again; ${NEXT}`,
  );
});
