/**
 * Writing an export's activities into the database: an upsert by activity id that adds new
 * activities and refreshes what the archive knows about existing ones, without ever touching
 * what the backfill or the API filled in.
 *
 * Rules:
 * - A new id is inserted with `source = 'archive'`, pending (`segment_efforts_processed = 0`).
 * - An existing row whose `raw_json` is NULL (nothing from the API yet) takes the archive's values;
 *   an empty cell does not erase a stored value.
 * - An existing row with `raw_json` keeps its API values: the API's record is the richer and the
 *   more recent one, so the archive only fills columns that are still NULL, plus `archive_json`.
 * - `segment_efforts_processed`, `efforts_*`, `raw_json`, `trainer`, `private`, `gear_id`,
 *   `start_date_local`, `timezone` and `created_at` are never written for an existing row.
 * - All rows go in one transaction: a bad row (unless skipped), a database error or an
 *   interruption leaves the database exactly as it was. Statements are prepared once and run
 *   per row.
 */
import { getLogger } from "@logtape/logtape";
import type { ArchiveActivity, ArchiveRow } from "./activities_csv.ts";
import { beginImmediate, type Database, prepareExact } from "../store/db.ts";
import { ACTIVITY_API_COLUMNS } from "../store/records.ts";
import { UsageError } from "../errors.ts";

const log = getLogger(["strava-backfill", "import"]);

/** How the rows of one import went. */
interface ImportCounts {
  /** New activities. */
  added: number;
  /** Existing activities whose archive fields changed. */
  updated: number;
  /** Existing activities the archive had nothing new for. */
  unchanged: number;
  /** Bad rows left out (only with `skipInvalid`). */
  skipped: number;
}

/** A row that could not be imported. */
interface BadRow {
  line: number;
  error: string;
}

/** Result of `importActivities`. */
export interface ImportResult extends ImportCounts {
  /** The first bad rows (at most `MAX_REPORTED`), in file order. */
  badRows: BadRow[];
  /** English sport names the tool does not know (kept as written, spaces removed). */
  unknownTypes: string[];
  /** Activity types in another language the tool cannot map: `sport_type` left empty, the name in `archive_json`. */
  unmappedTypes: string[];
}

/** Options for `importActivities`. */
interface ImportOptions {
  /** Import the good rows and report the bad ones, instead of refusing the whole file. */
  skipInvalid?: boolean;
  /** Names the file in messages. */
  label: string;
  /** Clock for created_at / updated_at (ms since epoch). */
  now?: () => number;
  /** Called after each batch with the number of data rows read so far. */
  onRows?: (rows: number) => void;
  /**
   * A large import: write it in rollback-journal mode when no other connection has the database
   * open, then return to WAL. WAL writes every page twice (to the log, then back into the file):
   * importing 50,000 rows took 1.7-1.8 s this way against 2.2-2.4 s in WAL.
   */
  bulk?: boolean;
}

/** How many bad rows a message or the result lists. */
export const MAX_REPORTED = 20;

/** The API columns the import does not fill from an export (no activities.csv cell maps to them): left to the API. */
const NOT_IN_ARCHIVE = ["start_date_local", "timezone", "kilojoules", "gear_id", "trainer", "private"] as const;
type ArchiveField = Exclude<(typeof ACTIVITY_API_COLUMNS)[number], (typeof NOT_IN_ARCHIVE)[number]>;

/** The archive's columns (the API's, less those), in the order of the statements' parameters ?2..?17 (?1 is the id). */
const FIELDS = ACTIVITY_API_COLUMNS.filter((c): c is ArchiveField =>
  !(NOT_IN_ARCHIVE as readonly string[]).includes(c)
) satisfies readonly (keyof ArchiveActivity)[];

const P_JSON = FIELDS.length + 2; // ?18 archive_json
const P_NOW = FIELDS.length + 3; // ?19 timestamp

/**
 * The value an existing row's column takes: the archive's, unless the API filled the row (then
 * the archive only fills a gap). A cell the archive leaves empty never erases a stored value.
 */
function merged(column: string, param: number): string {
  return `CASE WHEN raw_json IS NULL THEN COALESCE(?${param}, "${column}") ELSE COALESCE("${column}", ?${param}) END`;
}

const INSERT_SQL = `INSERT INTO activities (id, ${FIELDS.join(", ")}, archive_json, source, created_at, updated_at)
  VALUES (?1, ${FIELDS.map((_, i) => `?${i + 2}`).join(", ")}, ?${P_JSON}, 'archive', ?${P_NOW}, ?${P_NOW})
  ON CONFLICT(id) DO NOTHING`;

