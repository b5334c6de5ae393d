/**
 * Mapping of Strava API records (parsed with lib/json.ts, ids as bigint) to database rows.
 * Each row keeps the whole record in `raw_json`, so a later column can be filled without
 * another request.
 */
import type { SQLInputValue } from "node:sqlite";
import { RuntimeError } from "../errors.ts";
import { stringifyJson } from "../json.ts";

type Json = Record<string, unknown>;

/**
 * A record Strava returned that the tool cannot store as it is (a value beyond SQLite's 64-bit
 * integers, a missing or invalid id, a required field missing). Only that record fails, with
 * this message as its reason; the run goes on.
 */
export class InvalidRecordError extends RuntimeError {
  override name = "InvalidRecordError";
  /** Asking again gets the same body: settle as `failed` at once (false: count one attempt). */
  readonly final: boolean;
  constructor(message: string, options: { final: boolean }) {
    super(message);
    this.final = options.final;
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A value as SQLite can bind it: booleans become 0/1, arrays and objects JSON, absent NULL. */
export function sqlValue(value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint" && (value < INT64_MIN || value > INT64_MAX)) {
    // node:sqlite would fail the whole transaction with "BigInt value is too large to bind".
    throw new InvalidRecordError(`the value ${value} is beyond SQLite's 64-bit integers`, { final: true });
  }
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "string") return value;
  return stringifyJson(value);
}

/** An id field as bigint, or null when it is absent or not a positive 64-bit integer. */
export function idOf(value: unknown): bigint | null {
  let id: bigint | null = null;
  if (typeof value === "bigint") id = value;
  else if (typeof value === "number" && Number.isInteger(value)) id = BigInt(value);
  else if (typeof value === "string" && /^\d+$/.test(value)) id = BigInt(value);
  return id !== null && id > 0n && id <= INT64_MAX ? id : null;
}

/** The id of `what`, or an InvalidRecordError naming the value that is not one. */
export function requireId(value: unknown, what: string): bigint {
  const id = idOf(value);
  if (id !== null) return id;
  const shown = value === undefined ? "missing" : typeof value === "bigint" ? String(value) : JSON.stringify(value);
  throw new InvalidRecordError(`${what} id is ${shown}, not a positive 64-bit integer`, { final: true });
}

/**
 * The segment efforts of a detailed activity, checked before anything is written: the body must
 * carry the `segment_efforts` array it was asked for (without it the activity would pass as
 * having none), and every effort an id and a segment id (a null id would make SQLite invent one).
 */
export function detailedEfforts(activity: Json): Json[] {
  if (!Array.isArray(activity.segment_efforts)) {
    throw new InvalidRecordError("the activity body has no segment_efforts array", { final: false });
  }
  const efforts = activity.segment_efforts as unknown[];
  for (const [i, effort] of efforts.entries()) {
    if (effort === null || typeof effort !== "object" || Array.isArray(effort)) {
      throw new InvalidRecordError(`segment effort #${i + 1} is not an object`, { final: true });
    }
    const e = effort as Json;
    requireId(e.id, `segment effort #${i + 1}`);
    requireId(nested(e, "segment").id, `the segment of effort ${String(e.id)}`);
  }
  return efforts as Json[];
}

function nested(record: Json, key: string): Json {
  const v = record[key];
  return v !== null && typeof v === "object" ? v as Json : {};
}

/** Whether an API activity has a GPS track (segments can only be matched on one). */
function hasGps(activity: Json): boolean | null {
  const latlng = activity.start_latlng;
  const polyline = nested(activity, "map").summary_polyline ?? nested(activity, "map").polyline;
  if (Array.isArray(latlng) && latlng.length > 0) return true;
  if (typeof polyline === "string" && polyline.length > 0) return true;
  if (Array.isArray(latlng) || typeof polyline === "string") return false;
  return null;
}

/** Columns of `activities` filled from an API activity (summary or detailed). */
export const ACTIVITY_API_COLUMNS = [
  "name",
  "type",
  "sport_type",
  "start_date",
  "start_date_local",
  "timezone",
  "distance",
  "moving_time",
  "elapsed_time",
  "total_elevation_gain",
  "average_speed",
  "max_speed",
  "average_heartrate",
  "max_heartrate",
  "average_watts",
  "kilojoules",
  "gear_id",
  "manual",
  "trainer",
  "commute",
  "private",
  "has_gps",
] as const;

/** The API columns of an activity, in ACTIVITY_API_COLUMNS order. */
export function activityValues(activity: Json): SQLInputValue[] {
  return ACTIVITY_API_COLUMNS.map((c) => c === "has_gps" ? sqlValue(hasGps(activity)) : sqlValue(activity[c]));
}

/** Columns of `segment_efforts`, in `effortValues` order. */
export const EFFORT_COLUMNS = [
  "id",
  "activity_id",
  "segment_id",
  "name",
  "start_date",
  "start_date_local",
  "elapsed_time",
  "moving_time",
  "distance",
  "start_index",
  "end_index",
  "average_watts",
  "device_watts",
  "average_heartrate",
  "max_heartrate",
  "average_cadence",
  "pr_rank",
  "kom_rank",
  "hidden",
  "raw_json",
] as const;

/** Row values of one segment effort of `activityId`. */
export function effortValues(effort: Json, activityId: bigint): SQLInputValue[] {
  return EFFORT_COLUMNS.map((c) => {
    switch (c) {
      case "activity_id":
        return activityId;
      case "segment_id":
        return idOf(nested(effort, "segment").id);
      case "raw_json":
        return stringifyJson(effort);
      default:
        return sqlValue(effort[c]);
    }
  });
}

/** Columns of `segments` that a summary segment (inside an effort) carries. */
export const SEGMENT_SUMMARY_COLUMNS = [
  "name",
  "activity_type",
  "distance",
  "average_grade",
  "maximum_grade",
  "elevation_high",
  "elevation_low",
  "start_latlng",
  "end_latlng",
  "climb_category",
  "city",
  "state",
  "country",
  "private",
  "hazardous",
] as const;

/** Columns only a detailed segment carries (besides the summary ones). */
export const SEGMENT_DETAIL_COLUMNS = [
  ...SEGMENT_SUMMARY_COLUMNS,
  "total_elevation_gain",
  "effort_count",
  "athlete_count",
  "star_count",
  "polyline",
  "created_at",
  "updated_at",
] as const;

/** Values of `columns` from a segment record. */
export function segmentValues(segment: Json, columns: readonly string[]): SQLInputValue[] {
  return columns.map((c) => c === "polyline" ? sqlValue(nested(segment, "map").polyline) : sqlValue(segment[c]));
}
