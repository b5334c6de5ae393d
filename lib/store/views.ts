/**
 * The mirror's answer views and the `deleted_at` mark they rest on (schema migration 4).
 *
 * An activity Strava no longer lists keeps its row and efforts (the user's data is never
 * deleted) but gets `deleted_at`; the views, the pending counts and stats leave it out. To
 * include such activities, query `segment_efforts` directly. Efforts whose activity row is
 * missing (databases from other tools) are kept: only a known deletion hides an effort.
 */
import { columnsOf, type Database } from "./db.ts";

/**
 * Keeps an effort unless its activity is marked deleted. NOT IN over a subquery is evaluated
 * once (a small list from the partial index below, with a Bloom filter); a correlated NOT EXISTS
 * probed the activities table once per effort and made most_ridden 5x slower on 400,000 efforts.
 */
const LIVE = "activity_id NOT IN (SELECT id FROM activities WHERE deleted_at IS NOT NULL AND id IS NOT NULL)";
/** LIVE for queries beside the views (the HTML report). */
export const LIVE_EFFORTS = LIVE;

/** View name → its SELECT. docs/queries.md shows an example query of each. */
export const VIEWS: Readonly<Record<string, string>> = {
  // One row per segment with a live effort: the fastest effort (ties: the earliest). One index
  // seek per segment (idx_segment_efforts_best), so a single segment costs microseconds.
  segment_bests: `SELECT s.id AS segment_id, COALESCE(s.name, e.name) AS segment_name,
      e.elapsed_time AS best_elapsed_time, e.moving_time, e.id AS effort_id, e.activity_id, e.start_date,
      e.start_date_local
    FROM segments s JOIN segment_efforts e ON e.id = (
      SELECT x.id FROM segment_efforts x
      WHERE x.segment_id = s.id AND x.elapsed_time IS NOT NULL AND x.${LIVE}
      ORDER BY x.elapsed_time, x.start_date, x.id LIMIT 1)`,
  // Every live effort on a segment in date order, with the best time so far and whether it set it.
  segment_history: `SELECT segment_id, segment_name, effort_id, activity_id, start_date, start_date_local,
      elapsed_time, moving_time, running_best,
      elapsed_time = running_best AND (previous_best IS NULL OR elapsed_time < previous_best) AS is_new_best
    FROM (SELECT e.segment_id, COALESCE(s.name, e.name) AS segment_name, e.id AS effort_id, e.activity_id,
        e.start_date, e.start_date_local, e.elapsed_time, e.moving_time,
        min(e.elapsed_time) OVER w AS running_best,
        min(e.elapsed_time) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_best
      FROM (SELECT * FROM segment_efforts WHERE ${LIVE}) e LEFT JOIN segments s ON s.id = e.segment_id
      WINDOW w AS (PARTITION BY e.segment_id ORDER BY e.start_date, e.id))`,
  // Segments by how often the athlete rode them (not Strava's effort_count, which counts everyone).
  most_ridden: `SELECT e.segment_id, s.name AS segment_name, count(*) AS efforts,
      count(DISTINCT e.activity_id) AS activities, min(e.start_date) AS first_effort,
      max(e.start_date) AS last_effort, min(e.elapsed_time) AS best_elapsed_time
    FROM (SELECT segment_id, activity_id, start_date, elapsed_time FROM segment_efforts WHERE ${LIVE}) e
      LEFT JOIN segments s ON s.id = e.segment_id
    GROUP BY e.segment_id
    ORDER BY efforts DESC, e.segment_id`,
};

/**
 * Indexes the views need. Measured with bench/views_bench.ts on 20,000 activities and 400,000
 * efforts: without them segment_bests of every segment took 2.6 s (a sort of all efforts) and
 * most_ridden 1 s (a table scan; worse with real raw_json); see docs/queries.md for the figures
 * with them. idx_segment_efforts_dated covers most_ridden (no table access) and orders one
 * segment's history; idx_segment_efforts_best finds a segment's best with one seek.
 */
const VIEW_INDEXES = [
  "CREATE INDEX IF NOT EXISTS idx_segment_efforts_best ON segment_efforts(segment_id, elapsed_time, start_date)",
  `CREATE INDEX IF NOT EXISTS idx_segment_efforts_dated
     ON segment_efforts(segment_id, start_date, elapsed_time, activity_id)`,
  "CREATE INDEX IF NOT EXISTS idx_activities_deleted ON activities(deleted_at) WHERE deleted_at IS NOT NULL",
];

/** Migration 4: `activities.deleted_at`, the answer views and their indexes. */
export function addDeletedAtAndViews(db: Database): void {
  if (!hasDeletedAt(db)) db.exec("ALTER TABLE activities ADD COLUMN deleted_at TEXT");
  for (const [name, select] of Object.entries(VIEWS)) {
    // A table or view of that name is the user's (an adopted database): leave it as it is.
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?").get(name) !== undefined) continue;
    db.exec(`CREATE VIEW ${name} AS ${select}`);
  }
  for (const sql of VIEW_INDEXES) db.exec(sql);
}

/** Whether the database has the `deleted_at` column (read-only stats may see an unmigrated one). */
export function hasDeletedAt(db: Database): boolean {
  return columnsOf(db, "activities").includes("deleted_at");
}
