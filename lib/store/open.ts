/**
 * Which SQLite files this tool opens, and how. A file is classified from its catalogue on a
 * read-only connection before anything is written (not even the switch to WAL): this tool's
 * databases, the seed toolkit's and empty ones are adopted; another application's database is
 * refused and stays byte-identical. Stats opens read-only and reads whatever schema it finds.
 */
import { readRawCatalogue } from "./sqlite_catalogue.ts";
import {
  assertWritable,
  type Database,
  databaseExists,
  type DatabaseFile,
  inspectDatabaseFile,
  missingError,
  openDatabase,
  openReadOnly,
  tableExists,
} from "./db.ts";
import { LATEST_VERSION, migrate, newerSchemaError, schemaVersion } from "./schema.ts";
import { UsageError } from "../errors.ts";
import { warnIfShared } from "../files.ts";

/** What a SQLite file is to this tool. */
export interface DatabaseKind {
  /**
   * empty: no tables (adopted); seed: an `activities` table keyed by `id` at user_version 0
   * (the seed toolkit's or a similar tool's, adopted); ours: written by this tool; newer: written
   * by a newer version of it; foreign: anything else, never touched.
   */
  kind: "empty" | "seed" | "ours" | "newer" | "foreign";
  /** `PRAGMA user_version`. */
  version: number;
  /** Its tables, by name. */
  tables: string[];
  /** `PRAGMA application_id` (0 unless an application stamped the file). */
  applicationId: number;
}

/** A table only this tool creates (since migration 1): with a keyed `activities`, the tool's mark. */
const TOOL_TABLE = "rate_limit_state";

/**
 * Classifies a database by reading its catalogue (it writes nothing). A user_version this tool
 * never wrote on a file without its tables is another application's numbering, not a newer
 * version of this tool. A file without tables at user_version 0 is adopted: it holds nothing to
 * protect, and a user who points --db at one (a DB browser's "new database") means it for us.
 */
