import { notDeepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type Json, StravaSimulator, toJsonText } from "../lib/testing/strava_sim.ts";
import { TWO_53 } from "./sim_helpers.ts";

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
