import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { runBackfill } from "../lib/backfill/engine.ts";
import { runContinuous, runOneTime } from "../lib/backfill/manage.ts";
import { type IdleRefreshOptions } from "../lib/backfill/idle_refresh.ts";
import type { RefreshSummary } from "../lib/backfill/refresh.ts";
import { readsLeftToday } from "../lib/backfill/run_scope.ts";
import { deleteActivity } from "../lib/testing/sim_world.ts";
import { engineWorld } from "./helpers.ts";

const HOUR = 3_600_000;
// The refresh lists the whole history by `before=` (no `after`); new activities are listed by `after=`.
const isRefreshListing = (r: { path: string; query: string }) =>
  r.path === "/api/v3/athlete/activities" && !r.query.includes("after=");
const isFetch = (r: { path: string }) => /^\/api\/v3\/(activities|segments)\//.test(r.path);

function refreshOptions(overrides: Partial<IdleRefreshOptions> = {}): IdleRefreshOptions {
  return { everyHours: 24, reserveFraction: 0.2, refreshAfterDays: 30, activities: 5, segments: 5, ...overrides };
}

Deno.test("continuous: no refresh while work is pending; with nothing pending, one refresh per --refresh-every", async () => {
  await using world = await engineWorld({
    seed: 8,
    activities: 30,
    segments: 20,
    accessTokenTtlSeconds: 30 * 86_400, // the static test token outlives the 60 virtual hours
  }, "c.db");
  const { dir, clock, sim, db, ctx } = world;
  const refreshes: RefreshSummary[] = [];
  const gone = sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length > 0)!;
  let cycle = 0;
  const result = await runContinuous(ctx, {
    activities: 5,
    segments: 5,
    intervalSeconds: 3600,
    maxRuns: 60,
    statePath: `${dir.path}/state.json`,
    refresh: refreshOptions(),
    onBatch: () => {
      // The athlete deletes an activity in the tenth hour: the next refresh finds it.
      if (++cycle === 20) deleteActivity(sim, gone.id);
    },
    onRefresh: (s) => refreshes.push(s),
  });
  strictEqual(result.cycles, 60);
  const requests = sim.requests.filter((r) => r.path.startsWith("/api/"));
  const refreshAt = requests.filter(isRefreshListing).map((r) => r.at);
  // Backfill first: every fetch of the backfill comes before the first refresh request.
  const lastFetch = requests.findLastIndex((r) => isFetch(r));
  const firstRefresh = requests.findIndex(isRefreshListing);
  ok(firstRefresh > lastFetch, `refresh at ${firstRefresh}, last fetch at ${lastFetch}`);
  // 60 hourly cycles: refreshes at the first idle cycle, then each 24 hours (a cycle's hour late at most).
  strictEqual(refreshAt.length, 3);
  strictEqual(refreshAt.length, refreshes.length);
  for (let i = 1; i < refreshAt.length; i++) {
    const gap = refreshAt[i] - refreshAt[i - 1];
    ok(gap >= 24 * HOUR && gap < 26 * HOUR, `gap ${gap / HOUR} h`);
  }
  ok(clock.now() - refreshAt[refreshAt.length - 1] < 25 * HOUR, "no refresh that was due was skipped");
  deepStrictEqual(refreshes.map((s) => s.refresh.deleted), [0, 1, 0]);
  ok(
    (db.prepare("SELECT deleted_at FROM activities WHERE id = ?").get(gone.id) as { deleted_at: string }).deleted_at,
  );
});

Deno.test("continuous: a refresh stops at the day's reserve and later cycles that day do not refresh", async () => {
  await using world = await engineWorld({ seed: 8, activities: 30, segments: 20 }, "c.db");
  const { dir, sim, ctx } = world;
  await runBackfill(ctx, { mode: "activities", activities: 100, segments: 100 });
  const done = await runBackfill(ctx, { mode: "both", activities: 100, segments: 100 });
  strictEqual(done.pendingActivities + done.pendingSegments, 0);
  // Another program has spent most of today's reads: 900 allowed (1,000 x 0.9), reserve 180.
  // After the cycle's listing Strava reports 716 used, so 184 are left: the refresh may spend 4.
  sim.setRateUsage({ readDay: 715, allDay: 715 });
  const before = sim.requests.length;
  const refreshes: RefreshSummary[] = [];
  await runContinuous(ctx, {
    activities: 5,
    segments: 100,
    intervalSeconds: 60,
    maxRuns: 3,
    statePath: `${dir.path}/state.json`,
    refresh: refreshOptions({ refreshAfterDays: 0, everyHours: 0.001 }),
    onRefresh: (s) => refreshes.push(s),
  });
  const sent = sim.requests.slice(before).filter((r) => r.path.startsWith("/api/"));
  // The cycle's own listing, then the refresh: its list page and 3 segments, then the reserve.
  strictEqual(sent.length, 1 + 4, sent.map((r) => r.path).join("\n"));
  strictEqual(refreshes.length, 1);
  ok(refreshes[0].refresh.stoppedAtReserve);
  strictEqual(refreshes[0].refresh.segmentsRefreshed, 3);
  strictEqual(readsLeftToday(ctx), 180);
  strictEqual(sim.requests.filter((r) => r.status === 429).length, 0);
});

Deno.test("one-time never refreshes: with nothing pending it lists new activities only", async () => {
  await using world = await engineWorld({
    seed: 8,
    activities: 30,
    segments: 20,
    accessTokenTtlSeconds: 60 * 86_400, // the static test token outlives the 40 virtual days
  }, "o.db");
  const { dir, clock, sim, ctx } = world;
  await runBackfill(ctx, { mode: "activities", activities: 100, segments: 100 });
  await runBackfill(ctx, { mode: "both", activities: 100, segments: 100 });
  const before = sim.requests.length;
  clock.advance(40 * 24 * HOUR); // every segment's details are now older than --refresh-after
  const result = await runOneTime(ctx, { activities: 50, segments: 50, statePath: `${dir.path}/state.json` });
  strictEqual(result.outcome, "done");
  const sent = sim.requests.slice(before).filter((r) => r.path.startsWith("/api/"));
  strictEqual(sent.length, 1);
  ok(!isRefreshListing(sent[0]) && sent[0].query.includes("after="), sent[0].query);
});

Deno.test("continuous: a restarted process does not refresh again before --refresh-every (state file)", async () => {
  await using world = await engineWorld({
    seed: 9,
    activities: 12,
    segments: 8,
    accessTokenTtlSeconds: 30 * 86_400,
  }, "r.db");
  const { dir, clock, sim, ctx } = world;
  const run = (maxRuns: number) =>
    runContinuous(ctx, {
      activities: 50,
      segments: 50,
      intervalSeconds: 3600,
      maxRuns,
      statePath: `${dir.path}/state.json`,
      refresh: refreshOptions(),
    });
  const refreshes = () => sim.requests.filter(isRefreshListing).length;
  await run(3); // backfills everything, then refreshes once with idle budget
  strictEqual(refreshes(), 1);
  // Restarted (systemd, or --max-runs from cron) every hour for most of a day: no second refresh.
  for (let hour = 0; hour < 20; hour++) {
    clock.advance(HOUR);
    await run(1);
  }
  strictEqual(refreshes(), 1);
  clock.advance(5 * HOUR);
  await run(1);
  strictEqual(refreshes(), 2, "due again after 24 hours");
});
