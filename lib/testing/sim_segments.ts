/**
 * The simulated athlete's segment pool: segments of three kinds (ride, run, virtual) shared
 * between activities, popular ones ridden often, some removed (404) and some private (403
 * without read_all). Shapes follow the recorded SummarySegment / DetailedSegment.
 */
import type { Rng } from "./sim_random.ts";
import { clockText, encodePolyline, HOME, isoSeconds, WATOPIA } from "./sim_geo.ts";
import { CITIES, ODD_SEGMENT_NAMES, SEGMENT_PLACES, SEGMENT_SUFFIXES, VIRTUAL_SEGMENTS } from "./sim_names.ts";
import type { Json, SimTruth } from "./sim_truth.ts";

/** One pool segment with what the API answers for it. */
export interface SegmentEntry {
  id: bigint;
  kind: "ride" | "run" | "virtual";
  summary: Json;
  detail: Json;
  distance: number;
  /** Athlete's efforts on it (non-deleted activities), for athlete_segment_stats. */
  stats: { count: number; prTime: number | null; prDate: string | null; prActivityId: bigint | null };
}

/** The pool, and per kind its segments with cumulative popularity weights (for weighted picks). */
export interface SegmentPool {
  entries: SegmentEntry[];
  byKind: Map<SegmentEntry["kind"], { entries: SegmentEntry[]; cumulative: number[] }>;
}

/** Generates `count` segments; records the removed and private ones (and details of the others) in `truth`. */
export function makeSegmentPool(r: Rng, count: number, truth: SimTruth): SegmentPool {
  const pool: SegmentEntry[] = [];
  const nVirtual = count >= 5 ? Math.max(1, Math.round(count * 0.1)) : 0;
  const nRun = count >= 3 ? Math.max(1, Math.round(count * 0.3)) : 0;
  // Some segments disappear (404) or are private (403 without read_all): at least one of each.
  const nNotFound = count >= 4 ? Math.max(1, Math.round(count * 0.06)) : 0;
  const nPrivate = count >= 4 ? Math.max(1, Math.round(count * 0.04)) : 0;
  const special = r.sample(count, nNotFound + nPrivate);
  const notFound = new Set(special.slice(0, nNotFound));
  const privateIdx = new Set(special.slice(nNotFound));
  let id = 600_000n;
  for (let i = 0; i < count; i++) {
    id += BigInt(r.int(1, 900_000));
    const kind = i < nVirtual ? "virtual" : i < nVirtual + nRun ? "run" : "ride";
    const entry = makeSegment(r, id, kind, privateIdx.has(i), i);
    pool.push(entry);
    if (notFound.has(i)) truth.notFoundSegments.add(id);
    else truth.segments.set(id, entry.detail);
    if (privateIdx.has(i)) truth.privateSegments.add(id);
  }
  // Popularity: a Zipf-like weight per segment, in a random order so popular ones are of every kind.
  const rank = r.sample(count, count);
  const byKind: SegmentPool["byKind"] = new Map();
  for (const kind of ["ride", "run", "virtual"] as const) {
    const entries: SegmentEntry[] = [];
    const cumulative: number[] = [];
    let sum = 0;
    pool.forEach((e, i) => {
      if (e.kind !== kind) return;
      entries.push(e);
      cumulative.push(sum += 1 / (1 + rank[i]) ** 0.9);
    });
    byKind.set(kind, { entries, cumulative });
  }
  return { entries: pool, byKind };
}

/** Name, length, grades, elevations and track of a new segment. */
interface SegmentShape {
  name: string;
  distance: number;
  averageGrade: number;
  maximumGrade: number;
  elevationLow: number;
  elevationHigh: number;
  points: [number, number][];
  climb: number;
}

