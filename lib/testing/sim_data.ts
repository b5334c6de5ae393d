/**
 * Deterministic athlete data for the Strava simulator: a DetailedAthlete, a pool of segments
 * shared between activities (popular ones ridden often), and activities of every kind the
 * backfill must cope with (GPS rides and runs, virtual rides, trainer rides and manual entries
 * without GPS or segments, private and deleted activities), each with a SummaryActivity and a
 * DetailedActivity whose segment efforts have ids above 2^53.
 *
 * Shapes copy the recorded responses in /work/shared/fixtures/strava (dblock/strava-ruby-client
 * cassettes, MIT): same keys, same order, same nesting. Integer values under "id" or "*_id" keys
 * are bigint, exactly as lib/json.ts parseJson returns them, so a record read back from the
 * database compares equal to the truth with deepStrictEqual.
 */
import { Rng } from "./sim_random.ts";

/** A JSON object as the API sends it. */
export type Json = Record<string, unknown>;

/** Scope a full backfill asks for (docs/contract.md `setup_auth --scope` default). */
export const DEFAULT_SCOPE = "read,activity:read_all";

/** Generated activities end before this instant (2026-03-31 UTC), whatever the wall clock says. */
export const GENERATION_END = Date.UTC(2026, 2, 31, 0, 0, 0);

/** First segment effort id: far above 2^53 (9007199254740992), like ids Strava issues since 2023. */
export const EFFORT_ID_BASE = 3_141_592_653_589_793_239n;

/** One activity of the simulated athlete, with what the API answers for it. */
export interface SimActivity {
  id: bigint;
  /** "ride", "run", "virtual", "trainer", "manual" or "walk": how it was generated. */
  kind: ActivityKind;
  type: string;
  sportType: string;
  manual: boolean;
  private: boolean;
  /** Deleted on Strava: GET /activities/{id} answers 404 and listings skip it (an old export still has it). */
  deleted: boolean;
  trainer: boolean;
  commute: boolean;
  hasGps: boolean;
  /** metres */
  distance: number;
  /** ISO-8601 UTC, `YYYY-MM-DDTHH:MM:SSZ` */
  startDate: string;
  /** epoch seconds of startDate */
  startEpoch: number;
  /** SummaryActivity as listed by GET /athlete/activities. */
  summary: Json;
  /** DetailedActivity as GET /activities/{id}?include_all_efforts=true answers (efforts ids > 2^53). */
  detail: Json;
  /** Ids of all segment efforts, in the order of detail.segment_efforts. */
  effortIds: bigint[];
  /** Segment of each effort (same order; a segment ridden twice appears twice). */
  segmentIds: bigint[];
}

/** How an activity was generated. */
export type ActivityKind = "ride" | "run" | "virtual" | "trainer" | "manual" | "walk";

/** Everything a test compares a finished backfill with. Live: addActivities/deleteActivity update it. */
export interface SimTruth {
  athleteId: bigint;
  /** DetailedAthlete (GET /athlete with profile:read_all). */
  athlete: Json;
  /** Summary athlete (token response `athlete`, GET /athlete without profile:read_all). */
  athleteSummary: Json;
  /** Every activity incl. deleted/private/manual, ascending by start date (ids ascend too). */
  activities: SimActivity[];
  /** DetailedSegment by id for every segment that still exists (private ones included). */
  segments: Map<bigint, Json>;
  /** Segments referenced by efforts that answer 404 on GET /segments/{id} (removed or hidden). */
  notFoundSegments: Set<bigint>;
  /** Private segments: GET /segments/{id} answers 403 unless the token has scope `read_all`. */
  privateSegments: Set<bigint>;
}

/** Outcome of GET /segments/{id} as a backfill records it. */
export type SegmentOutcome = "ok" | "not_found" | "forbidden";

/** What a complete backfill with a given scope must have stored. */
export interface ExpectedBackfill {
  /** Activities GET /athlete/activities lists with that scope (not deleted; private only with activity:read_all). */
  activities: SimActivity[];
  /** Every segment effort of those activities, by effort id. */
  efforts: Map<bigint, Json>;
  /** Outcome of each segment referenced by those efforts. */
  segments: Map<bigint, SegmentOutcome>;
}

/** Splits a scope string ("read,activity:read_all" or space separated) into a set. */
export function scopeSet(scope: string): Set<string> {
  return new Set(scope.split(/[\s,]+/).filter((s) => s.length > 0));
}

/** Whether a token with `scope` may see "Only Me" activities. */
export function canReadPrivateActivities(scope: string): boolean {
  return scopeSet(scope).has("activity:read_all");
}

