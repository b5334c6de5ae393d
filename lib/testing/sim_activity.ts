/**
 * One simulated activity: its SummaryActivity (listings) and DetailedActivity (GET
 * /activities/{id}), key by key in the recorded order. Every draw from the random stream happens
 * in a fixed order (facts, summary, efforts, detail), so a seed always gives the same athlete.
 */
import type { Rng } from "./sim_random.ts";
import { denverOffsetSeconds, encodePolyline, HOME, isoSeconds, TIMEZONE, WATOPIA } from "./sim_geo.ts";
import { ODD_ACTIVITY_NAMES, PART_OF_DAY, STATS_VISIBILITY } from "./sim_names.ts";
import { type GearEntry, gearJson } from "./sim_athlete.ts";
import { bestEfforts, metricSplits, paceZone, similarActivities, standardSplits } from "./sim_run_detail.ts";
import type { ActivityKind, Json, SimActivity } from "./sim_truth.ts";

/** Private / deleted flags an activity is generated with. */
export interface ActivityFlags {
  private: boolean;
  deleted: boolean;
}

/** What an activity needs from the athlete around it. */
export interface ActivityContext {
  rng: Rng;
  athleteId: bigint;
  /** `{ id, resource_state: 1 }`, shared by laps and efforts. */
  athleteRef: Json;
  gear: GearEntry[];
  /** The activity's segment efforts (drawn after the summary, before the lap). */
  efforts(facts: ActivityFacts): Json[];
}

/** Everything decided about an activity before its JSON is written. */
export interface ActivityFacts {
  id: bigint;
  start: number;
  kind: ActivityKind;
  flags: ActivityFlags;
  manual: boolean;
  trainer: boolean;
  hasGps: boolean;
  type: string;
  sportType: string;
  distance: number;
  speed: number;
  movingTime: number;
  elapsedTime: number;
  offset: number;
  startDate: string;
  visibility: string;
  isRide: boolean;
  watts: number | null;
  hasHr: boolean;
  averageHr: number | null;
  maxHr: number | null;
  elevationGain: number;
  gearEntry: GearEntry | null;
  name: string;
  commute: boolean;
  points: [number, number][];
  polyline: string;
  summaryPolyline: string;
  elevLow: number | null;
  uploadId: bigint | null;
}

/** Generates one activity with its efforts. */
export function makeActivity(
  ctx: ActivityContext,
  id: bigint,
  start: number,
  kind: ActivityKind,
  flags: ActivityFlags,
): SimActivity {
  const r = ctx.rng;
  const facts = activityFacts(ctx, id, start, kind, flags);
  const summary = activitySummary(r, ctx.athleteId, facts);
  const efforts = facts.hasGps ? ctx.efforts(facts) : [];
  let achievements = 0;
  let prs = 0;
  for (const e of efforts) {
    achievements += (e.achievements as unknown[]).length;
    if (e.pr_rank === 1) prs++;
  }
  summary.achievement_count = achievements;
  summary.pr_count = prs;
  const detail = activityDetail(ctx, facts, summary, efforts);
  return {
    id,
    kind,
    type: facts.type,
    sportType: facts.sportType,
    manual: facts.manual,
    private: flags.private,
    deleted: flags.deleted,
    trainer: facts.trainer,
    commute: facts.commute,
    hasGps: facts.hasGps,
    distance: facts.distance,
    startDate: facts.startDate,
    startEpoch: start,
    summary,
    detail,
    effortIds: efforts.map((e) => e.id as bigint),
    segmentIds: efforts.map((e) => (e.segment as Json).id as bigint),
  };
}

/** Type, sport type, distance and speed for a kind of activity. */
function pickSport(r: Rng, kind: ActivityKind): { type: string; sportType: string; distance: number; speed: number } {
  switch (kind) {
    case "ride":
      return {
        type: "Ride",
        sportType: r.pick(["Ride", "Ride", "Ride", "Ride", "GravelRide", "MountainBikeRide"]),
        distance: r.float(15_000, 120_000, 1),
        speed: r.float(6, 9, 3),
      };
    case "run":
      return {
        type: "Run",
        sportType: r.chance(0.15) ? "TrailRun" : "Run",
        distance: r.float(4_000, 25_000, 1),
        speed: r.float(2.6, 3.8, 3),
      };
    case "virtual":
      return {
        type: "VirtualRide",
        sportType: "VirtualRide",
        distance: r.float(15_000, 60_000, 1),
        speed: r.float(8, 10, 3),
      };
    case "trainer": {
      const distance = r.chance(0.3) ? 0 : r.float(15_000, 40_000, 1);
      return { type: "Ride", sportType: "Ride", distance, speed: distance === 0 ? 0 : r.float(7, 9, 3) };
    }
    case "manual": {
      const type = r.pick(["Run", "Ride", "Walk", "Swim"]);
      return { type, sportType: type, distance: r.float(1_000, 40_000, 1), speed: r.float(1, 8, 3) };
    }
    case "walk": {
      const type = r.chance(0.5) ? "Walk" : "Hike";
      return { type, sportType: type, distance: r.float(2_000, 12_000, 1), speed: r.float(1.2, 1.6, 3) };
    }
  }
}

