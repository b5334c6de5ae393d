/**
 * The versioned schema. Migrations run in order, one transaction each, and record their
 * number in `PRAGMA user_version`. Migration 1 also adopts databases made by other tools
 * (notably the Python toolkit this project succeeds): it adds what is missing and never
 * drops or rewrites a user's rows or columns.
 *
 * Only databases that look like this tool's or the seed toolkit's reach a migration
 * (lib/store/open.ts decides, before anything is written).
 */
import { columnsOf, type Database, tableExists, transaction } from "./db.ts";
import { UsageError } from "../errors.ts";
import { addDeletedAtAndViews } from "./views.ts";

type Columns = ReadonlyArray<readonly [name: string, declaration: string]>;

/** Column sets of the tool's tables; CREATE uses all, adoption adds the missing ones. */
export const TABLES: Readonly<Record<string, Columns>> = {
  activities: [
    ["id", "INTEGER PRIMARY KEY"],
    ["name", "TEXT"],
    ["type", "TEXT"],
    ["sport_type", "TEXT"],
    ["start_date", "TEXT"],
    ["start_date_local", "TEXT"],
    ["timezone", "TEXT"],
    ["distance", "REAL"],
    ["moving_time", "INTEGER"],
    ["elapsed_time", "INTEGER"],
    ["total_elevation_gain", "REAL"],
    ["average_speed", "REAL"],
    ["max_speed", "REAL"],
    ["average_heartrate", "REAL"],
    ["max_heartrate", "REAL"],
    ["average_watts", "REAL"],
    ["kilojoules", "REAL"],
    ["gear_id", "TEXT"],
    ["manual", "INTEGER"],
    ["trainer", "INTEGER"],
    ["commute", "INTEGER"],
    ["private", "INTEGER"],
    ["has_gps", "INTEGER"],
    ["source", "TEXT"],
    ["archive_json", "TEXT"],
    ["segment_efforts_processed", "INTEGER NOT NULL DEFAULT 0"],
    ["efforts_status", "TEXT"],
    ["efforts_attempts", "INTEGER NOT NULL DEFAULT 0"],
    ["efforts_unconfirmed", "INTEGER NOT NULL DEFAULT 0"],
    ["efforts_error", "TEXT"],
    ["efforts_fetched_at", "TEXT"],
    ["raw_json", "TEXT"],
    ["created_at", "TEXT"],
    ["updated_at", "TEXT"],
    // When a refresh found the activity missing from Strava's list (lib/store/views.ts).
    ["deleted_at", "TEXT"],
  ],
  segment_efforts: [
    ["id", "INTEGER PRIMARY KEY"],
    ["activity_id", "INTEGER"],
    ["segment_id", "INTEGER"],
    ["name", "TEXT"],
    ["start_date", "TEXT"],
    ["start_date_local", "TEXT"],
    ["elapsed_time", "INTEGER"],
    ["moving_time", "INTEGER"],
    ["distance", "REAL"],
    ["start_index", "INTEGER"],
    ["end_index", "INTEGER"],
    ["average_watts", "REAL"],
    ["device_watts", "INTEGER"],
    ["average_heartrate", "REAL"],
    ["max_heartrate", "REAL"],
    ["average_cadence", "REAL"],
    ["pr_rank", "INTEGER"],
    ["kom_rank", "INTEGER"],
    ["hidden", "INTEGER"],
    ["raw_json", "TEXT"],
  ],
  segments: [
    ["id", "INTEGER PRIMARY KEY"],
    ["name", "TEXT"],
    ["activity_type", "TEXT"],
    ["distance", "REAL"],
    ["average_grade", "REAL"],
    ["maximum_grade", "REAL"],
    ["elevation_high", "REAL"],
    ["elevation_low", "REAL"],
    ["start_latlng", "TEXT"],
    ["end_latlng", "TEXT"],
    ["climb_category", "INTEGER"],
    ["city", "TEXT"],
    ["state", "TEXT"],
    ["country", "TEXT"],
    ["private", "INTEGER"],
    ["hazardous", "INTEGER"],
    ["total_elevation_gain", "REAL"],
    ["effort_count", "INTEGER"],
    ["athlete_count", "INTEGER"],
    ["star_count", "INTEGER"],
    ["polyline", "TEXT"],
    ["created_at", "TEXT"],
    ["updated_at", "TEXT"],
    ["details_status", "TEXT"],
    ["details_attempts", "INTEGER NOT NULL DEFAULT 0"],
    ["details_unconfirmed", "INTEGER NOT NULL DEFAULT 0"],
    ["details_error", "TEXT"],
    ["details_fetched_at", "TEXT"],
    ["raw_json", "TEXT"],
  ],
  tokens: [
    ["athlete_id", "INTEGER PRIMARY KEY"],
    ["access_token", "TEXT"],
    ["refresh_token", "TEXT"],
    ["expires_at", "INTEGER"],
    ["scope", "TEXT"],
    ["updated_at", "TEXT"],
  ],
  // Until schema 6, a copy of the rate budget (one row per limit family); since then empty: the
  // budget lives in the folder's strava_budget.db (lib/store/rate_state.ts). The table stays
  // because it marks this tool's databases (lib/store/open.ts) and migration 1 has shipped.
  rate_limit_state: [
    ["name", "TEXT PRIMARY KEY"],
    ["limit_15min", "INTEGER"],
    ["limit_daily", "INTEGER"],
    ["usage_15min", "INTEGER"],
    ["usage_daily", "INTEGER"],
    ["observed_at", "INTEGER"],
    ["blocked_until", "INTEGER"],
  ],
};

