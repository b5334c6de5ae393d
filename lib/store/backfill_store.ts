/**
 * The backfill's database work: what is pending, and writing each fetched or settled record
 * atomically. An activity, all its efforts and their summary segments are written in one
 * transaction together with `segment_efforts_processed = 1`, so a crash never leaves an
 * activity marked processed without its efforts, nor efforts without their activity.
 */
import type { SQLInputValue } from "node:sqlite";
import { countOf, type Database, prepareExact, transaction } from "./db.ts";
import {
  ACTIVITY_API_COLUMNS,
  activityValues,
  detailedEfforts,
  EFFORT_COLUMNS,
  effortValues,
  idOf,
  SEGMENT_DETAIL_COLUMNS,
  SEGMENT_SUMMARY_COLUMNS,
  segmentValues,
  sqlValue,
} from "./records.ts";
import { rawJson, stringifyJson } from "../json.ts";
import { activityCondition, type QueueFilter, segmentCondition } from "./queue_filter.ts";

type Json = Record<string, unknown>;

/** Settled statuses of docs/contract.md besides `ok` (NULL means pending). */
export type Settled = "not_found" | "forbidden" | "skipped" | "failed";

/** How many attempts a record gets before it is settled as `failed`. */
export const MAX_ATTEMPTS = 3;

/**
 * Pending = nothing settled yet, exactly as the seed's toolkit (and users' own SQL) reads it:
 * every settled outcome sets `segment_efforts_processed = 1` and `efforts_status` says why. A
 * record that failed fewer than MAX_ATTEMPTS times stays pending. An activity Strava no longer
 * lists (`deleted_at`, set by a refresh) is never asked for and leaves every pending count.
 */
export const PENDING_ACTIVITIES = "segment_efforts_processed = 0 AND deleted_at IS NULL";

/** Marks, at no request cost, pending activities that cannot have segment efforts as `skipped`. */
export function skipActivitiesWithoutEfforts(db: Database, now: string): number {
  const result = db.prepare(
    `UPDATE activities SET efforts_status = 'skipped', segment_efforts_processed = 1, updated_at = ?,
       efforts_error = CASE WHEN manual = 1 THEN 'manual activity'
                            WHEN has_gps = 0 THEN 'no GPS track'
                            ELSE 'no distance' END
     WHERE ${PENDING_ACTIVITIES}
       AND (manual = 1 OR has_gps = 0 OR (distance IS NOT NULL AND distance <= 0))`,
  ).run(now);
  return Number(result.changes);
}

/**
 * Ids of up to `limit` pending activities, newest first, skipping `exclude` (tried this run),
 * among those `filter` selects (lib/store/queue_filter.ts).
 */
export function pendingActivities(
  db: Database,
  limit: number,
  exclude: ReadonlySet<bigint> = new Set(),
  filter?: QueueFilter,
): bigint[] {
  const where = activityCondition(filter);
  const rows = prepareExact(
    db,
    `SELECT id FROM activities WHERE ${PENDING_ACTIVITIES} AND ${where.sql} ORDER BY start_date DESC, id DESC LIMIT ?`,
  ).all(...where.params, limit + exclude.size) as { id: bigint }[];
  return rows.map((r) => r.id).filter((id) => !exclude.has(id)).slice(0, limit);
}

/** Number of pending activities (among those `filter` selects). */
export function countPendingActivities(db: Database, filter?: QueueFilter): number {
  const where = activityCondition(filter);
  return countOf(db, `SELECT count(*) n FROM activities WHERE ${PENDING_ACTIVITIES} AND ${where.sql}`, ...where.params);
}

/** Number of activities. */
export function countActivities(db: Database): number {
  return countOf(db, "SELECT count(*) n FROM activities");
}

/** Pending activities of which nothing tells whether they have a GPS track (imported ones). */
export function countUnknownGps(db: Database): number {
  return countOf(db, `SELECT count(*) n FROM activities WHERE ${PENDING_ACTIVITIES} AND has_gps IS NULL`);
}

/** Activities a survey settles when a listing is evidence that they are gone: imported ones not yet known to Strava's list. */
const SETTLE_IF_UNLISTED = `${PENDING_ACTIVITIES} AND has_gps IS NULL`;

/**
 * After a listing of the athlete's activities that is evidence of absence (lib/backfill/listing.ts):
 * pending ones of unknown GPS that were not listed are deleted, or private and invisible to this
 * token; a fetch would answer 404.
 */
export function settleUnlisted(db: Database, listed: ReadonlySet<bigint>, now: string): number {
  return Number(
    db.prepare(
      `UPDATE activities SET efforts_status = 'not_found', segment_efforts_processed = 1, updated_at = ?,
         efforts_error = 'not in the athlete''s activity list (deleted, or private without activity:read_all)'
       WHERE ${SETTLE_IF_UNLISTED} AND id NOT IN (SELECT value FROM json_each(?))`,
    ).run(now, `[${[...listed].join(",")}]`).changes,
  );
}