export function classifyDatabase(db: Database): DatabaseKind {
  const tables = (db.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`,
  ).all() as { name: string }[]).map((r) => String(r.name));
  const version = schemaVersion(db);
  const applicationId = Number(
    (db.prepare("PRAGMA application_id").get() as { application_id: number }).application_id,
  );
  const keyed = db.prepare(`SELECT 1 FROM pragma_table_info('activities') WHERE lower(name) = 'id' AND pk > 0`)
    .get() !== undefined;
  return { kind: decide(version, applicationId, tables, keyed)!, version, tables, applicationId };
}

/**
 * The rule of `classifyDatabase`. `keyed` (whether activities.id is its key) may be unknown
 * (undefined): the answer is then undefined where it depends on it.
 */
function decide(
  version: number,
  applicationId: number,
  tables: string[],
  keyed: boolean | undefined,
): DatabaseKind["kind"] | undefined {
  const lower = new Set(tables.map((t) => t.toLowerCase()));
  if (applicationId !== 0) return "foreign";
  if (version === 0 && tables.length === 0) return "empty";
  if (!lower.has("activities") || (version !== 0 && !lower.has(TOOL_TABLE))) return "foreign";
  if (keyed === undefined) return undefined;
  if (!keyed) return "foreign";
  return version === 0 ? "seed" : version > LATEST_VERSION ? "newer" : "ours";
}

/**
 * Refuses another application's WAL-mode database from its bytes alone when it has no -wal:
 * SQLite would create -wal and -shm beside it just to read its catalogue.
 */
function refuseForeignWithoutSqlite(path: string, file: DatabaseFile): void {
  if (!file.wal || databaseExists(`${path}-wal`)) return;
  const raw = readRawCatalogue(path);
  if (raw === null || decide(raw.version, raw.applicationId, raw.tables, undefined) !== "foreign") return;
  throw new UsageError(foreignMessage(path, { kind: "foreign", ...raw, tables: [...raw.tables].sort() }));
}

/** The one line that refuses another application's database. */
function foreignMessage(path: string, found: DatabaseKind): string {
  const shown = found.tables.slice(0, 10).join(", ");
  const more = found.tables.length > 10 ? ` and ${found.tables.length - 10} more` : "";
  const parts = [found.tables.length > 0 ? `tables: ${shown}${more}` : "no tables"];
  if (found.version !== 0) parts.push(`user_version ${found.version}`);
  if (found.applicationId !== 0) parts.push(`application_id ${found.applicationId}`);
  return `${path} is a SQLite database of another application (${parts.join("; ")}); not touching it`;
}

/** Whether the database holds a refresh token (an adopted tokens table without the column holds none of ours). */
function holdsTokens(db: Database): boolean {
  if (!tableExists(db, "tokens")) return false;
  try {
    return db.prepare("SELECT 1 FROM tokens WHERE refresh_token IS NOT NULL LIMIT 1").get() !== undefined;
  } catch {
    return false;
  }
}

/** Warns (once) when a database holding tokens (or about to: `willHold`) is readable by other users. */
function warnIfTokensShared(db: Database, path: string, info: Deno.FileInfo | null, willHold = false): void {
  if (info !== null && (willHold || holdsTokens(db))) warnIfShared(path, "your Strava tokens", { info });
}

/** Options of `assertToolDatabase`, `openToolDatabase` and `openMigrated`. */
interface OpenToolOptions {
  /** Create the database when missing (update_schema, import_archive with --create). */
  create?: boolean;
  /** The caller is about to store tokens in it (setup_auth): warn if it is shared even before it holds any. */
  storesTokens?: boolean;
}

/**
 * Checks, without writing anything, that `path` is a database this tool may write: it exists
 * (or `create` allows making it), is writable, and is this tool's, the seed's or empty. Refuses
 * everything else with a UsageError naming what was found.
 */
export function assertToolDatabase(path: string, options: OpenToolOptions = {}): void {
  const file = inspectDatabaseFile(path);
  if (file.kind === "missing") {
    if (!options.create) throw missingError(path);
    return;
  }
  assertWritable(path);
  if (file.kind === "empty") return;
  refuseForeignWithoutSqlite(path, file);
  const db = openReadOnly(path);
  try {
    const found = classifyDatabase(db);
    if (found.kind === "foreign") throw new UsageError(foreignMessage(path, found));
    if (found.kind === "newer") throw newerSchemaError(path, found.version);
    warnIfTokensShared(db, path, file.info, options.storesTokens);
  } finally {
    db.close();
  }
}

/** Opens (or with `create` creates) a database this tool may write, after `assertToolDatabase`. */
export function openToolDatabase(path: string, options: OpenToolOptions = {}): Database {
  assertToolDatabase(path, options);
  return openDatabase(path, options);
}

/** A database opened read-only, with how its schema compares to this tool's. */
interface ReadOnlyDatabase extends Disposable {
  db: Database;
  found: DatabaseKind;
  /** One line saying the schema is older or newer than this tool, or null when it is current. */
  note: string | null;
}

/**
 * Opens a database for reading only (stats): never migrates, writes, locks for writing or
 * creates a file (lib/store/db.ts `openReadOnly`). Another application's database is refused
 * like everywhere else; an older or newer schema is read as it is, with a note saying so.
 */
export function openForReading(path: string): ReadOnlyDatabase {
  const file = inspectDatabaseFile(path);
  if (file.kind === "sqlite") refuseForeignWithoutSqlite(path, file);
  const db = openReadOnly(path);
  try {
    const found = classifyDatabase(db);
    if (found.kind === "foreign") throw new UsageError(foreignMessage(path, found));
    warnIfTokensShared(db, path, file.info);
    let note: string | null = null;
    if (found.kind === "newer") {
      note = `${path} was written by a newer strava-backfill (schema version ${found.version}; this one knows up to ` +
        `${LATEST_VERSION}); figures it cannot read are shown as unknown; update strava-backfill`;
    } else if (found.version < LATEST_VERSION) {
      note = `${path} has schema version ${found.version}, older than this tool's ${LATEST_VERSION}; ` +
        `figures it cannot hold yet are shown as unknown; run update_schema.ts to upgrade it`;
    }
    return { db, found, note, [Symbol.dispose]: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Opens an existing database and brings its schema up to date. Every script but the
 * two that may create a database opens this way, so pointing the backfill at a database
 * from the old toolkit just works.
 */
export function openMigrated(path: string, options: OpenToolOptions = {}): Database {
  const db = openToolDatabase(path, options);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
