/**
 * Queue filters (`--sport-type`, `--after`, `--before`): which pending activities a run fetches,
 * so that a runner with 5,000 activities can backfill this year's rides first. Segments follow:
 * with a filter, only segments reached by an effort of a selected activity are fetched.
 *
 * Dates are the activity's local start date (`start_date_local`, else the UTC `start_date` of
 * an imported row): `after` keeps activities starting on that day or later, `before` those
 * starting before that day. Sport types match `sport_type` (else the older `type`), ignoring case.
 */
import type { SQLInputValue } from "node:sqlite";

/** A queue filter; every part is optional and an empty filter selects everything. */
export interface QueueFilter {
  /** Strava sport types (`Ride`, `VirtualRide`, `TrailRun`, …). */
  sportTypes?: readonly string[];
  /** `YYYY-MM-DD`: starting on this day or later. */
  after?: string;
  /** `YYYY-MM-DD`: starting before this day. */
  before?: string;
}

/** A WHERE fragment with its bound values. */
interface SqlFragment {
  sql: string;
  params: SQLInputValue[];
}

/** Whether `filter` selects anything less than everything. */
export function isFiltered(filter: QueueFilter | undefined): filter is QueueFilter {
  return filter !== undefined &&
    ((filter.sportTypes?.length ?? 0) > 0 || filter.after !== undefined || filter.before !== undefined);
}

/**
 * The filter as a condition on the activities table (`prefix` is its alias with a dot, e.g.
 * "a."); "1" when there is no filter.
 */
export function activityCondition(filter: QueueFilter | undefined, prefix = ""): SqlFragment {
  if (!isFiltered(filter)) return { sql: "1", params: [] };
  const parts: string[] = [];
  const params: SQLInputValue[] = [];
  if (filter.sportTypes && filter.sportTypes.length > 0) {
    parts.push(
      `lower(COALESCE(${prefix}sport_type, ${prefix}type)) IN (SELECT lower(value) FROM json_each(?))`,
    );
    params.push(JSON.stringify(filter.sportTypes));
  }
  // ISO text compares as dates: "2026-01-01T08:00:00Z" >= "2026-01-01", "2026-02-01T00:00:00Z" < "2026-02-01" is false.
  const start = `COALESCE(${prefix}start_date_local, ${prefix}start_date)`;
  if (filter.after !== undefined) {
    parts.push(`${start} >= ?`);
    params.push(filter.after);
  }
  if (filter.before !== undefined) {
    parts.push(`${start} < ?`);
    params.push(filter.before);
  }
  return { sql: parts.join(" AND "), params };
}

/** The filter as a condition on segments (alias `s`): reached by an effort of a selected activity. */
export function segmentCondition(filter: QueueFilter | undefined): SqlFragment {
  if (!isFiltered(filter)) return { sql: "1", params: [] };
  const activity = activityCondition(filter, "a.");
  return {
    sql: `EXISTS (SELECT 1 FROM segment_efforts e JOIN activities a ON a.id = e.activity_id
           WHERE e.segment_id = s.id AND a.deleted_at IS NULL AND ${activity.sql})`,
    params: activity.params,
  };
}

/** One line describing the filter, for logs and stats ("sport types Ride, VirtualRide; from 2026-01-01"). */
export function describeFilter(filter: QueueFilter | undefined): string {
  if (!isFiltered(filter)) return "all activities";
  const parts: string[] = [];
  if (filter.sportTypes?.length) parts.push(`sport types ${filter.sportTypes.join(", ")}`);
  if (filter.after !== undefined) parts.push(`from ${filter.after}`);
  if (filter.before !== undefined) parts.push(`before ${filter.before}`);
  return parts.join("; ");
}