/**
 * What settleUnlisted would settle: of the activities it applies to, those not in `listed`
 * (null: any) that started before `before` (epoch s; null: any time).
 */
export function countSettleableUnlisted(
  db: Database,
  listed: ReadonlySet<bigint> | null,
  before: number | null,
): number {
  return countOf(
    db,
    `SELECT count(*) n FROM activities WHERE ${SETTLE_IF_UNLISTED}
       AND (? IS NULL OR id NOT IN (SELECT value FROM json_each(?)))
       AND (? IS NULL OR unixepoch(start_date) < ?)`,
    ...listedParams(listed),
    before,
    before,
  );
}

/** Activities not marked deleted. */
export function countLiveActivities(db: Database): number {
  return countOf(db, "SELECT count(*) n FROM activities WHERE deleted_at IS NULL");
}

/** The two parameters of `(? IS NULL OR id NOT IN (SELECT value FROM json_each(?)))` for a set of ids or null. */
export function listedParams(listed: ReadonlySet<bigint> | null): [number | null, string] {
  return listed === null ? [null, "[]"] : [1, `[${[...listed].join(",")}]`];
}

/**
 * Ids of up to `limit` segments whose details are pending, most-ridden first; with a `filter`,
 * only segments reached by an effort of an activity it selects.
 */
export function pendingSegments(
  db: Database,
  limit: number,
  exclude: ReadonlySet<bigint> = new Set(),
  filter?: QueueFilter,
): bigint[] {
  const where = segmentCondition(filter);
  const rows = prepareExact(
    db,
    `SELECT s.id FROM segments s
     WHERE s.details_status IS NULL AND ${where.sql}
     ORDER BY (SELECT count(*) FROM segment_efforts e WHERE e.segment_id = s.id) DESC, s.id
     LIMIT ?`,
  ).all(...where.params, limit + exclude.size) as { id: bigint }[];
  return rows.map((r) => r.id).filter((id) => !exclude.has(id)).slice(0, limit);
}

/** Number of segments whose details are pending (with a `filter`: reached from the activities it selects). */
export function countPendingSegments(db: Database, filter?: QueueFilter): number {
  const where = segmentCondition(filter);
  return countOf(
    db,
    `SELECT count(*) n FROM segments s WHERE s.details_status IS NULL AND ${where.sql}`,
    ...where.params,
  );
}

const placeholders = (n: number) => Array(n).fill("?").join(", ");

/** The SQL that stores a detailed activity (saveActivityEfforts), built once. */
const SAVE_ACTIVITY = `UPDATE activities SET ${ACTIVITY_API_COLUMNS.map((c) => `${c} = ?`).join(", ")},
    raw_json = ?, source = COALESCE(source, 'api'), segment_efforts_processed = 1, efforts_status = 'ok',
    efforts_attempts = efforts_attempts + 1, efforts_unconfirmed = 0, efforts_error = NULL,
    efforts_fetched_at = ?, updated_at = ?
  WHERE id = ?`;
/** A summary segment never overwrites detailed fields. */
const UPSERT_SUMMARY_SEGMENT = `INSERT INTO segments (id, ${SEGMENT_SUMMARY_COLUMNS.join(", ")})
  VALUES (?, ${placeholders(SEGMENT_SUMMARY_COLUMNS.length)})
  ON CONFLICT(id) DO UPDATE SET ${
  SEGMENT_SUMMARY_COLUMNS.map((c) => `${c} = COALESCE(segments.${c}, excluded.${c})`).join(", ")
}`;
const UPSERT_EFFORT = `INSERT INTO segment_efforts (${EFFORT_COLUMNS.join(", ")})
  VALUES (${placeholders(EFFORT_COLUMNS.length)})
  ON CONFLICT(id) DO UPDATE SET ${EFFORT_COLUMNS.slice(1).map((c) => `${c} = excluded.${c}`).join(", ")}`;
/** Efforts Strava no longer lists for this activity (re-fetch after an edit) go. */
const DELETE_UNLISTED_EFFORTS =
  "DELETE FROM segment_efforts WHERE activity_id = ? AND id NOT IN (SELECT value FROM json_each(?))";

/**
 * Stores a detailed activity with all its efforts and their summary segments, and marks it
 * processed, in one transaction.
 */
export function saveActivityEfforts(db: Database, id: bigint, activity: Json, now: string): number {
  const efforts = detailedEfforts(activity); // an InvalidRecordError before anything is written
  transaction(db, () => {
    prepareExact(db, SAVE_ACTIVITY).run(...activityValues(activity), rawJson(activity), now, now, id);
    const upsertSegment = prepareExact(db, UPSERT_SUMMARY_SEGMENT);
    const upsertEffort = prepareExact(db, UPSERT_EFFORT);
    const kept: string[] = [];
    for (const effort of efforts) {
      const segment = (effort.segment ?? {}) as Json;
      const segmentId = idOf(segment.id);
      if (segmentId !== null) upsertSegment.run(segmentId, ...segmentValues(segment, SEGMENT_SUMMARY_COLUMNS));
      upsertEffort.run(...effortValues(effort, id));
      kept.push(String(effort.id));
    }
    prepareExact(db, DELETE_UNLISTED_EFFORTS).run(id, `[${kept.join(",")}]`);
  });
  return efforts.length;
}