function segmentShape(r: Rng, kind: SegmentEntry["kind"], index: number): SegmentShape {
  const name = kind === "virtual"
    ? `${r.pick(VIRTUAL_SEGMENTS)}${index % 3 === 0 ? " Reverse" : ""}`
    : r.chance(0.08)
    ? r.pick(ODD_SEGMENT_NAMES)
    : `${r.pick(SEGMENT_PLACES)} ${r.pick(SEGMENT_SUFFIXES)}`;
  const distance = kind === "run" ? r.float(200, 5000, 2) : r.float(400, 12000, 2);
  const averageGrade = r.float(-3, 8, 1);
  const maximumGrade = Math.round((Math.max(averageGrade, 0) + r.float(1, 12, 1)) * 10) / 10;
  const base = kind === "virtual" ? WATOPIA : HOME;
  const elevationLow = kind === "virtual" ? r.float(0, 300, 1) : r.float(1600, 1900, 1);
  const rise = Math.abs(averageGrade) * distance / 100;
  const elevationHigh = Math.round((elevationLow + rise) * 10) / 10;
  const points: [number, number][] = [];
  let lat = base[0] + r.float(-0.15, 0.15, 6);
  let lng = base[1] + r.float(-0.15, 0.15, 6);
  const steps = 10;
  const dLat = r.float(-1, 1, 6) * distance / 111_000 / steps;
  const dLng = r.float(-1, 1, 6) * distance / 85_000 / steps;
  for (let i = 0; i <= steps; i++) {
    points.push([Math.round(lat * 1e6) / 1e6, Math.round(lng * 1e6) / 1e6]);
    lat += dLat + r.float(-0.0004, 0.0004, 6);
    lng += dLng + r.float(-0.0004, 0.0004, 6);
  }
  const climb = rise > 600 ? 5 : rise > 400 ? 4 : rise > 250 ? 3 : rise > 150 ? 2 : rise > 80 ? 1 : 0;
  return { name, distance, averageGrade, maximumGrade, elevationLow, elevationHigh, points, climb };
}

function makeSegment(
  r: Rng,
  id: bigint,
  kind: SegmentEntry["kind"],
  isPrivate: boolean,
  index: number,
): SegmentEntry {
  const shape = segmentShape(r, kind, index);
  const summary = segmentSummary(r, id, kind, shape, isPrivate);
  const detail = segmentDetail(r, id, shape, summary);
  return {
    id,
    kind,
    summary,
    detail,
    distance: shape.distance,
    stats: { count: 0, prTime: null, prDate: null, prActivityId: null },
  };
}

function segmentSummary(r: Rng, id: bigint, kind: SegmentEntry["kind"], shape: SegmentShape, isPrivate: boolean): Json {
  const virtual = kind === "virtual";
  return {
    id,
    resource_state: 2,
    name: shape.name,
    activity_type: kind === "run" ? "Run" : virtual ? "VirtualRide" : "Ride",
    distance: shape.distance,
    average_grade: shape.averageGrade,
    maximum_grade: shape.maximumGrade,
    elevation_high: shape.elevationHigh,
    elevation_low: shape.elevationLow,
    start_latlng: shape.points[0],
    end_latlng: shape.points[shape.points.length - 1],
    elevation_profile: null,
    elevation_profiles: null,
    climb_category: shape.climb,
    city: virtual ? null : r.pick(CITIES),
    state: virtual ? null : "CO",
    country: virtual ? null : "United States",
    private: isPrivate,
    hazardous: r.chance(0.02),
    starred: r.chance(0.05),
  };
}