/** Whether a token with `scope` may read activities at all. */
export function canReadActivities(scope: string): boolean {
  const s = scopeSet(scope);
  return s.has("activity:read") || s.has("activity:read_all");
}

/** Outcome of GET /segments/{id} for a token with `scope` (undefined: not a segment of this athlete). */
export function segmentOutcome(truth: SimTruth, id: bigint, scope: string): SegmentOutcome | undefined {
  if (truth.notFoundSegments.has(id)) return "not_found";
  if (!truth.segments.has(id)) return undefined;
  if (truth.privateSegments.has(id) && !scopeSet(scope).has("read_all")) return "forbidden";
  return "ok";
}

/** The records a complete backfill with `scope` must hold, for record-by-record comparison. */
export function expectedBackfill(truth: SimTruth, scope: string = DEFAULT_SCOPE): ExpectedBackfill {
  const readPrivate = canReadPrivateActivities(scope);
  const activities = canReadActivities(scope)
    ? truth.activities.filter((a) => !a.deleted && (readPrivate || !a.private))
    : [];
  const efforts = new Map<bigint, Json>();
  const segments = new Map<bigint, SegmentOutcome>();
  for (const activity of activities) {
    for (const effort of activity.detail.segment_efforts as Json[]) {
      efforts.set(effort.id as bigint, effort);
      const segmentId = (effort.segment as Json).id as bigint;
      segments.set(segmentId, segmentOutcome(truth, segmentId, scope)!);
    }
  }
  return { activities, efforts, segments };
}

const dayCache = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? "0" : "") + n;

/** `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (Strava's format, also for local times). */
export function isoSeconds(epochSeconds: number): string {
  const s = Math.floor(epochSeconds);
  const day = Math.floor(s / 86400);
  // Formatting dates dominated generation time; the date part repeats for every effort of a day.
  let date = dayCache.get(day);
  if (date === undefined) {
    date = new Date(day * 86400000).toISOString().slice(0, 10);
    if (dayCache.size < 100_000) dayCache.set(day, date);
  }
  const t = s - day * 86400;
  return `${date}T${pad2(Math.floor(t / 3600))}:${pad2(Math.floor(t / 60) % 60)}:${pad2(t % 60)}Z`;
}

/** Google encoded polyline of [lat, lng] points (what map.polyline holds). */
export function encodePolyline(points: readonly (readonly [number, number])[]): string {
  let out = "";
  let lastLat = 0;
  let lastLng = 0;
  for (const [lat, lng] of points) {
    const la = Math.round(lat * 1e5);
    const ln = Math.round(lng * 1e5);
    out += encodeSigned(la - lastLat) + encodeSigned(ln - lastLng);
    lastLat = la;
    lastLng = ln;
  }
  return out;
}

function encodeSigned(value: number): string {
  let v = value < 0 ? ~(value << 1) : value << 1;
  let out = "";
  while (v >= 0x20) {
    out += String.fromCharCode((0x20 | (v & 0x1f)) + 63);
    v >>>= 5;
  }
  return out + String.fromCharCode(v + 63);
}

/** Offset of America/Denver at an instant (US DST: 2nd Sunday of March to 1st Sunday of November). */
function denverOffsetSeconds(epochSeconds: number): number {
  const ms = epochSeconds * 1000;
  const year = new Date(ms).getUTCFullYear();
  const march8 = new Date(Date.UTC(year, 2, 8)).getUTCDay();
  const dstStart = Date.UTC(year, 2, 8 + ((7 - march8) % 7), 9);
  const nov1 = new Date(Date.UTC(year, 10, 1)).getUTCDay();
  const dstEnd = Date.UTC(year, 10, 1 + ((7 - nov1) % 7), 8);
  return ms >= dstStart && ms < dstEnd ? -21600 : -25200;
}

