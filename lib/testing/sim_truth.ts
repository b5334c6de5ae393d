/**
 * What the simulated athlete is, and what a complete backfill must have stored: the truth every
 * end-to-end test compares a database with, and the scope rules that decide what a token sees.
 *
 * Integer values under "id" or "*_id" keys are bigint, exactly as lib/json.ts parseJson returns
 * them, so a record read back from the database compares equal to the truth with deepStrictEqual.
 */
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