// The WHERE clause makes "unchanged" cheap to detect and leaves updated_at alone when nothing changed.
const UPDATE_SQL = `UPDATE activities SET
  ${FIELDS.map((c, i) => `"${c}" = ${merged(c, i + 2)}`).join(",\n  ")},
  archive_json = ?${P_JSON},
  source = CASE WHEN raw_json IS NULL THEN 'archive' ELSE source END,
  updated_at = ?${P_NOW}
  WHERE id = ?1 AND (
    ${FIELDS.map((c, i) => `"${c}" IS NOT ${merged(c, i + 2)}`).join("\n    OR ")}
    OR archive_json IS NOT ?${P_JSON}
    OR source IS NOT (CASE WHEN raw_json IS NULL THEN 'archive' ELSE source END))`;

/**
 * Upserts the activities of `batches` (from `readActivities`) in one transaction and counts
 * them. Bad rows make it a `UsageError` naming their lines, with nothing written, unless
 * `skipInvalid` is set; then they are counted as skipped and listed in the result.
 */
export async function importActivities(
  db: Database,
  batches: AsyncIterable<ArchiveRow[]>,
  options: ImportOptions,
): Promise<ImportResult> {
  const restore = options.bulk ? enterBulkMode(db) : () => {};
  try {
    return await upsertAll(db, batches, options);
  } finally {
    restore();
  }
}

async function upsertAll(
  db: Database,
  batches: AsyncIterable<ArchiveRow[]>,
  options: ImportOptions,
): Promise<ImportResult> {
  const now = options.now ?? Date.now;
  const insert = prepareExact(db, INSERT_SQL);
  const update = prepareExact(db, UPDATE_SQL);
  const counts: ImportCounts = { added: 0, updated: 0, unchanged: 0, skipped: 0 };
  const badRows: BadRow[] = [];
  const unknownTypes = new Set<string>();
  const unmappedTypes = new Set<string>();
  let bad = 0;
  let rows = 0;
  const params: (string | number | bigint | null)[] = new Array(P_NOW).fill(null);

  beginImmediate(db);
  try {
    for await (const batch of batches) {
      params[P_NOW - 1] = new Date(now()).toISOString().slice(0, 19) + "Z";
      for (const row of batch) {
        rows++;
        if (row.error !== undefined) {
          bad++;
          if (badRows.length < MAX_REPORTED) badRows.push({ line: row.line, error: row.error });
          continue;
        }
        // Once a row is bad and will not be skipped, the file is refused: keep reading only to
        // report every bad line at once.
        if (bad > 0 && !options.skipInvalid) continue;
        const a = row.activity;
        if (a.unknown_type !== null) (a.unknown_type_kept ? unknownTypes : unmappedTypes).add(a.unknown_type);
        params[0] = a.id;
        for (let i = 0; i < FIELDS.length; i++) params[i + 1] = a[FIELDS[i]];
        params[P_JSON - 1] = a.archive_json;
        if (Number(insert.run(...params).changes) === 1) {
          counts.added++;
        } else if (Number(update.run(...params).changes) === 1) {
          counts.updated++;
        } else {
          counts.unchanged++;
        }
      }
      options.onRows?.(rows);
    }
    if (bad > 0 && !options.skipInvalid) {
      const rowsWord = bad === 1 ? "row" : "rows";
      throw new UsageError(
        `${options.label}: ${bad} bad ${rowsWord}, nothing imported: ${describeBadRows(badRows, bad)}; ` +
          `fix the file, or pass --skip-invalid to import the other rows`,
      );
    }
    counts.skipped = bad;
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
  if (bad > 0) log.warn("skipped {bad} bad rows of {label}", { bad, label: options.label });
  return { ...counts, badRows, unknownTypes: [...unknownTypes].sort(), unmappedTypes: [...unmappedTypes].sort() };
}

/**
 * Switches a WAL database to rollback journal if this is its only connection, and returns
 * how to switch back. Never waits: with another process on the database it stays in WAL.
 */
function enterBulkMode(db: Database): () => void {
  const pragma = (sql: string) => Object.values(db.prepare(sql).get() as Record<string, unknown>)[0];
  if (String(pragma("PRAGMA journal_mode")).toLowerCase() !== "wal") return () => {};
  const timeout = Number(pragma("PRAGMA busy_timeout"));
  let switched = false;
  try {
    db.exec("PRAGMA busy_timeout = 0");
    switched = String(pragma("PRAGMA journal_mode = DELETE")).toLowerCase() === "delete";
  } catch (err) {
    log.debug("database in use elsewhere, importing in WAL mode: {error}", { error: String(err) });
  } finally {
    db.exec(`PRAGMA busy_timeout = ${timeout}`);
  }
  if (!switched) return () => {};
  return () => {
    try {
      db.exec("PRAGMA journal_mode = WAL");
    } catch (err) {
      // The next open switches it back (lib/store/db.ts sets WAL on every open).
      log.warn("could not return the database to WAL mode: {error}", { error: String(err) });
    }
  };
}

/** "line 5: ...; line 9: ... (and 3 more)". */
export function describeBadRows(badRows: BadRow[], total: number, limit = 5): string {
  const shown = badRows.slice(0, limit).map((b) => `line ${b.line}: ${b.error}`).join("; ");
  return total > limit ? `${shown} (and ${total - limit} more)` : shown;
}