/**
 * Every fact drawn before the summary is written. Kept as one flat sequence (66 lines) on purpose:
 * the order of the draws is the random stream's order, and a seed must keep giving the same athlete.
 */
function activityFacts(
  ctx: ActivityContext,
  id: bigint,
  start: number,
  kind: ActivityKind,
  flags: ActivityFlags,
): ActivityFacts {
  const r = ctx.rng;
  const manual = kind === "manual";
  const trainer = kind === "trainer";
  const hasGps = !manual && !trainer;
  const { type, sportType, distance, speed } = pickSport(r, kind);
  const movingTime = speed > 0 ? Math.round(distance / speed) : r.int(1800, 5400);
  const elapsedTime = movingTime + (manual ? 0 : r.int(0, Math.round(movingTime * 0.15)));
  const offset = denverOffsetSeconds(start);
  const visibility = flags.private ? "only_me" : r.chance(0.1) ? "followers_only" : "everyone";
  const isRide = type === "Ride" || type === "VirtualRide";
  const hasPower = kind === "virtual" || trainer || (kind === "ride" && r.chance(0.6));
  const watts = hasPower ? r.float(140, 260, 1) : null;
  const hasHr = !manual && r.chance(0.85);
  const averageHr = hasHr ? r.float(120, 165, 1) : null;
  const maxHr = hasHr ? Math.round(averageHr! + r.float(10, 30, 0)) : null;
  const elevationGain = hasGps ? Math.round(distance * r.float(0.002, 0.02, 4) * 10) / 10 : 0;
  const gear = ctx.gear.filter((g) => g.kind === (isRide ? "bike" : "shoe"));
  const gearEntry = type === "Swim" ? null : r.pick(gear);
  const partOfDay = PART_OF_DAY[Math.min(4, Math.floor(((start + offset) % 86400) / 3600 / 5))];
  const name = r.chance(0.08)
    ? r.pick(ODD_ACTIVITY_NAMES)
    : kind === "virtual"
    ? `Zwift - ${r.pick(["Watopia", "Makuri Islands", "London"])} ${r.pick(["Flat Route", "Hilly Route", "Loop"])}`
    : `${partOfDay} ${sportType === "MountainBikeRide" ? "Mountain Bike Ride" : type}`;
  const commute = kind === "ride" && r.chance(0.1);
  const points = hasGps ? gpsTrack(r, kind === "virtual" ? WATOPIA : HOME) : [];
  return {
    id,
    start,
    kind,
    flags,
    manual,
    trainer,
    hasGps,
    type,
    sportType,
    distance,
    speed,
    movingTime,
    elapsedTime,
    offset,
    startDate: isoSeconds(start),
    visibility,
    isRide,
    watts,
    hasHr,
    averageHr,
    maxHr,
    elevationGain,
    gearEntry,
    name,
    commute,
    points,
    polyline: encodePolyline(points),
    summaryPolyline: encodePolyline(points.filter((_, i) => i % 2 === 0 || i === points.length - 1)),
    elevLow: hasGps ? (kind === "virtual" ? r.float(0, 100, 1) : r.float(1580, 1700, 1)) : null,
    uploadId: manual ? null : id + 1_000_000_000n + BigInt(r.int(0, 999_999)),
  };
}

/** GPS track: a random walk from home (or Watopia) whose encoded form is the map polyline. */
function gpsTrack(r: Rng, base: readonly [number, number]): [number, number][] {
  const points: [number, number][] = [];
  let lat = base[0] + r.float(-0.02, 0.02, 6);
  let lng = base[1] + r.float(-0.02, 0.02, 6);
  const n = 24;
  for (let i = 0; i < n; i++) {
    points.push([Math.round(lat * 1e6) / 1e6, Math.round(lng * 1e6) / 1e6]);
    lat += r.float(-0.01, 0.01, 6);
    lng += r.float(-0.01, 0.01, 6);
  }
  return points;
}

function activitySummary(r: Rng, athleteId: bigint, f: ActivityFacts): Json {
  const summary: Json = {
    resource_state: 2,
    athlete: { id: athleteId, resource_state: 1 },
    name: f.name,
    distance: f.distance,
    moving_time: f.movingTime,
    elapsed_time: f.elapsedTime,
    total_elevation_gain: f.elevationGain,
    type: f.type,
    sport_type: f.sportType,
    workout_type: f.type === "Run" ? r.pick([0, 0, 0, 1, 2, 3]) : f.isRide ? r.pick([null, 10, 10, 12]) : null,
    id: f.id,
    start_date: f.startDate,
    start_date_local: isoSeconds(f.start + f.offset),
    timezone: TIMEZONE,
    utc_offset: f.offset,
    location_city: null,
    location_state: null,
    location_country: f.kind === "virtual" ? null : "United States",
    achievement_count: 0,
    kudos_count: r.int(0, 40),
    comment_count: r.int(0, 4),
    athlete_count: r.chance(0.8) ? 1 : r.int(2, 12),
    photo_count: 0,
    map: { id: `a${f.id}`, summary_polyline: f.summaryPolyline, resource_state: 2 },
    trainer: f.trainer,
    commute: f.commute,
    manual: f.manual,
    private: f.flags.private,
    visibility: f.visibility,
    flagged: false,
    gear_id: f.gearEntry?.id ?? null,
    start_latlng: f.hasGps ? f.points[0] : [],
    end_latlng: f.hasGps ? f.points[f.points.length - 1] : [],
    average_speed: Math.round(f.speed * 1000) / 1000,
    max_speed: Math.round(f.speed * r.float(1.3, 2.2, 2) * 1000) / 1000,
  };
  addOptionalSummaryKeys(r, summary, f);
  return summary;
}

