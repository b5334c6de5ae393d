/**
 * Issue "Evidence before settling", the listing part: a glitchy list page (empty, cut in half,
 * a 500), an activity deleted between two pages, activities sharing a start second at a page
 * boundary. Faults are injected through the simulator; each test checks what a user would:
 * efforts stored against the simulator's truth, nothing wrongly settled or marked deleted, the
 * requests spent.
 */
import { ok, strictEqual } from "node:assert/strict";
import { runBackfill } from "../lib/backfill/engine.ts";
import { runOneTime } from "../lib/backfill/manage.ts";
import { formatRefreshSummary, runRefresh } from "../lib/backfill/refresh.ts";
import { formatRunSummary } from "../lib/backfill/summary.ts";
import { parseJson, stringifyJson } from "../lib/json.ts";
import type { Database } from "../lib/store/db.ts";
import type { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { deleteActivity, startTogether } from "../lib/testing/sim_world.ts";
import { harness, seedFromArchive } from "./backfill_harness.ts";
import { engineWorld, runScript, scriptWorld, simContext, tempDir, withDatabase } from "./helpers.ts";
import { generateArchive } from "../lib/testing/sim_archive.ts";
import { apiRequests, assertMatchesTruth } from "./truth.ts";

const LIST = /^\/api\/v3\/athlete\/activities$/;
const BIG = { read15: 100_000, readDay: 1_000_000, all15: 200_000, allDay: 2_000_000 };
const isList = (r: string) => r.startsWith("/api/v3/athlete/activities?");

/** Live activities (listed by Strava) that the database holds as settled not_found or marked deleted. */
function wronglyGone(db: Database, sim: StravaSimulator): { notFound: number; deleted: number; live: number } {
  const live = sim.truth.activities.filter((a) => !a.deleted);
  let notFound = 0, deleted = 0;
  const row = db.prepare("SELECT efforts_status s, deleted_at d FROM activities WHERE id = ?");
  for (const a of live) {
    const r = row.get(a.id) as { s: string | null; d: string | null } | undefined;
    if (r?.s === "not_found") notFound++;
    if (r?.d) deleted++;
  }
  return { notFound, deleted, live: live.length };
}

const efforts = (db: Database) =>
  Number((db.prepare("SELECT count(*) n FROM segment_efforts").get() as { n: number }).n);
const expectedEfforts = (sim: StravaSimulator) =>
  sim.truth.activities.filter((a) => !a.deleted).reduce((n, a) => n + a.effortIds.length, 0);
const figures = (db: Database, sim: StravaSimulator) => {
  const g = wronglyGone(db, sim);
  return `${g.notFound} of ${g.live} live activities settled not_found, ${g.deleted} marked deleted, ` +
    `${efforts(db)} of ${expectedEfforts(sim)} efforts`;
};

/** A simulated athlete backfilled completely (listing, efforts, segments), on a big budget. */
async function backfilled(activities: number, seed = 11) {
  const world = await engineWorld({ seed, activities, segments: 30, limits: BIG }, "r.db");
  const ctx = simContext(world.db, world.sim, world.clock, { wait: false });
  await runBackfill(ctx, { mode: "activities", activities: 10_000, segments: 10_000 });
  const done = await runBackfill(ctx, { mode: "both", activities: 10_000, segments: 10_000 });
  strictEqual(done.pendingActivities + done.pendingSegments, 0, "backfill complete");
  let seen = apiRequests(world.sim).length;
  return {
    db: world.db,
    sim: world.sim,
    refresh: () => runRefresh(ctx, { activities: 1000, segments: 0, refreshAfterDays: 30 }),
    newRequests() {
      const all = apiRequests(world.sim);
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    },
    [Symbol.asyncDispose]: () => world[Symbol.asyncDispose](),
  };
}

const pagesFor = (sim: StravaSimulator) => Math.floor(sim.truth.activities.filter((a) => !a.deleted).length / 200) + 1;

// --- The survey of an imported export (one-time mode) ----------------------------------------

Deno.test("listing: one-time on an imported 60-activity export whose first list page comes back empty once stores every effort at lower bound + 1", async () => {
  await using h = await harness({ activities: 60, wait: true, limits: BIG });
  seedFromArchive(h.db, h.sim.truth.activities);
  h.sim.addFault({ path: LIST, kind: "empty" });
  strictEqual((await h.oneTime()).outcome, "done");
  const g = wronglyGone(h.db, h.sim);
  strictEqual(g.notFound, 0, figures(h.db, h.sim));
  const needed = assertMatchesTruth(h.db, h.sim);
  const requests = h.apiRequests();
  strictEqual(requests.filter(isList).length, 2, "the empty page and the one re-ask");
  ok(requests.length <= 1 + needed + 3, `${requests.length} requests, lower bound ${1 + needed}`);
  strictEqual(requests.length, 1 + needed + 1);
});

Deno.test("listing: a survey page cut in half settles nothing wrongly; one re-ask from where it ended", async () => {
  await using h = await harness({ activities: 230, wait: true, limits: BIG });
  seedFromArchive(h.db, h.sim.truth.activities);
  h.sim.addFault({ path: LIST, kind: "truncate" });
  strictEqual((await h.oneTime()).outcome, "done");
  strictEqual(wronglyGone(h.db, h.sim).notFound, 0, figures(h.db, h.sim));
  const needed = assertMatchesTruth(h.db, h.sim);
  const lists = h.apiRequests().filter(isList);
  // 2 pages + the re-ask of the half page's end (the listing then goes on from there).
  ok(lists.length <= pagesFor(h.sim) + 1, lists.join("\n"));
  strictEqual(h.apiRequests().length, lists.length + needed);
});

Deno.test("listing: an activity deleted after page 1 was served shifts no live activity out of the survey", async () => {
  await using h = await harness({ activities: 230, wait: true, limits: BIG });
  seedFromArchive(h.db, h.sim.truth.activities);
  const live = h.sim.truth.activities.filter((a) => !a.deleted);
  // In the middle of the history: on page 1 whichever way the list is ordered.
  const victim = live[Math.floor(live.length / 2)];
  h.sim.addFault({ path: LIST, kind: "race", race: () => deleteActivity(h.sim, victim.id) });
  strictEqual((await h.oneTime()).outcome, "done");
  strictEqual(wronglyGone(h.db, h.sim).notFound, 0, figures(h.db, h.sim));
  assertMatchesTruth(h.db, h.sim);
});

Deno.test("listing: a 500 in the middle of a survey listing costs the client's retry, nothing else", async () => {
  await using h = await harness({ activities: 230, wait: true, limits: BIG });
  seedFromArchive(h.db, h.sim.truth.activities);
  h.sim.addFault({ path: LIST, kind: "500", skip: 1 });
  strictEqual((await h.oneTime()).outcome, "done");
  strictEqual(wronglyGone(h.db, h.sim).notFound, 0, figures(h.db, h.sim));
  const needed = assertMatchesTruth(h.db, h.sim);
  strictEqual(h.apiRequests().length, pagesFor(h.sim) + 1 + needed);
});

Deno.test("listing: a survey whose list keeps failing settles nothing and ends as an outage", async () => {
  await using h = await harness({ activities: 230, wait: true, limits: BIG });
  seedFromArchive(h.db, h.sim.truth.activities);
  h.sim.addFault({ path: LIST, kind: "500", skip: 1, times: 100 });
  let threw = false;
  try {
    await h.oneTime();
  } catch (err) {
    threw = /could not reach Strava|Strava failed/.test(String(err));
  }
  ok(threw, "exit 1 as an outage");
  strictEqual(wronglyGone(h.db, h.sim).notFound, 0, figures(h.db, h.sim));
  strictEqual(h.db.prepare("SELECT count(*) n FROM activities WHERE efforts_status IS NOT NULL").get()!.n, 0);
});

Deno.test("listing: an imported activity deleted on Strava since the export is still settled by the survey, at most 1 extra request", async () => {
  await using h = await harness({ activities: 60, wait: true, limits: BIG });
  const oldest = h.sim.truth.activities.find((a) => !a.deleted && !a.private && a.effortIds.length > 0)!;
  seedFromArchive(h.db, h.sim.truth.activities);
  // The oldest activity is gone: the listing's end is below a stored activity, so it is confirmed once.
  deleteActivity(h.sim, oldest.id);
  strictEqual((await h.oneTime()).outcome, "done");
  const needed = assertMatchesTruth(h.db, h.sim);
  strictEqual(
    h.db.prepare("SELECT efforts_status s FROM activities WHERE id = ?").get(oldest.id)!.s,
    "not_found",
  );
  const requests = h.apiRequests();
  ok(requests.length <= 1 + needed + 1, `${requests.length} requests, lower bound ${1 + needed}`);
  ok(!requests.includes(`/api/v3/activities/${oldest.id}?include_all_efforts=true`), "settled without a fetch");
});

// --- The refresh --------------------------------------------------------------------------

Deno.test("listing: a refresh whose list page comes back empty once marks nothing deleted", async () => {
  await using h = await backfilled(57);
  h.newRequests();
  h.sim.addFault({ path: LIST, kind: "empty" });
  const result = await h.refresh();
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0, figures(h.db, h.sim));
  strictEqual(result.refresh.deleted, 0);
  strictEqual(h.newRequests().length, 2, "the empty page and its re-ask");
});

