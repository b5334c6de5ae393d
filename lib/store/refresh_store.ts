/**
 * The refresh pass's database work: comparing a listing page with the stored activities,
 * marking activities Strava no longer lists, and choosing stale segment details.
 *
 * A listed activity whose distance, moving or elapsed time or start changed was cropped or
 * re-processed on Strava: its efforts may have changed. It is put back in the queue (pending,
 * fresh attempts) in the same transaction that stores its new summary, so the need to re-fetch
 * survives a stop before the fetch; the re-fetch (saveActivityEfforts) then replaces its
 * efforts in one transaction. Its old efforts stay until then.
 */
import type { SQLInputValue } from "node:sqlite";
import { type Database, prepareExact, transaction } from "./db.ts";
import { listedParams, PENDING_ACTIVITIES } from "./backfill_store.ts";
import { ACTIVITY_API_COLUMNS, activityValues, idOf } from "./records.ts";
import { stringifyJson } from "../json.ts";

type Json = Record<string, unknown>;

/** Columns whose change means the track was cropped or re-processed (efforts must be fetched again). */
const TRACK_COLUMNS = ["distance", "moving_time", "elapsed_time", "start_date"] as const;

/** What one listing page changed. */
interface PageChanges {
  /** New activities (added as pending), known ones with a changed summary field (updated_at set). */
  added: number;
  updated: number;
  /** Activities marked deleted that are listed again (deleted_at cleared). */
  reappeared: number;
  /** Processed activities whose track changed: back in the queue, to be fetched again. */
  requeued: bigint[];
  /**
   * Activities once settled `not_found`/`forbidden` that Strava lists now (made public again,
   * or readable with a new token): pending again, for the next backfill.
   */
  revived: number;
}

const placeholders = (n: number) => Array(n).fill("?").join(", ");

/** SQLite's view of a bound value, so that 1 and 1.0 or true and 1 compare equal. */
function same(stored: unknown, fresh: SQLInputValue): boolean {
  if (stored === null || stored === undefined) return fresh === null;
  if (fresh === null) return false;
  if (typeof stored === "string" || typeof fresh === "string") return String(stored) === String(fresh);
  return Number(stored) === Number(fresh);
}

/**
 * Applies one page of the athlete's activity list (summary records): new activities become
 * pending, changed summary fields are written (and patched into `raw_json`) with `updated_at`,
 * a reappearing activity loses its `deleted_at`, and processed activities whose track changed
 * go back in the queue. An unchanged activity is not written at all. One transaction.
 */
export function applyListedPage(db: Database, activities: Json[], now: string): PageChanges {
  const changes: PageChanges = { added: 0, updated: 0, reappeared: 0, requeued: [], revived: 0 };
  const columns = ACTIVITY_API_COLUMNS;
  const select = prepareExact(
    db,
    `SELECT ${columns.join(", ")}, efforts_status, deleted_at FROM activities WHERE id = ?`,
  );
  const insert = db.prepare(
    `INSERT INTO activities (id, ${columns.join(", ")}, raw_json, source, created_at, updated_at)
     VALUES (?, ${placeholders(columns.length)}, ?, 'api', ?, ?)`,
  );
  const update = db.prepare(
    `UPDATE activities SET ${columns.map((c) => `${c} = ?`).join(", ")},
       raw_json = CASE WHEN raw_json IS NULL THEN ? ELSE json_patch(raw_json, ?) END,
       deleted_at = NULL, updated_at = ?
     WHERE id = ?`,
  );
  const requeue = db.prepare(
    `UPDATE activities SET segment_efforts_processed = 0, efforts_status = NULL, efforts_attempts = 0,
       efforts_error = NULL
     WHERE id = ?`,
  );
  transaction(db, () => {
    for (const activity of activities) {
      const id = idOf(activity.id);
      if (id === null) continue;
      const values = activityValues(activity);
      const row = select.get(id) as Record<string, unknown> | undefined;
      if (row === undefined) {
        insert.run(id, ...values, stringifyJson(activity), now, now);
        changes.added++;
        continue;
      }
      const changed = columns.filter((c, i) => !same(row[c], values[i]));
      const reappeared = row.deleted_at !== null;
      if (row.efforts_status === "not_found" || row.efforts_status === "forbidden") {
        // Listed, so readable now: a 404/403 settled it once, but that no longer holds.
        requeue.run(id);
        changes.revived++;
      }
      if (changed.length === 0 && !reappeared) continue;
      // Only the fields that changed go into raw_json: the stored record is the detailed one,
      // richer than a list entry, and must keep what the listing does not carry.
      const patch: Json = {};
      for (const c of changed) if (c !== "has_gps" && c in activity) patch[c] = activity[c];
      update.run(...values, stringifyJson(activity), stringifyJson(patch), now, id);
      if (changed.length > 0) changes.updated++;
      if (reappeared) changes.reappeared++;
      const trackChanged = changed.some((c) => (TRACK_COLUMNS as readonly string[]).includes(c));
      if (trackChanged && row.efforts_status === "ok") {
        requeue.run(id);
        changes.requeued.push(id);
      }
    }
  });
  return changes;
}

/**
 * What markUnlistedDeleted would mark: stored activities not marked deleted, not in `listed`
 * (null: any) and started before `before` (epoch s; null: any time); with `keepPrivate`, public
 * ones only.
 */