const HOME: readonly [number, number] = [40.015, -105.2705]; // Boulder, CO
const WATOPIA: readonly [number, number] = [-11.6363, 166.9728]; // where Zwift puts virtual rides
const TIMEZONE = "(GMT-07:00) America/Denver";
const CITIES = ["Boulder", "Lyons", "Nederland", "Louisville", "Golden", "Longmont"];
const SEGMENT_PLACES = [
  "Flagstaff Rd",
  "Lefthand Canyon",
  "Sunshine Canyon",
  "Old Stage Rd",
  "Magnolia Rd",
  "Lee Hill Dr",
  "Olde Stage",
  "Linden St",
  "Fourmile Canyon",
  "Jamestown",
  "Neva Rd",
  "Nelson Rd",
  "Boulder Creek Path",
  "Mesa Trail",
  "Chautauqua",
  "Wonderland Lake",
];
const SEGMENT_SUFFIXES = ["Climb", "Sprint", "Descent", "- Full", "to the top", "(bottom half)", "KOM", "Loop"];
const ODD_SEGMENT_NAMES = [
  'The "Wall", Part 2',
  "Café Sprint – Pearl St",
  "Hwy 36, northbound",
  "SSüper Steep 🚴",
];
const VIRTUAL_SEGMENTS = ["Epic KOM", "Volcano Climb", "Alpe du Zwift", "Watopia Sprint", "Radio Tower Climb"];
const STATS_VISIBILITY = ["heart_rate", "pace", "power", "speed", "calories"].map((type) => ({
  type,
  visibility: "everyone",
}));
const PART_OF_DAY = ["Morning", "Lunch", "Afternoon", "Evening", "Night"];
const ODD_ACTIVITY_NAMES = [
  "Flagstaff, again",
  'Café "loop" with Sam',
  "Zwift - Watopia Figure 8 in Watopia",
  "Recovery 🚲 spin",
  "Commute, rainy; wet",
];

interface SegmentEntry {
  id: bigint;
  kind: "ride" | "run" | "virtual";
  summary: Json;
  detail: Json;
  distance: number;
  /** Athlete's efforts on it (non-deleted activities), for athlete_segment_stats. */
  stats: { count: number; prTime: number | null; prDate: string | null; prActivityId: bigint | null };
}

interface GearEntry {
  id: string;
  name: string;
  kind: "bike" | "shoe";
  primary: boolean;
}

/** Builds and extends the simulated athlete's data from a seed. */
export class SimGenerator {
  readonly truth: SimTruth;
  readonly #rng: Rng;
  readonly #pool: SegmentEntry[] = [];
  readonly #poolByKind = new Map<SegmentEntry["kind"], { entries: SegmentEntry[]; cumulative: number[] }>();
  readonly #gear: GearEntry[] = [];
  #nextActivityId = 2_000_000_000n;
  #athleteRef: Json = {};
  #nextEffortId = EFFORT_ID_BASE;
  #lastStart = 0;

  /** Generates an athlete with `segments` pool segments and `activities` activities. */
  constructor(options: { seed: number; activities: number; segments: number }) {
    if (!Number.isInteger(options.activities) || options.activities < 0) {
      throw new RangeError("activities must be a non-negative integer");
    }
    if (!Number.isInteger(options.segments) || options.segments < 1) {
      throw new RangeError("segments must be a positive integer");
    }
    this.#rng = new Rng(options.seed);
    const athleteId = BigInt(this.#rng.int(10_000_000, 99_000_000));
    this.#athleteRef = { id: athleteId, resource_state: 1 };
    this.#makeGear();
    const { detailed, summary } = this.#makeAthlete(athleteId);
    this.truth = {
      athleteId,
      athlete: detailed,
      athleteSummary: summary,
      activities: [],
      segments: new Map(),
      notFoundSegments: new Set(),
      privateSegments: new Set(),
    };
    this.#makeSegments(options.segments);
    // Spread activities so that about one falls on each day, ending before GENERATION_END.
    this.#lastStart = Math.floor(GENERATION_END / 1000) - Math.round(options.activities * 1.1 * 86400);
    this.#addActivities(options.activities, true);
  }

  /** Appends `count` newer activities (as if the athlete kept training); returns them. */
  addActivities(count: number): SimActivity[] {
    return this.#addActivities(count, false);
  }

  /** Marks an activity deleted (404 from now on, gone from listings). */
  deleteActivity(id: bigint): SimActivity {
    const activity = this.truth.activities.find((a) => a.id === id);
    if (!activity) throw new RangeError(`no activity ${id}`);
    if (!activity.deleted) {
      activity.deleted = true;
      this.#recomputeStats(new Set(activity.segmentIds));
    }
    return activity;
  }

  #makeGear(): void {
    const r = this.#rng;
    const bikes = ["Canyon Endurace", "Salsa Journeyman", "Trek Fuel EX"];
    const shoes = ["Hoka Clifton 9", "Saucony Peregrine"];
    bikes.forEach((name, i) =>
      this.#gear.push({ id: `b${r.int(1_000_000, 19_999_999)}`, name, kind: "bike", primary: i === 0 })
    );
    shoes.forEach((name, i) =>
      this.#gear.push({ id: `g${r.int(1_000_000, 19_999_999)}`, name, kind: "shoe", primary: i === 0 })
    );
  }

