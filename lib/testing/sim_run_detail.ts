/**
 * What a DetailedActivity of a run carries besides the common fields, as recorded
 * (tests/fixtures/strava/detailed_activity_with_segment_efforts.json): splits per kilometre and
 * per mile, best efforts, similar activities and a lap's pace zone. Only splits_metric draws from
 * the random stream (it did before the others existed); the rest is computed from the activity's
 * facts, so adding them left every seed's athlete, efforts and segments as they were.
 */
import type { Rng } from "./sim_random.ts";
import { isoSeconds } from "./sim_geo.ts";
import type { Json } from "./sim_truth.ts";

/** The facts of a run these fields are computed from (a part of sim_activity.ts's ActivityFacts). */
export interface RunFacts {
  id: bigint;
  /** Start (epoch seconds) and its UTC offset (seconds). */
  start: number;
  offset: number;
  distance: number;
  speed: number;
  movingTime: number;
  visibility: string;
  averageHr: number | null;
}

const MILE = 1609.34;

/** Strava's best-effort distances (metres) and names. */
const BEST_EFFORTS: [number, string][] = [
  [400, "400m"],
  [805, "1/2 mile"],
  [1000, "1K"],
  [1609, "1 mile"],
  [3219, "2 mile"],
  [5000, "5K"],
  [10000, "10K"],
  [15000, "15K"],
  [16090, "10 mile"],
  [20000, "20K"],
  [21097, "Half-Marathon"],
  [30000, "30K"],
  [42195, "Marathon"],
];

/** A fixed factor within ±8 % for the `i`-th item of activity `id` (variety without drawing). */
function wobble(id: bigint, i: number): number {
  return 1 + ((Number(id % 9973n) * 31 + i * 17) % 17 - 8) / 100;
}

/** Strava's pace zone (1-6) of a running speed in m/s. */
export function paceZone(speed: number): number {
  return Math.min(6, Math.max(1, Math.floor(speed / 0.6) - 2));
}

/** splits_metric of a run: one split per kilometre (at most 50), drawn from the random stream. */
export function metricSplits(r: Rng, distance: number, speed: number, hr: number | null): Json[] {
  const out: Json[] = [];
  const n = Math.min(50, Math.ceil(distance / 1000));
  for (let i = 0; i < n; i++) {
    const d = i === n - 1 ? Math.round((distance - 1000 * (n - 1)) * 10) / 10 : 1000;
    const s = Math.round(speed * r.float(0.92, 1.08, 3) * 100) / 100;
    const t = Math.max(1, Math.round(d / s));
    const split: Json = {
      distance: d,
      elapsed_time: t,
      elevation_difference: r.float(-10, 10, 1),
      moving_time: t,
      split: i + 1,
      average_speed: s,
      average_grade_adjusted_speed: s,
    };
    if (hr !== null) split.average_heartrate = hr + r.float(-5, 5, 2);
    split.pace_zone = r.int(1, 4);
    out.push(split);
  }
  return out;
}

/** splits_standard of a run: one split per mile (at most 50), computed from the facts. */
export function standardSplits(f: RunFacts): Json[] {
  const out: Json[] = [];
  const n = Math.min(50, Math.ceil(f.distance / MILE));
  for (let i = 0; i < n; i++) {
    const d = Math.round((i === n - 1 ? f.distance - MILE * (n - 1) : MILE) * 10) / 10;
    const s = Math.round(f.speed * wobble(f.id, i) * 100) / 100;
    const t = Math.max(1, Math.round(d / s));
    const split: Json = {
      distance: d,
      elapsed_time: t,
      elevation_difference: Math.round((wobble(f.id, i + 7) - 1) * 100) / 10,
      moving_time: t,
      split: i + 1,
      average_speed: s,
      average_grade_adjusted_speed: s,
    };
    if (f.averageHr !== null) split.average_heartrate = Math.round(f.averageHr * wobble(f.id, i + 3) * 100) / 100;
    split.pace_zone = paceZone(s);
    out.push(split);
  }
  return out;
}

/** best_efforts of a run: each standard distance it covers, some of them a PR. */
export function bestEfforts(f: RunFacts, athleteRef: Json): Json[] {
  const activity = { id: f.id, visibility: f.visibility, resource_state: 1 };
  return BEST_EFFORTS.filter(([d]) => d <= f.distance).map(([distance, name], i) => {
    const time = Math.max(1, Math.round(distance / (f.speed * wobble(f.id, i + 11))));
    const at = Math.max(0, Math.round((f.movingTime - time) * (wobble(f.id, i) - 0.92) / 0.16));
    const rank = (Number(f.id % 7n) + i) % 5 === 0 ? 1 + (i % 3) : null;
    return {
      id: f.id * 64n + BigInt(i),
      resource_state: 2,
      name,
      activity,
      athlete: athleteRef,
      elapsed_time: time,
      moving_time: time,
      start_date: isoSeconds(f.start + at),
      start_date_local: isoSeconds(f.start + at + f.offset),
      distance,
      pr_rank: rank,
      achievements: rank === null ? [] : [{ type_id: 3n, type: "pr", rank }],
      start_index: at,
      end_index: at + time,
    };
  });
}

/** similar_activities of a run: how it compares with the athlete's runs on the same route. */
export function similarActivities(f: RunFacts): Json {
  const speeds = [0, 1, 2, 3].map((i) => Math.round(f.speed * wobble(f.id, i + 5) * 1000) / 1000);
  const min = Math.min(...speeds);
  const max = Math.max(...speeds);
  const mid = [...speeds].sort((a, b) => a - b)[2];
  return {
    effort_count: speeds.length,
    average_speed: f.speed,
    min_average_speed: min,
    mid_average_speed: mid,
    max_average_speed: max,
    pr_rank: 1 + speeds.filter((s) => s > f.speed).length,
    frequency_milestone: null,
    trend: { speeds, current_activity_index: 0, min_speed: min, mid_speed: mid, max_speed: max, direction: 0 },
    resource_state: 2,
  };
}