/** Records a failed attempt at an activity; settles it as `status`, or as `failed` once attempts run out. */
export function settleActivity(
  db: Database,
  id: bigint,
  status: Settled | null,
  error: string,
  now: string,
): Settled | null {
  const row = prepareExact(
    db,
    `UPDATE activities SET efforts_attempts = efforts_attempts + 1, efforts_unconfirmed = 0, efforts_error = ?,
       updated_at = ?,
       efforts_status = COALESCE(?, CASE WHEN efforts_attempts + 1 >= ? THEN 'failed' END),
       segment_efforts_processed = CASE WHEN ? IS NOT NULL OR efforts_attempts + 1 >= ? THEN 1 ELSE 0 END
     WHERE id = ? RETURNING efforts_status`,
  ).get(error, now, status, MAX_ATTEMPTS, status, MAX_ATTEMPTS, id) as { efforts_status: Settled | null } | undefined;
  return row?.efforts_status ?? null;
}

/** Stores a detailed segment. */
export function saveSegmentDetails(db: Database, id: bigint, segment: Json, now: string): void {
  prepareExact(
    db,
    `UPDATE segments SET ${SEGMENT_DETAIL_COLUMNS.map((c) => `${c} = ?`).join(", ")},
       raw_json = ?, details_status = 'ok', details_attempts = details_attempts + 1, details_unconfirmed = 0,
       details_error = NULL, details_fetched_at = ?
     WHERE id = ?`,
  ).run(...segmentValues(segment, SEGMENT_DETAIL_COLUMNS), rawJson(segment), now, id);
}

/** Records a failed attempt at a segment, like `settleActivity`. */
export function settleSegment(db: Database, id: bigint, status: Settled | null, error: string): Settled | null {
  const row = prepareExact(
    db,
    `UPDATE segments SET details_attempts = details_attempts + 1, details_unconfirmed = 0, details_error = ?,
       details_status = COALESCE(?, CASE WHEN details_attempts + 1 >= ? THEN 'failed' END)
     WHERE id = ? RETURNING details_status`,
  ).get(error, status, MAX_ATTEMPTS, id) as { details_status: Settled | null } | undefined;
  return row?.details_status ?? null;
}

/**
 * Puts `failed` records back in the queue with fresh attempts (`--retry-failed`); for activities
 * both columns reset, so the seed's `segment_efforts_processed = 0` sees them pending again.
 */
export function requeueFailed(db: Database): { activities: number; segments: number } {
  return transaction(db, () => ({
    activities: Number(
      db.prepare(
        `UPDATE activities SET segment_efforts_processed = 0, efforts_status = NULL, efforts_attempts = 0
         WHERE efforts_status = 'failed'`,
      ).run().changes,
    ),
    segments: Number(
      db.prepare("UPDATE segments SET details_status = NULL, details_attempts = 0 WHERE details_status = 'failed'")
        .run().changes,
    ),
  }));
}

/** The newest stored start_date as epoch seconds, or null for an empty table. */
export function newestStartEpoch(db: Database): number | null {
  const row = db.prepare("SELECT max(start_date) d FROM activities WHERE start_date IS NOT NULL").get() as {
    d: string | null;
  };
  if (!row.d) return null;
  const ms = Date.parse(row.d);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/**
 * Adds listed (summary) activities as pending, and refreshes the API fields of known ones
 * without touching their progress. Returns how many were new.
 */
export function upsertListedActivities(db: Database, activities: Json[], now: string): number {
  return transaction(db, () => {
    const exists = prepareExact(db, "SELECT 1 FROM activities WHERE id = ?");
    const upsert = prepareExact(
      db,
      `INSERT INTO activities (id, ${ACTIVITY_API_COLUMNS.join(", ")}, raw_json, source, created_at, updated_at)
       VALUES (?, ${placeholders(ACTIVITY_API_COLUMNS.length)}, ?, 'api', ?, ?)
       ON CONFLICT(id) DO UPDATE SET ${ACTIVITY_API_COLUMNS.map((c) => `${c} = excluded.${c}`).join(", ")},
         raw_json = COALESCE(activities.raw_json, excluded.raw_json), updated_at = excluded.updated_at`,
    );
    let added = 0;
    for (const activity of activities) {
      const id = idOf(activity.id);
      if (id === null) continue;
      if (exists.get(id) === undefined) added++;
      const values: SQLInputValue[] = activityValues(activity);
      upsert.run(id, ...values, sqlValue(stringifyJson(activity)), now, now);
    }
    return added;
  });
}
