import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { parseJson } from "../lib/json.ts";
import { type Json, StravaSimulator } from "../lib/testing/strava_sim.ts";
import { addActivities, changeSegment, cropActivity, deleteActivity, editActivity } from "../lib/testing/sim_world.ts";

async function get(sim: StravaSimulator, token: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await sim.fetch(`${sim.apiUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: parseJson(await res.text()) };
}

const withEfforts = (sim: StravaSimulator) =>
  sim.truth.activities.filter((a) => !a.deleted && !a.private && a.effortIds.length >= 3);

Deno.test("sim_world: edits, crops, deletions, uploads and segment changes show in the next answers", async () => {
  const sim = StravaSimulator.inProcess({ activities: 40, segments: 20 });
  const token = sim.issueTokens().access_token;
  const [edited, cropped, deleted] = withEfforts(sim);

  editActivity(sim, edited.id, { name: "Renamed ride", commute: true, gear_id: null });
  const listed = (await get(sim, token, "/athlete/activities?per_page=200")).body as Json[];
  const summary = listed.find((a) => a.id === edited.id)!;
  strictEqual(summary.name, "Renamed ride");
  strictEqual(summary.commute, true);
  strictEqual(((await get(sim, token, `/activities/${edited.id}`)).body as Json).name, "Renamed ride");

  const before = cropped.effortIds.length;
  const distance = cropped.distance;
  const removed = cropActivity(sim, cropped.id, 0.5);
  ok(removed.length >= 1);
  strictEqual(cropped.effortIds.length, before - removed.length);
  const detail = (await get(sim, token, `/activities/${cropped.id}?include_all_efforts=true`)).body as Json;
  deepStrictEqual((detail.segment_efforts as Json[]).map((e) => e.id), cropped.effortIds);
  ok((detail.distance as number) < distance);
  const listedCrop = ((await get(sim, token, "/athlete/activities?per_page=200")).body as Json[])
    .find((a) => a.id === cropped.id)!;
  strictEqual(listedCrop.elapsed_time, detail.elapsed_time);
  strictEqual(listedCrop.distance, detail.distance);

  deleteActivity(sim, deleted.id);
  strictEqual((await get(sim, token, `/activities/${deleted.id}`)).status, 404);

  const [added] = addActivities(sim, 1);
  const newest = ((await get(sim, token, "/athlete/activities?per_page=1")).body as Json[])[0];
  strictEqual(newest.id, added.id);

  const segmentId = [...sim.truth.segments.keys()].find((id) =>
    sim.truth.activities.some((a) => a.segmentIds.includes(id))
  )!;
  changeSegment(sim, segmentId, { name: "New name", effort_count: 123456, athlete_count: 7890 });
  const segment = (await get(sim, token, `/segments/${segmentId}`)).body as Json;
  deepStrictEqual([segment.name, segment.effort_count, segment.athlete_count], ["New name", 123456, 7890]);
  const rider = sim.truth.activities.find((a) => a.segmentIds.includes(segmentId))!;
  const effort = (rider.detail.segment_efforts as Json[]).find((e) => (e.segment as Json).id === segmentId)!;
  strictEqual((effort.segment as Json).name, "New name");

  throws(() => cropActivity(sim, cropped.id, 1.5), RangeError);
  throws(() => changeSegment(sim, 1n, { name: "x" }), RangeError);
  await sim.close();
});
