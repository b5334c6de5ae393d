/**
 * Segment efforts of a simulated activity: popular segments of the activity's kind, in time
 * order, each effort with an id above 2^53 (ids only grow, like Strava's).
 */
import type { Rng } from "./sim_random.ts";
import { isoSeconds } from "./sim_geo.ts";
import type { SegmentEntry, SegmentPool } from "./sim_segments.ts";
import type { ActivityFacts } from "./sim_activity.ts";
import type { Json } from "./sim_truth.ts";

/** Draws effort ids from one growing sequence shared by all activities of an athlete. */
export interface EffortIds {
  next(r: Rng): bigint;
}

/** The efforts of the activity described by `f`. */
export function makeEfforts(r: Rng, pool: SegmentPool, ids: EffortIds, athleteRef: Json, f: ActivityFacts): Json[] {
  const timed = chooseSegments(r, pool, f).map((seg) => {
    const effortSpeed = Math.max(0.5, f.speed * r.float(0.8, 1.2, 3));
    const elapsed = Math.max(5, Math.round(seg.distance / effortSpeed));
    const at = r.int(0, Math.max(0, f.movingTime - elapsed));
    return { seg, elapsed, at };
  }).sort((a, b) => a.at - b.at);
  // Shared by every effort of the activity (read-only data, serialized per response).
  const activityRef = { id: f.id, visibility: f.visibility, resource_state: 1 };
  return timed.map(({ seg, elapsed, at }) => {
    const id = ids.next(r);
    const x = r.next();
    const prRank = x < 0.1 ? 1 : x < 0.15 ? 2 : x < 0.2 ? 3 : null;
    const komRank = r.chance(0.01) ? r.int(1, 10) : null;
    const achievements: Json[] = [];
    if (komRank !== null) achievements.push({ type_id: 2n, type: "overall", rank: komRank });
    if (prRank !== null) achievements.push({ type_id: 3n, type: "pr", rank: prRank });
    const moving = r.chance(0.8) ? elapsed : Math.max(1, elapsed - r.int(1, 10));
    const hr = f.hasHr ? r.float(125, 175, 1) : null;
    // Built key by key (not with spreads) for speed; the key order is the recorded one.
    const effort: Json = {
      id,
      resource_state: 2,
      name: seg.summary.name,
      activity: activityRef,
      athlete: athleteRef,
      elapsed_time: elapsed,
      moving_time: moving,
      start_date: isoSeconds(f.start + at),
      start_date_local: isoSeconds(f.start + at + f.offset),
      distance: Math.round(seg.distance * r.float(0.99, 1.02, 4) * 10) / 10,
      start_index: at,
      end_index: at + elapsed,
    };
    if (f.kind !== "run" && f.kind !== "walk") effort.average_cadence = r.float(70, 100, 1);
    effort.device_watts = f.watts !== null;
    if (f.watts !== null) effort.average_watts = Math.round(f.watts * r.float(0.9, 1.35, 3) * 10) / 10;
    if (hr !== null) {
      effort.average_heartrate = hr;
      effort.max_heartrate = Math.round(hr + r.float(3, 15, 0));
    }
    effort.segment = seg.summary;
    effort.pr_rank = prRank;
    effort.achievements = achievements;
    effort.visibility = f.visibility;
    effort.kom_rank = komRank;
    effort.hidden = r.chance(0.03);
    return effort;
  });
}

/** Which pool segments the activity passes, by popularity (none for an empty pool). */
function chooseSegments(r: Rng, segments: SegmentPool, f: ActivityFacts): SegmentEntry[] {
  const kind = f.kind;
  const poolKind = kind === "virtual" ? "virtual" : kind === "run" || kind === "walk" ? "run" : "ride";
  let pool = segments.byKind.get(poolKind)!;
  if (pool.entries.length === 0) pool = segments.byKind.get("ride")!;
  if (pool.entries.length === 0) return [];
  const want = kind === "ride"
    ? r.int(2, 18)
    : kind === "run"
    ? r.int(1, 10)
    : kind === "virtual"
    ? r.int(2, 8)
    : r.int(0, 2);
  const chosen: SegmentEntry[] = [];
  const seen = new Set<bigint>();
  for (let attempts = 0; chosen.length < want && attempts < want * 4; attempts++) {
    const e = pool.entries[r.weightedIndex(pool.cumulative)];
    if (e.distance > f.distance * 0.9) continue; // a segment longer than the activity cannot be on it
    // A segment ridden twice in one activity (laps) is rare but real: two efforts, one segment.
    if (seen.has(e.id) && !r.chance(0.05)) continue;
    seen.add(e.id);
    chosen.push(e);
  }
  return chosen;
}