export function countUnlistedLive(
  db: Database,
  listed: ReadonlySet<bigint> | null,
  before: number | null,
  { keepPrivate = false }: { keepPrivate?: boolean } = {},
): number {
  return Number(
    (db.prepare(
      `SELECT count(*) n FROM activities WHERE deleted_at IS NULL
         AND (? IS NULL OR id NOT IN (SELECT value FROM json_each(?)))
         AND (? IS NULL OR unixepoch(start_date) < ?)
         AND (? = 0 OR COALESCE(private, 0) = 0)`,
    ).get(...listedParams(listed), before, before, keepPrivate ? 1 : 0) as { n: number }).n,
  );
}

/**
 * After a listing that is evidence of absence (lib/backfill/listing.ts): every stored activity
 * that was not listed gets `deleted_at` (its row and efforts stay). Returns how many were newly
 * marked. With `keepPrivate`, private ("Only Me") activities are left unmarked: a token without
 * activity:read_all does not see them, so their absence proves nothing.
 */
export function markUnlistedDeleted(
  db: Database,
  listed: ReadonlySet<bigint>,
  now: string,
  { keepPrivate = false }: { keepPrivate?: boolean } = {},
): number {
  return Number(
    db.prepare(
      `UPDATE activities SET deleted_at = ?, updated_at = ?
       WHERE deleted_at IS NULL AND id NOT IN (SELECT value FROM json_each(?))
         AND (? = 0 OR COALESCE(private, 0) = 0)`,
    ).run(now, now, `[${[...listed].join(",")}]`, keepPrivate ? 1 : 0).changes,
  );
}

/** Stored private activities not in `listed` and not marked deleted. */
export function countUnlistedPrivate(db: Database, listed: ReadonlySet<bigint>): number {
  return Number(
    (db.prepare(
      `SELECT count(*) n FROM activities
       WHERE deleted_at IS NULL AND private = 1 AND id NOT IN (SELECT value FROM json_each(?))`,
    ).get(`[${[...listed].join(",")}]`) as { n: number }).n,
  );
}

/**
 * `details_error` of a detailed segment whose refresh failed transiently: the details stay `ok`
 * and this prefix, followed by the time of the attempt (isoSeconds, 20 characters), records it,
 * so that the next pass asks for it only after every due segment not tried since
 * (staleSegments). A successful fetch clears it.
 */
const REFRESH_FAILED = "refresh failed ";

/** When a segment was last asked for: a failed refresh's time (REFRESH_FAILED), else its details' fetch time. */
const LAST_TRIED = `CASE WHEN details_error LIKE '${REFRESH_FAILED}%'
  THEN substr(details_error, ${REFRESH_FAILED.length + 1}, 20) ELSE details_fetched_at END`;

/** Detailed segments fetched before `before` (ISO; null: all); never-stamped ones (from other tools) count. */
const STALE = "details_status = 'ok' AND (? IS NULL OR details_fetched_at IS NULL OR details_fetched_at < ?)";

/**
 * Ids of up to `limit` stale segments (details fetched before `before`, ISO; null: all), least
 * recently asked for first: never-stamped ones (from other tools) before all, and one whose
 * refresh failed transiently after every due one not tried since it (markRefreshFailed). So a
 * pass stopped by `--segments` is continued by the next, and no segment is asked for twice
 * before every due one was.
 */
export function staleSegments(db: Database, before: string | null, limit: number): bigint[] {
  const rows = prepareExact(
    db,
    `SELECT id FROM segments WHERE ${STALE} ORDER BY ${LAST_TRIED}, id LIMIT ?`,
  ).all(before, before, limit) as { id: bigint }[];
  return rows.map((r) => r.id);
}

/** How many segments staleSegments would choose without a limit. */
export function countStaleSegments(db: Database, before: string | null): number {
  return Number((db.prepare(`SELECT count(*) n FROM segments WHERE ${STALE}`).get(before, before) as { n: number }).n);
}

/** A stale segment's refresh failed transiently: its details are kept, the attempt is recorded (REFRESH_FAILED). */
export function markRefreshFailed(db: Database, id: bigint, message: string, now: string): void {
  db.prepare("UPDATE segments SET details_error = ? WHERE id = ? AND details_status = 'ok'")
    .run(`${REFRESH_FAILED}${now}: ${message}`, id);
}

/** Pending activities whose efforts were fetched before: put back in the queue by a refresh. */
const REQUEUED = `${PENDING_ACTIVITIES} AND efforts_fetched_at IS NOT NULL`;

/**
 * Activities a refresh put back in the queue (fetched once, pending again because their track
 * changed) that are not fetched again yet: this pass's and those an earlier pass left (its
 * `--activities` reached, or stopped). Ids of up to `limit`, fewest failed attempts first, then
 * least recently fetched, so one that failed is not asked first again.
 */
export function requeuedActivities(db: Database, limit: number): bigint[] {
  const rows = prepareExact(
    db,
    `SELECT id FROM activities WHERE ${REQUEUED}
     ORDER BY efforts_attempts + efforts_unconfirmed, efforts_fetched_at, id LIMIT ?`,
  ).all(limit) as { id: bigint }[];
  return rows.map((r) => r.id);
}

/** How many activities requeuedActivities would choose without a limit. */
export function countRequeuedActivities(db: Database): number {
  return Number((db.prepare(`SELECT count(*) n FROM activities WHERE ${REQUEUED}`).get() as { n: number }).n);
}
