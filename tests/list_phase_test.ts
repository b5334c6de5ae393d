import { ok, strictEqual } from "node:assert/strict";
import { harness, seedFromArchive } from "./backfill_harness.ts";
import { assertMatchesTruth } from "./truth.ts";

const LIST = "/api/v3/athlete/activities?";

Deno.test("list_phase: one-time on an imported export lists once (the survey is the listing): requests = lower bound", async () => {
  await using h = await harness({ activities: 80, wait: true });
  seedFromArchive(h.db, h.sim.truth.activities);
  strictEqual((await h.oneTime()).outcome, "done");
  const requests = h.apiRequests();
  strictEqual(requests.filter((r) => r.startsWith(LIST)).length, 1, requests.filter((r) => r.startsWith(LIST)).join());
  const needed = assertMatchesTruth(h.db, h.sim);
  strictEqual(requests.length, 1 + needed, "list page + fetchable activities + distinct segments");
  strictEqual(new Set(requests).size, requests.length, "no request twice");
});

Deno.test("list_phase: one-time on an empty database lists once: requests = lower bound", async () => {
  await using h = await harness({ activities: 80, wait: true });
  strictEqual((await h.oneTime()).outcome, "done");
  const requests = h.apiRequests();
  strictEqual(requests.filter((r) => r.startsWith(LIST)).length, 1);
  strictEqual(requests.length, 1 + assertMatchesTruth(h.db, h.sim));
});

Deno.test("list_phase: once surveyed, the next listing asks only for activities after the newest", async () => {
  await using h = await harness({ activities: 80, wait: true });
  seedFromArchive(h.db, h.sim.truth.activities);
  await h.run({ mode: "activities" });
  await h.run({ mode: "activities" });
  const lists = h.apiRequests().filter((r) => r.startsWith(LIST));
  strictEqual(lists.length, 2);
  // The survey lists the whole history newest first (by `before=` after its first page); the
  // next listing asks for what started after the newest stored start, less a second.
  ok(!lists[0].includes("after="), lists[0]);
  const newest = Math.max(...h.sim.truth.activities.filter((a) => !a.deleted).map((a) => a.startEpoch));
  ok(lists[1].includes(`after=${newest - 1}&`), lists[1]);
});