Deno.test("listing: a refresh page cut in half marks nothing deleted", async () => {
  await using h = await backfilled(230);
  h.newRequests();
  h.sim.addFault({ path: LIST, kind: "truncate" });
  const result = await h.refresh();
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0, figures(h.db, h.sim));
  strictEqual(result.refresh.deleted, 0);
  ok(h.newRequests().length <= pagesFor(h.sim) + 1);
});

Deno.test("listing: an activity deleted between refresh pages hides no live one; the next refresh marks it", async () => {
  await using h = await backfilled(230);
  const live = h.sim.truth.activities.filter((a) => !a.deleted);
  const victim = live[Math.floor(live.length / 2)];
  h.sim.addFault({ path: LIST, kind: "race", race: () => deleteActivity(h.sim, victim.id) });
  const result = await h.refresh();
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0, figures(h.db, h.sim));
  strictEqual(result.refresh.deleted, 0, "the victim was listed on page 1");
  const next = await h.refresh();
  strictEqual(next.refresh.deleted, 1);
  ok(h.db.prepare("SELECT deleted_at d FROM activities WHERE id = ?").get(victim.id)!.d);
});

Deno.test("listing: a genuinely deleted activity is marked deleted by a refresh at the list pages + at most 1", async () => {
  await using h = await backfilled(230);
  const live = h.sim.truth.activities.filter((a) => !a.deleted);
  // The newest, a middle one and the oldest (the end of the listing moves up: one re-ask confirms it).
  for (const a of [live.at(-1)!, live[100], live[0]]) deleteActivity(h.sim, a.id);
  h.newRequests();
  const result = await h.refresh();
  strictEqual(result.refresh.deleted, 3);
  strictEqual(result.refresh.listingComplete, true);
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0);
  const requests = h.newRequests();
  ok(requests.length <= pagesFor(h.sim) + 1, requests.join("\n"));
});