  #gearJson(g: GearEntry, resourceState: number): Json {
    const distance = 1_000_000 + (Number(g.id.slice(1)) % 9_000_000);
    return {
      id: g.id,
      primary: g.primary,
      name: g.name,
      nickname: "",
      resource_state: resourceState,
      retired: false,
      distance,
      converted_distance: Math.round(distance / 100) / 10,
    };
  }

  #makeAthlete(id: bigint): { detailed: Json; summary: Json } {
    const r = this.#rng;
    const firstname = r.pick(["Alex", "Sam", "Jordan", "Robin", "Kim"]);
    const lastname = r.pick(["Okafor", "Lindqvist", "Moreau", "Tanaka", "García"]);
    const picture = `https://dgalywyr863hv.cloudfront.net/pictures/athletes/${id}/${r.int(1_000_000, 9_999_999)}/2`;
    const summary: Json = {
      id,
      username: `${firstname}${lastname}`.toLowerCase().normalize("NFD").replace(/[^a-z]/g, ""),
      resource_state: 2,
      firstname,
      lastname,
      bio: "",
      city: "Boulder",
      state: "CO",
      country: "United States",
      sex: r.pick(["M", "F"]),
      premium: true,
      summit: true,
      created_at: "2014-06-03T17:21:08Z",
      updated_at: "2026-03-30T19:02:44Z",
      badge_type_id: 1n,
      weight: r.float(55, 85, 1),
      profile_medium: `${picture}/medium.jpg`,
      profile: `${picture}/large.jpg`,
      friend: null,
      follower: null,
    };
    const detailed: Json = {
      ...summary,
      resource_state: 3,
      blocked: false,
      can_follow: true,
      follower_count: r.int(10, 400),
      friend_count: r.int(10, 400),
      mutual_friend_count: 0,
      athlete_type: 0,
      date_preference: "%m/%d/%Y",
      measurement_preference: "meters",
      clubs: [],
      postable_clubs_count: 0,
      ftp: r.int(180, 320),
      bikes: this.#gear.filter((g) => g.kind === "bike").map((g) => this.#gearJson(g, 2)),
      shoes: this.#gear.filter((g) => g.kind === "shoe").map((g) => this.#gearJson(g, 2)),
      is_winback_via_upload: false,
      is_winback_via_view: false,
    };
    return { detailed, summary };
  }

  #makeSegments(count: number): void {
    const r = this.#rng;
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
      const entry = this.#makeSegment(id, kind, privateIdx.has(i), i);
      this.#pool.push(entry);
      if (notFound.has(i)) this.truth.notFoundSegments.add(id);
      else this.truth.segments.set(id, entry.detail);
      if (privateIdx.has(i)) this.truth.privateSegments.add(id);
    }
    // Popularity: a Zipf-like weight per segment, in a random order so popular ones are of every kind.
    const rank = r.sample(count, count);
    for (const kind of ["ride", "run", "virtual"] as const) {
      const entries: SegmentEntry[] = [];
      const cumulative: number[] = [];
      let sum = 0;
      this.#pool.forEach((e, i) => {
        if (e.kind !== kind) return;
        entries.push(e);
        cumulative.push(sum += 1 / (1 + rank[i]) ** 0.9);
      });
      this.#poolByKind.set(kind, { entries, cumulative });
    }
  }

  #makeSegment(id: bigint, kind: SegmentEntry["kind"], isPrivate: boolean, index: number): SegmentEntry {
    const r = this.#rng;
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
    const virtual = kind === "virtual";
    const summary: Json = {
      id,
      resource_state: 2,
      name,
      activity_type: kind === "run" ? "Run" : virtual ? "VirtualRide" : "Ride",
      distance,
      average_grade: averageGrade,
      maximum_grade: maximumGrade,
      elevation_high: elevationHigh,
      elevation_low: elevationLow,
      start_latlng: points[0],
      end_latlng: points[points.length - 1],
      elevation_profile: null,
      elevation_profiles: null,
      climb_category: climb,
      city: virtual ? null : r.pick(CITIES),
      state: virtual ? null : "CO",
      country: virtual ? null : "United States",
      private: isPrivate,
      hazardous: r.chance(0.02),
      starred: r.chance(0.05),
    };
    const profileKey = r.hex(24).toUpperCase();
    const effortCount = r.int(200, 400_000);
    const kom = r.int(Math.round(distance / 14), Math.round(distance / 9) + 1);
    const legend = r.int(3, 40);
    const createdYear = r.int(2010, 2021);
    const detail: Json = {
      id,
      resource_state: 3,
      name,
      activity_type: summary.activity_type,
      distance,
      average_grade: averageGrade,
      maximum_grade: maximumGrade,
      elevation_high: elevationHigh,
      elevation_low: elevationLow,
      start_latlng: summary.start_latlng,
      end_latlng: summary.end_latlng,
      elevation_profile: `https://d3o5xota0a1fcr.cloudfront.net/v6/charts/${profileKey}`,
      elevation_profiles: {
        light_url: `https://d3o5xota0a1fcr.cloudfront.net/v6/charts/${profileKey}`,
        dark_url: `https://d3o5xota0a1fcr.cloudfront.net/v6/charts/${profileKey}D`,
      },
      climb_category: climb,
      city: summary.city,
      state: summary.state,
      country: summary.country,
      private: isPrivate,
      hazardous: summary.hazardous,
      starred: summary.starred,
      created_at: isoSeconds(Date.UTC(createdYear, r.int(0, 11), r.int(1, 28), r.int(0, 23), r.int(0, 59)) / 1000),
      updated_at: isoSeconds(Date.UTC(r.int(createdYear + 1, 2025), r.int(0, 11), r.int(1, 28), r.int(0, 23)) / 1000),
      total_elevation_gain: Math.round(Math.max(0, elevationHigh - elevationLow) * 10) / 10,
      map: { id: `s${id}`, polyline: encodePolyline(points), resource_state: 3 },
      effort_count: effortCount,
      athlete_count: Math.max(1, Math.round(effortCount / r.float(2, 8, 2))),
      star_count: r.int(0, 3000),
      athlete_segment_stats: { pr_elapsed_time: null, pr_date: null, effort_count: 0 },
      xoms: {
        kom: clock(kom),
        qom: clock(Math.round(kom * 1.15)),
        overall: clock(kom),
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
    return {
      id,
      kind,
      summary,
      detail,
      distance,
      stats: { count: 0, prTime: null, prDate: null, prActivityId: null },
    };
  }

  #addActivities(count: number, initial: boolean): SimActivity[] {
    const r = this.#rng;
    // Kinds first, then force at least one of each special case when there is room for it.
    const kinds: ActivityKind[] = [];
    const flags: { private: boolean; deleted: boolean }[] = [];
    for (let i = 0; i < count; i++) {
      const x = r.next();
      kinds.push(
        x < 0.44
          ? "ride"
          : x < 0.74
          ? "run"
          : x < 0.84
          ? "virtual"
          : x < 0.9
          ? "trainer"
          : x < 0.95
          ? "manual"
          : "walk",
      );
      const y = r.next();
      flags.push({ private: y < 0.07, deleted: initial && y >= 0.07 && y < 0.1 });
    }
    if (initial && count >= 10) {
      const forced = r.sample(count, 6);
      kinds[forced[0]] = "manual";
      kinds[forced[1]] = "trainer";
      kinds[forced[2]] = "virtual";
      kinds[forced[3]] = "run";
      flags[forced[4]] = { private: true, deleted: false };
      if (kinds[forced[4]] === "manual" || kinds[forced[4]] === "trainer") kinds[forced[4]] = "ride";
      flags[forced[5]] = { private: false, deleted: true };
      if (kinds[forced[5]] === "manual" || kinds[forced[5]] === "trainer") kinds[forced[5]] = "ride";
    }
    const added: SimActivity[] = [];
    const touched = new Set<bigint>();
    for (let i = 0; i < count; i++) {
      this.#lastStart += r.int(4 * 3600, 36 * 3600);
      this.#nextActivityId += BigInt(r.int(500_000, 8_000_000));
      const activity = this.#makeActivity(this.#nextActivityId, this.#lastStart, kinds[i], flags[i]);
      this.truth.activities.push(activity);
      added.push(activity);
      if (!activity.deleted) { for (const s of activity.segmentIds) touched.add(s); }
    }
    this.#recomputeStats(touched);
    return added;
  }

  #recomputeStats(segmentIds: Set<bigint>): void {
    if (segmentIds.size === 0) return;
    const byId = new Map(this.#pool.map((e) => [e.id, e]));
    for (const id of segmentIds) {
      const e = byId.get(id)!;
      e.stats = { count: 0, prTime: null, prDate: null, prActivityId: null };
    }
    for (const a of this.truth.activities) {
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
      e.detail.athlete_segment_stats = e.stats.count === 0
        ? { pr_elapsed_time: null, pr_date: null, effort_count: 0 }
        : {
          pr_elapsed_time: e.stats.prTime,
          pr_date: e.stats.prDate,
          pr_visibility: "everyone",
          pr_activity_id: e.stats.prActivityId,
          pr_activity_visibility: "everyone",
          effort_count: e.stats.count,
        };
    }
  }

  #makeActivity(
    id: bigint,
    start: number,
    kind: ActivityKind,
    flags: { private: boolean; deleted: boolean },
  ): SimActivity {
    const r = this.#rng;
    const manual = kind === "manual";
    const trainer = kind === "trainer";
    const hasGps = !manual && !trainer;
    let type: string;
    let sportType: string;
    let distance: number;
    let speed: number;
    switch (kind) {
      case "ride":
        type = "Ride";
        sportType = r.pick(["Ride", "Ride", "Ride", "Ride", "GravelRide", "MountainBikeRide"]);
        distance = r.float(15_000, 120_000, 1);
        speed = r.float(6, 9, 3);
        break;
      case "run":
        type = "Run";
        sportType = r.chance(0.15) ? "TrailRun" : "Run";
        distance = r.float(4_000, 25_000, 1);
        speed = r.float(2.6, 3.8, 3);
        break;
      case "virtual":
        type = "VirtualRide";
        sportType = "VirtualRide";
        distance = r.float(15_000, 60_000, 1);
        speed = r.float(8, 10, 3);
        break;
      case "trainer":
        type = "Ride";
        sportType = "Ride";
        distance = r.chance(0.3) ? 0 : r.float(15_000, 40_000, 1);
        speed = distance === 0 ? 0 : r.float(7, 9, 3);
        break;
      case "manual":
        type = r.pick(["Run", "Ride", "Walk", "Swim"]);
        sportType = type;
        distance = r.float(1_000, 40_000, 1);
        speed = r.float(1, 8, 3);
        break;
      case "walk":
        type = r.chance(0.5) ? "Walk" : "Hike";
        sportType = type;
        distance = r.float(2_000, 12_000, 1);
        speed = r.float(1.2, 1.6, 3);
        break;
    }
    const movingTime = speed > 0 ? Math.round(distance / speed) : r.int(1800, 5400);
    const elapsedTime = movingTime + (manual ? 0 : r.int(0, Math.round(movingTime * 0.15)));
    const offset = denverOffsetSeconds(start);
    const startDate = isoSeconds(start);
    const visibility = flags.private ? "only_me" : r.chance(0.1) ? "followers_only" : "everyone";
    const isRide = type === "Ride" || type === "VirtualRide";
    const hasPower = kind === "virtual" || trainer || (kind === "ride" && r.chance(0.6));
    const watts = hasPower ? r.float(140, 260, 1) : null;
    const hasHr = !manual && r.chance(0.85);
    const averageHr = hasHr ? r.float(120, 165, 1) : null;
    const maxHr = hasHr ? Math.round(averageHr! + r.float(10, 30, 0)) : null;
    const elevationGain = hasGps ? Math.round(distance * r.float(0.002, 0.02, 4) * 10) / 10 : 0;
    const gear = this.#gear.filter((g) => g.kind === (isRide ? "bike" : "shoe"));
    const gearEntry = type === "Swim" ? null : r.pick(gear);
    const partOfDay = PART_OF_DAY[Math.min(4, Math.floor(((start + offset) % 86400) / 3600 / 5))];
    const name = r.chance(0.08)
      ? r.pick(ODD_ACTIVITY_NAMES)
      : kind === "virtual"
      ? `Zwift - ${r.pick(["Watopia", "Makuri Islands", "London"])} ${r.pick(["Flat Route", "Hilly Route", "Loop"])}`
      : `${partOfDay} ${sportType === "MountainBikeRide" ? "Mountain Bike Ride" : type}`;
    const commute = kind === "ride" && r.chance(0.1);

    // GPS track: a random walk from home (or Watopia) whose encoded form is the map polyline.
    const base = kind === "virtual" ? WATOPIA : HOME;
    const points: [number, number][] = [];
    if (hasGps) {
      let lat = base[0] + r.float(-0.02, 0.02, 6);
      let lng = base[1] + r.float(-0.02, 0.02, 6);
      const n = 24;
      for (let i = 0; i < n; i++) {
        points.push([Math.round(lat * 1e6) / 1e6, Math.round(lng * 1e6) / 1e6]);
        lat += r.float(-0.01, 0.01, 6);
        lng += r.float(-0.01, 0.01, 6);
      }
    }
    const polyline = encodePolyline(points);
    const summaryPolyline = encodePolyline(points.filter((_, i) => i % 2 === 0 || i === points.length - 1));
    const elevLow = hasGps ? (kind === "virtual" ? r.float(0, 100, 1) : r.float(1580, 1700, 1)) : null;
    const uploadId = manual ? null : id + 1_000_000_000n + BigInt(r.int(0, 999_999));

    const summary: Json = {
      resource_state: 2,
      athlete: { id: this.truth.athleteId, resource_state: 1 },
      name,
      distance,
      moving_time: movingTime,
      elapsed_time: elapsedTime,
      total_elevation_gain: elevationGain,
      type,
      sport_type: sportType,
      workout_type: type === "Run" ? r.pick([0, 0, 0, 1, 2, 3]) : isRide ? r.pick([null, 10, 10, 12]) : null,
      id,
      start_date: startDate,
      start_date_local: isoSeconds(start + offset),
      timezone: TIMEZONE,
      utc_offset: offset,
      location_city: null,
      location_state: null,
      location_country: kind === "virtual" ? null : "United States",
      achievement_count: 0,
      kudos_count: r.int(0, 40),
      comment_count: r.int(0, 4),
      athlete_count: r.chance(0.8) ? 1 : r.int(2, 12),
      photo_count: 0,
      map: { id: `a${id}`, summary_polyline: summaryPolyline, resource_state: 2 },
      trainer,
      commute,
      manual,
      private: flags.private,
      visibility,
      flagged: false,
      gear_id: gearEntry?.id ?? null,
      start_latlng: hasGps ? points[0] : [],
      end_latlng: hasGps ? points[points.length - 1] : [],
      average_speed: Math.round(speed * 1000) / 1000,
      max_speed: Math.round(speed * r.float(1.3, 2.2, 2) * 1000) / 1000,
    };
    // Optional keys are added in the recorded order, key by key: conditional spreads were the
    // slowest part of generating thousands of activities.
    if (isRide && !manual) summary.average_cadence = r.float(75, 95, 1);
    if (watts !== null) {
      summary.average_watts = watts;
      summary.kilojoules = Math.round(watts * movingTime / 100) / 10;
      summary.device_watts = true;
    }
    summary.has_heartrate = hasHr;
    if (hasHr) {
      summary.average_heartrate = averageHr;
      summary.max_heartrate = maxHr;
    }
    summary.heartrate_opt_out = false;
    summary.display_hide_heartrate_option = hasHr;
    if (hasGps) {
      summary.elev_high = Math.round((elevLow! + elevationGain / 3 + 5) * 10) / 10;
      summary.elev_low = elevLow;
    }
    summary.upload_id = uploadId;
    summary.upload_id_str = uploadId === null ? null : String(uploadId);
    summary.external_id = manual
      ? null
      : kind === "virtual"
      ? `zwift-activity-${r.int(1e9, 9e9)}.fit`
      : `${r.int(1e9, 9e10)}.fit`;
    summary.from_accepted_tag = false;
    summary.pr_count = 0;
    summary.total_photo_count = 0;
    summary.has_kudoed = false;
    if (hasHr) summary.suffer_score = r.float(10, 250, 0);

    const efforts = hasGps
      ? this.#makeEfforts(id, start, offset, kind, distance, movingTime, speed, visibility, watts, hasHr)
      : [];
    let achievements = 0;
    let prs = 0;
    for (const e of efforts) {
      achievements += (e.achievements as unknown[]).length;
      if (e.pr_rank === 1) prs++;
    }
    summary.achievement_count = achievements;
    summary.pr_count = prs;

    const lap: Json = {
      id: BigInt(Number(id) * 3 + r.int(0, 999)),
      resource_state: 2,
      name: "Lap 1",
      activity: { id, visibility, resource_state: 1 },
      athlete: this.#athleteRef,
      elapsed_time: elapsedTime,
      moving_time: movingTime,
      start_date: startDate,
      start_date_local: summary.start_date_local,
      distance,
      average_speed: summary.average_speed,
      max_speed: summary.max_speed,
      lap_index: 1,
      split: 1,
      start_index: 0,
      end_index: movingTime,
      total_elevation_gain: elevationGain,
      device_watts: watts !== null,
    };
    if (watts !== null) lap.average_watts = watts;
    if (hasHr) {
      lap.average_heartrate = averageHr;
      lap.max_heartrate = maxHr;
    }
    const description = r.chance(0.15)
      ? r.pick(["Legs felt good.", 'Windy, "fun".\r\n\r\nNew PR on the climb!', "Easy day, with friends"])
      : null;
    const detail: Json = {
      ...summary,
      resource_state: 3,
      map: { id: `a${id}`, polyline, resource_state: 3, summary_polyline: summaryPolyline },
      description,
      calories: Math.round(movingTime * (isRide ? 0.2 : 0.25) * 10) / 10,
      perceived_exertion: null,
      prefer_perceived_exertion: null,
      segment_efforts: efforts,
    };
    if (type === "Run" && hasGps) detail.splits_metric = this.#splits(distance, speed, averageHr);
    detail.laps = manual ? [] : [lap];
    detail.gear = gearEntry ? this.#gearJson(gearEntry, 2) : null;
    detail.photos = { primary: null, count: 0 };
    detail.stats_visibility = STATS_VISIBILITY;
    detail.hide_from_home = false;
    if (!manual) {
      detail.device_name = kind === "virtual" ? "Zwift" : r.pick(["Garmin Edge 840", "Garmin Forerunner 265"]);
    }
    detail.embed_token = r.hex(20);
    detail.available_zones = hasHr ? ["heartrate"] : [];
    return {
      id,
      kind,
      type,
      sportType,
      manual,
      private: flags.private,
      deleted: flags.deleted,
      trainer,
      commute,
      hasGps,
      distance,
      startDate,
      startEpoch: start,
      summary,
      detail,
      effortIds: efforts.map((e) => e.id as bigint),
      segmentIds: efforts.map((e) => (e.segment as Json).id as bigint),
    };
  }

  #splits(distance: number, speed: number, hr: number | null): Json[] {
    const r = this.#rng;
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

  #makeEfforts(
    activityId: bigint,
    start: number,
    offset: number,
    kind: ActivityKind,
    distance: number,
    movingTime: number,
    speed: number,
    visibility: string,
    watts: number | null,
    hasHr: boolean,
  ): Json[] {
    const r = this.#rng;
    const poolKind = kind === "virtual" ? "virtual" : kind === "run" || kind === "walk" ? "run" : "ride";
    let pool = this.#poolByKind.get(poolKind)!;
    if (pool.entries.length === 0) pool = this.#poolByKind.get("ride")!;
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
      if (e.distance > distance * 0.9) continue; // a segment longer than the activity cannot be on it
      // A segment ridden twice in one activity (laps) is rare but real: two efforts, one segment.
      if (seen.has(e.id) && !r.chance(0.05)) continue;
      seen.add(e.id);
      chosen.push(e);
    }
    const timed = chosen.map((seg) => {
      const effortSpeed = Math.max(0.5, speed * r.float(0.8, 1.2, 3));
      const elapsed = Math.max(5, Math.round(seg.distance / effortSpeed));
      const at = r.int(0, Math.max(0, movingTime - elapsed));
      return { seg, elapsed, at };
    }).sort((a, b) => a.at - b.at);
    // Shared by every effort of the activity (read-only data, serialized per response).
    const activityRef = { id: activityId, visibility, resource_state: 1 };
    return timed.map(({ seg, elapsed, at }) => {
      this.#nextEffortId += BigInt(r.int(1_000_000, 2_000_000_000));
      const x = r.next();
      const prRank = x < 0.1 ? 1 : x < 0.15 ? 2 : x < 0.2 ? 3 : null;
      const komRank = r.chance(0.01) ? r.int(1, 10) : null;
      const achievements: Json[] = [];
      if (komRank !== null) achievements.push({ type_id: 2n, type: "overall", rank: komRank });
      if (prRank !== null) achievements.push({ type_id: 3n, type: "pr", rank: prRank });
      const moving = r.chance(0.8) ? elapsed : Math.max(1, elapsed - r.int(1, 10));
      const hr = hasHr ? r.float(125, 175, 1) : null;
      // Built key by key (not with spreads) for speed; the key order is the recorded one.
      const effort: Json = {
        id: this.#nextEffortId,
        resource_state: 2,
        name: seg.summary.name,
        activity: activityRef,
        athlete: this.#athleteRef,
        elapsed_time: elapsed,
        moving_time: moving,
        start_date: isoSeconds(start + at),
        start_date_local: isoSeconds(start + at + offset),
        distance: Math.round(seg.distance * r.float(0.99, 1.02, 4) * 10) / 10,
        start_index: at,
        end_index: at + elapsed,
      };
      if (kind !== "run" && kind !== "walk") effort.average_cadence = r.float(70, 100, 1);
      effort.device_watts = watts !== null;
      if (watts !== null) effort.average_watts = Math.round(watts * r.float(0.9, 1.35, 3) * 10) / 10;
      if (hr !== null) {
        effort.average_heartrate = hr;
        effort.max_heartrate = Math.round(hr + r.float(3, 15, 0));
      }
      effort.segment = seg.summary;
      effort.pr_rank = prRank;
      effort.achievements = achievements;
      effort.visibility = visibility;
      effort.kom_rank = komRank;
      effort.hidden = r.chance(0.03);
      return effort;
    });
  }
}

function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s).padStart(2, "0")}`
    : `${m}:${String(s).padStart(2, "0")}`;
}