/**
 * Optional keys are added in the recorded order, key by key: conditional spreads were the
 * slowest part of generating thousands of activities.
 */
function addOptionalSummaryKeys(r: Rng, summary: Json, f: ActivityFacts): void {
  if (f.isRide && !f.manual) summary.average_cadence = r.float(75, 95, 1);
  if (f.watts !== null) {
    summary.average_watts = f.watts;
    summary.kilojoules = Math.round(f.watts * f.movingTime / 100) / 10;
    summary.device_watts = true;
  }
  summary.has_heartrate = f.hasHr;
  if (f.hasHr) {
    summary.average_heartrate = f.averageHr;
    summary.max_heartrate = f.maxHr;
  }
  summary.heartrate_opt_out = false;
  summary.display_hide_heartrate_option = f.hasHr;
  if (f.hasGps) {
    summary.elev_high = Math.round((f.elevLow! + f.elevationGain / 3 + 5) * 10) / 10;
    summary.elev_low = f.elevLow;
  }
  summary.upload_id = f.uploadId;
  summary.upload_id_str = f.uploadId === null ? null : String(f.uploadId);
  summary.external_id = f.manual
    ? null
    : f.kind === "virtual"
    ? `zwift-activity-${r.int(1e9, 9e9)}.fit`
    : `${r.int(1e9, 9e10)}.fit`;
  summary.from_accepted_tag = false;
  summary.pr_count = 0;
  summary.total_photo_count = 0;
  summary.has_kudoed = false;
  if (f.hasHr) summary.suffer_score = r.float(10, 250, 0);
}

function activityLap(r: Rng, athleteRef: Json, f: ActivityFacts, summary: Json): Json {
  const lap: Json = {
    id: BigInt(Number(f.id) * 3 + r.int(0, 999)),
    resource_state: 2,
    name: "Lap 1",
    activity: { id: f.id, visibility: f.visibility, resource_state: 1 },
    athlete: athleteRef,
    elapsed_time: f.elapsedTime,
    moving_time: f.movingTime,
    start_date: f.startDate,
    start_date_local: summary.start_date_local,
    distance: f.distance,
    average_speed: summary.average_speed,
    max_speed: summary.max_speed,
    lap_index: 1,
    split: 1,
    start_index: 0,
    end_index: f.movingTime,
    total_elevation_gain: f.elevationGain,
    device_watts: f.watts !== null,
  };
  if (f.watts !== null) lap.average_watts = f.watts;
  if (f.hasHr) {
    lap.average_heartrate = f.averageHr;
    lap.max_heartrate = f.maxHr;
  }
  return lap;
}

function activityDetail(ctx: ActivityContext, f: ActivityFacts, summary: Json, efforts: Json[]): Json {
  const r = ctx.rng;
  const lap = activityLap(r, ctx.athleteRef, f, summary);
  const description = r.chance(0.15)
    ? r.pick(["Legs felt good.", 'Windy, "fun".\r\n\r\nNew PR on the climb!', "Easy day, with friends"])
    : null;
  const detail: Json = {
    ...summary,
    resource_state: 3,
    map: { id: `a${f.id}`, polyline: f.polyline, resource_state: 3, summary_polyline: f.summaryPolyline },
    description,
    calories: Math.round(f.movingTime * (f.isRide ? 0.2 : 0.25) * 10) / 10,
    perceived_exertion: null,
    prefer_perceived_exertion: null,
    segment_efforts: efforts,
  };
  const run = f.type === "Run" && f.hasGps;
  if (run) {
    detail.splits_metric = metricSplits(r, f.distance, f.speed, f.averageHr);
    detail.splits_standard = standardSplits(f);
    lap.pace_zone = paceZone(f.speed);
  }
  detail.laps = f.manual ? [] : [lap];
  if (run) detail.best_efforts = bestEfforts(f, ctx.athleteRef);
  detail.gear = f.gearEntry ? gearJson(f.gearEntry, 2) : null;
  detail.photos = { primary: null, count: 0 };
  detail.stats_visibility = STATS_VISIBILITY;
  detail.hide_from_home = false;
  if (!f.manual) {
    detail.device_name = f.kind === "virtual" ? "Zwift" : r.pick(["Garmin Edge 840", "Garmin Forerunner 265"]);
  }
  detail.embed_token = r.hex(20);
  if (run) detail.similar_activities = similarActivities(f);
  detail.available_zones = f.hasHr ? ["heartrate"] : [];
  return detail;
}