function segmentDetail(r: Rng, id: bigint, shape: SegmentShape, summary: Json): Json {
  const { distance, elevationHigh, elevationLow } = shape;
  const profileKey = r.hex(24).toUpperCase();
  const effortCount = r.int(200, 400_000);
  const kom = r.int(Math.round(distance / 14), Math.round(distance / 9) + 1);
  const legend = r.int(3, 40);
  const createdYear = r.int(2010, 2021);
  return {
    id,
    resource_state: 3,
    name: shape.name,
    activity_type: summary.activity_type,
    distance,
    average_grade: shape.averageGrade,
    maximum_grade: shape.maximumGrade,
    elevation_high: elevationHigh,
    elevation_low: elevationLow,
    start_latlng: summary.start_latlng,
    end_latlng: summary.end_latlng,
    elevation_profile: `https://d3o5xota0a1fcr.cloudfront.net/v6/charts/${profileKey}`,
    elevation_profiles: {
      light_url: `https://d3o5xota0a1fcr.cloudfront.net/v6/charts/${profileKey}`,
      dark_url: `https://d3o5xota0a1fcr.cloudfront.net/v6/charts/${profileKey}D`,
    },
    climb_category: shape.climb,
    city: summary.city,
    state: summary.state,
    country: summary.country,
    private: summary.private,
    hazardous: summary.hazardous,
    starred: summary.starred,
    created_at: isoSeconds(Date.UTC(createdYear, r.int(0, 11), r.int(1, 28), r.int(0, 23), r.int(0, 59)) / 1000),
    updated_at: isoSeconds(Date.UTC(r.int(createdYear + 1, 2025), r.int(0, 11), r.int(1, 28), r.int(0, 23)) / 1000),
    total_elevation_gain: Math.round(Math.max(0, elevationHigh - elevationLow) * 10) / 10,
    map: { id: `s${id}`, polyline: encodePolyline(shape.points), resource_state: 3 },
    effort_count: effortCount,
    athlete_count: Math.max(1, Math.round(effortCount / r.float(2, 8, 2))),
    star_count: r.int(0, 3000),
    athlete_segment_stats: { pr_elapsed_time: null, pr_date: null, effort_count: 0 },
    xoms: {
      kom: clockText(kom),
      qom: clockText(Math.round(kom * 1.15)),
      overall: clockText(kom),
      destination: { href: `strava://segments/${id}/leaderboard`, type: "overall", name: "All-Time" },
    },
    local_legend: {
      athlete_id: BigInt(r.int(1_000_000, 150_000_000)),
      title: `${r.pick(["Maria", "Dev", "Chris", "Lena"])} ${r.pick(["Ortiz", "Patel", "Nguyen", "Berg"])}`,
      profile: "https://dgalywyr863hv.cloudfront.net/pictures/athletes/0/0/2/large.jpg",
      effort_description: `${legend} efforts in the last 90 days`,
      effort_count: String(legend),
      effort_counts: { overall: `${legend} efforts`, female: `${Math.floor(legend / 3)} efforts` },
      destination: `strava://segments/${id}/local_legend?categories%5B%5D=overall`,
    },
  };
}

/** Recomputes athlete_segment_stats (count, PR) of `segmentIds` from the activities not deleted. */
export function recomputeSegmentStats(pool: SegmentPool, truth: SimTruth, segmentIds: Set<bigint>): void {
  if (segmentIds.size === 0) return;
  const byId = new Map(pool.entries.map((e) => [e.id, e]));
  for (const id of segmentIds) {
    const e = byId.get(id)!;
    e.stats = { count: 0, prTime: null, prDate: null, prActivityId: null };
  }
  for (const a of truth.activities) {
    if (a.deleted) continue;
    for (const effort of a.detail.segment_efforts as Json[]) {
      const segmentId = (effort.segment as Json).id as bigint;
      if (!segmentIds.has(segmentId)) continue;
      const s = byId.get(segmentId)!.stats;
      s.count++;
      const t = effort.elapsed_time as number;
      if (s.prTime === null || t < s.prTime) {
        s.prTime = t;
        s.prDate = (effort.start_date_local as string).slice(0, 10);
        s.prActivityId = a.id;
      }
    }
  }
  for (const id of segmentIds) {
    const e = byId.get(id)!;
    e.detail.athlete_segment_stats = e.stats.count === 0 ? { pr_elapsed_time: null, pr_date: null, effort_count: 0 } : {
      pr_elapsed_time: e.stats.prTime,
      pr_date: e.stats.prDate,
      pr_visibility: "everyone",
      pr_activity_id: e.stats.prActivityId,
      pr_activity_visibility: "everyone",
      effort_count: e.stats.count,
    };
  }
}