Deno.test("listing: a page boundary inside one start second loses nothing and does not loop", async () => {
  await using h = await backfilled(230, 12);
  h.newRequests();
  // 12 activities share one second around the 200th newest: page 1 ends inside that second.
  const live = h.sim.truth.activities.filter((a) => !a.deleted);
  const boundary = h.sim.truth.activities.indexOf(live[live.length - 200]);
  const together = startTogether(h.sim, boundary - 6, 12);
  ok(together.length === 12);
  const result = await h.refresh();
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0, figures(h.db, h.sim));
  strictEqual(result.refresh.deleted, 0);
  strictEqual(result.run.listed.seen, live.length, "distinct ids listed");
  ok(h.newRequests().filter(isList).length <= 3);
});

Deno.test("listing: 250 activities in one start second are all listed, by page within the second", async () => {
  await using h = await backfilled(300, 13);
  h.newRequests();
  startTogether(h.sim, 20, 250);
  const result = await h.refresh();
  strictEqual(result.refresh.deleted, 0, figures(h.db, h.sim));
  strictEqual(result.run.listed.seen, h.sim.truth.activities.filter((a) => !a.deleted).length);
  ok(h.newRequests().filter(isList).length <= 5);
});

Deno.test("manage_backfill --mode one-time: an imported 60-activity export, first list page empty once: every effort, lower bound + 1, exit 0", async () => {
  await using world = await scriptWorld({ seed: 3, activities: 60, segments: 40, limits: BIG });
  const { dir, sim, opts } = world;
  await Deno.writeTextFile(`${dir.path}/activities.csv`, generateArchive(sim.truth, { headerVersion: 2026 }));
  const imported = await runScript("import_archive", ["activities.csv"], opts);
  strictEqual(imported.code, 0, imported.stderr);
  sim.addFault({ path: LIST, kind: "empty" });
  const r = await runScript("manage_backfill", ["--mode", "one-time"], opts);
  withDatabase(dir.path, (db) => {
    const why = `${figures(db, sim)}; exit ${r.code}; last line: ${r.stdout.trim().split("\n").at(-1)}`;
    strictEqual(wronglyGone(db, sim).notFound, 0, why);
    strictEqual(r.code, 0, r.stderr);
    const needed = assertMatchesTruth(db, sim);
    const requests = apiRequests(sim);
    ok(requests.length <= 1 + needed + 3, `${requests.length} requests, lower bound ${1 + needed}`);
    // Only list pages beyond the lower bound.
    strictEqual(requests.length - requests.filter(isList).length, needed);
    // This seed's export holds 6 of 60 activities deleted on Strava since (over 5%): a second
    // listing confirms them. So: the empty page, its re-ask, the second listing.
    strictEqual(sim.truth.activities.filter((a) => a.deleted).length, 6);
    strictEqual(requests.filter(isList).length, 3, requests.filter(isList).join("\n"));
  });
  strictEqual(r.stdout.trim().split("\n").at(-1), "done: nothing pending");
});

// --- A listing that would remove too much; a listing that is no evidence -------------------

