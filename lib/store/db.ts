/**
 * Opening the SQLite database (node:sqlite) safely, and running work in transactions.
 *
 * A file is checked before SQLite sees it: a directory, a non-SQLite file or an unwritable
 * path is refused with a `UsageError` and left byte-for-byte untouched, because SQLite
 * would otherwise happily create journal files beside it or turn an empty path into a database.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { UsageError } from "../errors.ts";

/** The default database path of docs/contract.md. */
export const DEFAULT_DB_PATH = "data/segments.db";

const SQLITE_MAGIC = "SQLite format 3\0";

/** An open database. */
export type Database = DatabaseSync;

/** Options for `openDatabase`. */
export interface OpenOptions {
  /** Create the file (and its folder) when missing. Without it a missing file is a UsageError. */
  create?: boolean;
  /** Open read-only (stats); never creates. */
  readOnly?: boolean;
  /** Milliseconds to wait for another writer before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/** What the file at `path` is, without modifying it. */
function inspect(path: string): "missing" | "empty" | "sqlite" {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "missing";
    throw err;
  }
  if (info.isDirectory) throw new UsageError(`${path} is a directory, not a database file`);
  if (info.size === 0) return "empty";
  const head = new Uint8Array(16);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied) throw new UsageError(`cannot read ${path}: permission denied`);
    throw err;
  }
  try {
    let read = 0;
    while (read < 16) {
      const n = file.readSync(head.subarray(read));
      if (n === null) break;
      read += n;
    }
  } finally {
    file.close();
  }
  if (new TextDecoder().decode(head) !== SQLITE_MAGIC) {
    throw new UsageError(`${path} is not a SQLite database`);
  }
  return "sqlite";
}

function assertWritable(path: string): void {
  try {
    Deno.openSync(path, { read: true, write: true }).close();
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(`cannot write ${path}: permission denied (check the file's owner and mode)`);
    }
    throw err;
  }
}

/**
 * Opens (or, with `create`, creates) the database at `path` with WAL, a busy timeout
 * and foreign keys on.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database {
  const state = inspect(path);
  if (state === "missing") {
    if (!options.create || options.readOnly) {
      throw new UsageError(
        `database ${path} does not exist; create it with --create (update_schema.ts --create, or import_archive.ts --create EXPORT)`,
      );
    }
    Deno.mkdirSync(dirname(path), { recursive: true });
  } else if (!options.readOnly) {
    assertWritable(path);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
  } catch (err) {
    throw new UsageError(`cannot open database ${path}: ${(err as Error).message}`);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    if (!options.readOnly) db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    // WAL makes NORMAL durable against process crashes (kill -9); only power loss can drop
    // the last transactions, never corrupt the file.
    db.exec("PRAGMA synchronous = NORMAL");
  } catch (err) {
    db.close();
    throw new UsageError(`cannot use database ${path}: ${(err as Error).message}`);
  }
  return db;
}

/**
 * Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on any error (which is rethrown).
 * IMMEDIATE takes the write lock up front so two processes never deadlock upgrading a read.
 */
export function transaction<T>(db: Database, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

/** Prepares a statement whose integer columns come back as bigint (ids above 2^53 stay exact). */
export function prepareExact(db: Database, sql: string): StatementSync {
  const stmt = db.prepare(sql);
  stmt.setReadBigInts(true);
  return stmt;
}

/** Names of the columns of `table` (empty when the table does not exist). */
export function columnsOf(db: Database, table: string): string[] {
  const rows = db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[];
  return rows.map((r) => r.name);
}

/** Whether a table exists. */
export function tableExists(db: Database, table: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;
}

/** Whether anything exists at `path` (a database this run would otherwise create). */
export function databaseExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Deletes the database at `path` with its WAL and shared-memory files; missing ones are fine. */
export function removeDatabaseFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      Deno.removeSync(file);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}
