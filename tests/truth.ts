/** Record-by-record comparison of a finished backfill with the simulator's truth. */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type Database, prepareExact } from "../lib/store/db.ts";
import { parseJson, stringifyJson } from "../lib/json.ts";
import type { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { expectedBackfill } from "../lib/testing/sim_truth.ts";

/** A truth record as it travels over the wire (JSON has no -0). */
export function wire(value: unknown): unknown {
  return parseJson(stringifyJson(value));
}

/** Status of every row of `table`, by id. */
export function statuses(db: Database, table: "activities" | "segments"): Map<bigint, string | null> {
  const column = table === "activities" ? "efforts_status" : "details_status";
  const rows = prepareExact(db, `SELECT id, ${column} s FROM ${table}`).all() as { id: bigint; s: string | null }[];
  return new Map(rows.map((r) => [r.id, r.s]));
}

/**
 * Asserts that `db` holds exactly what a complete backfill of the listed activities must:
 * statuses, every effort (exact ids, whole record), every segment's details or settlement.
 * Returns how many API requests such a backfill needs at the least.
 */
export function assertMatchesTruth(db: Database, sim: StravaSimulator, scope = "read,activity:read_all"): number {
  const expected = expectedBackfill(sim.truth, scope);
  const activityStatus = statuses(db, "activities");
  // An old export still holds activities deleted since: they must be settled not_found.
  for (const a of sim.truth.activities.filter((a) => a.deleted && activityStatus.has(a.id))) {
    strictEqual(activityStatus.get(a.id), "not_found", `deleted activity ${a.id}`);
    activityStatus.delete(a.id);
  }
  strictEqual(activityStatus.size, expected.activities.length, "activity count");
  for (const a of expected.activities) {
    strictEqual(activityStatus.get(a.id), a.manual || !a.hasGps ? "skipped" : "ok", `activity ${a.id} (${a.kind})`);
  }
  const fetchable = new Set(expected.activities.filter((a) => !a.manual && a.hasGps).map((a) => a.id));
  const efforts = prepareExact(db, "SELECT id, activity_id, segment_id, raw_json FROM segment_efforts").all() as {
    id: bigint;
    activity_id: bigint;
    segment_id: bigint;
    raw_json: string;
  }[];
  const expectedEfforts = [...expected.efforts.values()].filter((e) =>
    fetchable.has((e.activity as { id: bigint }).id)
  );
  strictEqual(efforts.length, expectedEfforts.length, "effort count");
  ok(efforts.length > 0);
  for (const row of efforts) {
    ok(row.id > 2n ** 53n, "effort ids above 2^53");
    deepStrictEqual(parseJson(row.raw_json), wire(expected.efforts.get(row.id)), `effort ${row.id}`);
  }
  const segmentStatus = statuses(db, "segments");
  const ridden = new Set(efforts.map((e) => e.segment_id));
  strictEqual(segmentStatus.size, ridden.size, "segment count");
  for (const id of ridden) strictEqual(segmentStatus.get(id), expected.segments.get(id), `segment ${id}`);
  for (const row of prepareExact(db, "SELECT id, raw_json FROM segments WHERE details_status = 'ok'").all()) {
    deepStrictEqual(parseJson(row.raw_json as string), wire(sim.truth.segments.get(row.id as bigint)));
  }
  return fetchable.size + ridden.size;
}

/** API requests (not OAuth) the simulator saw, as "path?query". */
export function apiRequests(sim: StravaSimulator): string[] {
  return sim.requests.filter((r) => r.path.startsWith("/api/")).map((r) => `${r.path}?${r.query}`);
}