/** A list page with every third activity left out (the oldest kept, so the end looks confirmed). */
const dropThirds = (text: string) => {
  const list = parseJson(text) as unknown[];
  return stringifyJson(list.filter((_, i) => i % 3 !== 1 || i === list.length - 1));
};

Deno.test("listing: a refresh page that silently leaves out a third is listed again; nothing marked deleted", async () => {
  await using h = await backfilled(60);
  h.newRequests();
  h.sim.addFault({ path: LIST, kind: "rewrite", rewrite: dropThirds });
  const result = await h.refresh();
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0, figures(h.db, h.sim));
  strictEqual(result.refresh.deleted, 0);
  strictEqual(result.refresh.listingComplete, true, "the second listing is the evidence");
  strictEqual(h.newRequests().length, 2, "two listings of one page");
});

Deno.test("listing: many genuine deletions are confirmed by a second listing and marked deleted", async () => {
  await using h = await backfilled(60);
  const live = h.sim.truth.activities.filter((a) => !a.deleted);
  const gone = live.slice(5, 15);
  for (const a of gone) deleteActivity(h.sim, a.id);
  h.newRequests();
  const result = await h.refresh();
  strictEqual(result.refresh.deleted, gone.length);
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0);
  strictEqual(h.newRequests().length, 2, "the listing and the second one");
});

Deno.test("listing: a refresh whose list keeps coming back empty concludes nothing and says so", async () => {
  await using h = await backfilled(60);
  h.newRequests();
  h.sim.addFault({ path: LIST, kind: "empty", times: 2 });
  const result = await h.refresh();
  strictEqual(result.refresh.deleted, 0);
  strictEqual(result.refresh.listingComplete, false);
  strictEqual(wronglyGone(h.db, h.sim).deleted, 0);
  strictEqual(h.newRequests().length, 2, "the empty page and one re-ask");
  const lines = formatRefreshSummary(result);
  ok(lines.some((l) => /nothing concluded from absence/.test(l)), lines.join("\n"));
  // A second listing that fails to confirm the first concludes nothing either.
  h.sim.addFault({ path: LIST, kind: "rewrite", rewrite: dropThirds });
  h.sim.addFault({ path: LIST, kind: "empty", times: 2 });
  const again = await h.refresh();
  strictEqual(again.refresh.deleted, 0);
  ok(/second listing/.test(again.run.listed.absence ?? ""), again.run.listed.absence);
  strictEqual(h.newRequests().length, 3);
  // The next listing that answers is evidence again: nothing was lost.
  const next = await h.refresh();
  strictEqual(next.refresh.listingComplete, true);
  strictEqual(next.refresh.deleted, 0);
});

Deno.test("listing: a survey whose list keeps coming back empty settles nothing; the activities are fetched one by one", async () => {
  await using h = await harness({ activities: 60, wait: true, limits: BIG });
  seedFromArchive(h.db, h.sim.truth.activities);
  h.sim.addFault({ path: LIST, kind: "empty", times: 5 });
  await using dir = await tempDir();
  const lines: string[] = [];
  const result = await runOneTime(h.ctx, {
    activities: 50,
    segments: 50,
    statePath: `${dir.path}/state.json`,
    onBatch: (s, mode) => lines.push(...formatRunSummary(s, mode, 0)),
  });
  strictEqual(result.outcome, "done");
  strictEqual(wronglyGone(h.db, h.sim).notFound, 0);
  // Nothing learnt from the list either: GPS-less ones are fetched too (stored with no efforts).
  strictEqual(efforts(h.db), expectedEfforts(h.sim));
  ok(lines.some((l) => /^listing: .*nothing concluded from absence/.test(l)), lines.join("\n"));
});

Deno.test("listing: a Strava that answers every page with the same activities ends the listing; nothing concluded", async () => {
  await using h = await backfilled(230);
  h.newRequests();
  let first: string | undefined;
  h.sim.addFault({ path: LIST, kind: "rewrite", rewrite: (text) => first ??= text, times: 100 });
  const result = await h.refresh();
  strictEqual(result.refresh.deleted, 0);
  ok(/only activities it had listed already/.test(result.run.listed.absence ?? ""), result.run.listed.absence);
  strictEqual(h.newRequests().length, 2);
});

// --- Counting ----------------------------------------------------------------------------

Deno.test("listing: a page holding one activity twice counts it once", async () => {
  await using h = await harness({ activities: 40, wait: true, limits: BIG });
  h.sim.addFault({
    path: LIST,
    kind: "rewrite",
    rewrite: (text) => {
      const list = parseJson(text) as unknown[];
      return stringifyJson([list[0], ...list]);
    },
  });
  const summary = await h.run({ mode: "activities" });
  const live = h.sim.truth.activities.filter((a) => !a.deleted).length;
  strictEqual(summary.listed.seen, live);
  ok(formatRunSummary(summary, "activities", 0)[0].includes(`new from ${live} listed`));
});