const INDEXES = [
  "CREATE INDEX IF NOT EXISTS idx_activities_pending ON activities(segment_efforts_processed, start_date)",
  "CREATE INDEX IF NOT EXISTS idx_segments_details_status ON segments(details_status)",
  "CREATE INDEX IF NOT EXISTS idx_segment_efforts_activity ON segment_efforts(activity_id)",
  "CREATE INDEX IF NOT EXISTS idx_segment_efforts_segment ON segment_efforts(segment_id)",
];

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** ADD COLUMN cannot add keys; a pre-existing table keeps whatever key it had. */
function addableDeclaration(declaration: string): string {
  return declaration.replace(/\s*PRIMARY KEY/i, "");
}

/** Creates `table`, or adds its missing columns; returns the columns that were added. */
function ensureTable(db: Database, table: string): string[] {
  const columns = TABLES[table];
  if (!tableExists(db, table)) {
    db.exec(`CREATE TABLE ${quote(table)} (${columns.map(([n, d]) => `${quote(n)} ${d}`).join(", ")})`);
    return [];
  }
  const present = new Set(columnsOf(db, table).map((c) => c.toLowerCase()));
  const added: string[] = [];
  for (const [name, declaration] of columns) {
    if (present.has(name)) continue;
    db.exec(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(name)} ${addableDeclaration(declaration)}`);
    added.push(name);
  }
  return added;
}

/**
 * Migration 1: the base schema, and adoption of an existing database so that switching
 * to this tool costs no request: processed activities stay processed, segments that
 * already have details count as detailed, and segments referenced by efforts but never
 * stored become pending rows.
 */
function baseSchema(db: Database): void {
  const preexisting = new Set(Object.keys(TABLES).filter((t) => tableExists(db, t)));
  const added: Record<string, string[]> = {};
  for (const table of Object.keys(TABLES)) added[table] = ensureTable(db, table);

  if (preexisting.has("activities")) {
    const cols = new Set(columnsOf(db, "activities"));
    if (added.activities.includes("segment_efforts_processed") && preexisting.has("segment_efforts")) {
      // The old tool had no flag: an activity whose efforts are stored was processed.
      db.exec(`UPDATE activities SET segment_efforts_processed = 1
               WHERE id IN (SELECT DISTINCT activity_id FROM segment_efforts)`);
    }
    const fetchedAt = cols.has("fetched_at") ? "fetched_at" : "NULL";
    db.exec(
      `UPDATE activities SET efforts_status = 'ok', efforts_fetched_at = COALESCE(efforts_fetched_at, ${fetchedAt})
             WHERE segment_efforts_processed = 1 AND efforts_status IS NULL`,
    );
  }
  if (preexisting.has("segments") && added.segments.includes("details_status")) {
    // In the old tool a segments row existed only once its details were fetched; rows
    // from other tools count as detailed if they carry any detail-only field.
    const cols = new Set(columnsOf(db, "segments"));
    const evidence = ["raw_data", "fetched_at", "effort_count", "athlete_count", "total_elevation_gain", "raw_json"]
      .filter((c) => cols.has(c) && !added.segments.includes(c));
    if (evidence.length > 0) {
      const fetchedAt = cols.has("fetched_at") ? "fetched_at" : "NULL";
      db.exec(`UPDATE segments SET details_status = 'ok', details_fetched_at = ${fetchedAt}
               WHERE COALESCE(${evidence.map(quote).join(", ")}) IS NOT NULL`);
    }
  }
  if (preexisting.has("segment_efforts")) {
    db.exec(`INSERT OR IGNORE INTO segments (id, name)
             SELECT segment_id, MAX(name) FROM segment_efforts
             WHERE segment_id IS NOT NULL AND segment_id NOT IN (SELECT id FROM segments)
             GROUP BY segment_id`);
  }
  for (const sql of INDEXES) db.exec(sql);
}

/** A schema migration: applied once, inside a transaction, in order. */
export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

/** All migrations, oldest first. Append only: never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "base schema and adoption of existing databases", up: baseSchema },
  {
    version: 2,
    description: "token refresh lock (one process rotates the refresh token at a time)",
    // One row while a process refreshes; expires_at (ms) lets a crashed holder's lease lapse.
    up: (db) =>
      db.exec(`CREATE TABLE IF NOT EXISTS token_refresh_lock (
        name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`),
  },
  {
    version: 3,
    description: "every settled activity is processed (segment_efforts_processed = 1), as the seed's toolkit reads it",
    // Earlier versions left skipped/not_found/forbidden/failed activities at 0, which every
    // query written against the seed's schema counts as pending forever.
    up: (db) =>
      db.exec(`UPDATE activities SET segment_efforts_processed = 1
               WHERE efforts_status IS NOT NULL AND segment_efforts_processed = 0`),
  },
  {
    version: 4,
    description: "activities.deleted_at and the answer views (segment_bests, segment_history, most_ridden)",
    up: addDeletedAtAndViews,
  },
  {
    version: 5,
    description: "failed attempts awaiting evidence that Strava was up (efforts_unconfirmed, details_unconfirmed)",
    // lib/backfill/failure_policy.ts: a transient failure is marked at once and charged as an
    // attempt only once Strava is seen answering, in this run or a later one.
    up: (db) => {
      ensureTable(db, "activities");
      ensureTable(db, "segments");
    },
  },
  {
    version: 6,
    description: "the rate budget lives only in the folder's strava_budget.db: the database's copy is emptied",
    // The rows were a copy of the folder's budget store, kept for stats; stats reads the store now.
    // The empty table stays: it marks this tool's databases (lib/store/open.ts).
    up: (db) => {
      if (tableExists(db, "rate_limit_state")) db.exec("DELETE FROM rate_limit_state");
    },
  },
  {
    version: 7,
    description:
      "indexes that cover the pending queries (activities with deleted_at, in queue order; segments without details)",
    // Every pending count and next-batch query then reads only the pending rows, in queue order,
    // so a request costs the same at 3,000 activities as at 300 (docs/performance.md).
    up: (db) => {
      db.exec(`CREATE INDEX IF NOT EXISTS idx_activities_pending_live
               ON activities(segment_efforts_processed, deleted_at, start_date DESC, id DESC)`);
      db.exec(`CREATE INDEX IF NOT EXISTS idx_segments_pending_details ON segments(id)
               WHERE details_status IS NULL`);
    },
  },
  {
    version: 8,
    description: "no token_refresh_lock table (tokens.json.lock is the one token lock, docs/tokens.md)",
    up: (db) => db.exec("DROP TABLE IF EXISTS token_refresh_lock"),
  },
];

/** The schema version this build writes. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** The database's `PRAGMA user_version`. */
export function schemaVersion(db: Database): number {
  return Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
}

/** Result of `migrate`. */
export interface MigrationReport {
  from: number;
  to: number;
  applied: Migration[];
}

/** Applies every pending migration, each in its own transaction. Running it twice changes nothing. */
export function migrate(db: Database): MigrationReport {
  const from = schemaVersion(db);
  if (from > LATEST_VERSION) throw newerSchemaError("the database", from);
  const applied: Migration[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    transaction(db, () => {
      migration.up(db);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    });
    applied.push(migration);
  }
  return { from, to: schemaVersion(db), applied };
}

/** The UsageError for a database written by a newer version of this tool. */
export function newerSchemaError(path: string, version: number): UsageError {
  return new UsageError(
    `${path} was written by a newer strava-backfill (schema version ${version}; this one knows up to ` +
      `${LATEST_VERSION}); update strava-backfill`,
  );
}
