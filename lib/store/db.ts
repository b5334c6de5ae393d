/**
 * Opening the SQLite database (node:sqlite) safely, and running work in transactions.
 *
 * A file is checked before SQLite sees it: a directory, a non-SQLite file, a file with a second
 * hard link or an unwritable path is refused with a `UsageError` and left byte-for-byte
 * untouched, because SQLite would otherwise happily create journal files beside it, turn an
 * empty path into a database, or split one database into two through two names.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { DiskFullError, diskFullError, isDiskFull, RuntimeError, UsageError } from "../errors.ts";
import { createPrivateFile, shellPath } from "../files.ts";

/** The default database path of docs/contract.md. */
export const DEFAULT_DB_PATH = "data/segments.db";

const SQLITE_MAGIC = "SQLite format 3\0";

/** How long a write waits for another program's write lock before giving up (ms). */
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** An open database. */
export type Database = DatabaseSync;

/** Options for `openDatabase`. */
interface OpenOptions {
  /** Create the file (mode 0600, and its folder) when missing. Without it a missing file is a UsageError. */
  create?: boolean;
  /** Open read-only (`openReadOnly`); never creates. */
  readOnly?: boolean;
  /** Milliseconds to wait for another writer before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/** What `inspectDatabaseFile` found at a path. */
export interface DatabaseFile {
  kind: "missing" | "empty" | "sqlite";
  /** The file's metadata (null when missing). */
  info: Deno.FileInfo | null;
  /** The header says WAL mode (bytes 18 and 19 are 2). */
  wal: boolean;
}

/**
 * What the file at `path` is, without modifying it. A directory, a non-SQLite file, an
 * unreadable file and a file with more than one hard link are UsageErrors: SQLite finds its
 * -wal and locks by name, so two names of one file make two databases that overwrite each
 * other (https://sqlite.org/howtocorrupt.html, 2.5).
 */
export function inspectDatabaseFile(path: string): DatabaseFile {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { kind: "missing", info: null, wal: false };
    throw err;
  }
  if (info.isDirectory) throw new UsageError(`${path} is a directory, not a database file`);
  if (info.nlink !== null && info.nlink > 1) {
    throw new UsageError(
      `${path} has ${info.nlink} hard links, and SQLite loses commits when one database has two names; ` +
        `keep one name (list them: find . -samefile ${shellPath(path)}) or use a copy`,
    );
  }
  if (info.size === 0) return { kind: "empty", info, wal: false };
  const head = new Uint8Array(20);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied) throw new UsageError(`cannot read ${path}: permission denied`);
    throw err;
  }
  try {
    let read = 0;
    while (read < head.length) {
      const n = file.readSync(head.subarray(read));
      if (n === null) break;
      read += n;
    }
  } finally {
    file.close();
  }
  if (new TextDecoder().decode(head.subarray(0, 16)) !== SQLITE_MAGIC) {
    throw new UsageError(`${path} is not a SQLite database`);
  }
  return { kind: "sqlite", info, wal: head[18] === 2 && head[19] === 2 };
}

/** Refuses (UsageError) a file this process may not write. */
export function assertWritable(path: string): void {
  try {
    Deno.openSync(path, { read: true, write: true }).close();
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(`cannot write ${path}: permission denied (check the file's owner and mode)`);
    }
    throw err;
  }
}

/** The UsageError for a database that does not exist. */
export function missingError(path: string): UsageError {
  return new UsageError(
    `database ${path} does not exist; create it with --create (update_schema.ts --create, or import_archive.ts --create EXPORT)`,
  );
}

/**
 * The path each open database was opened by, its busy timeout, and the device and inode that path
 * named then (null for `:memory:`), for messages and for `assertStillNamed`.
 */
const openedAs = new WeakMap<Database, { path: string; timeoutMs: number; file: FileIdentity | null }>();

/** Which file a path names: its device and inode (null where the platform has none). */
interface FileIdentity {
  dev: number | null;
  ino: number | null;
}

function identityOf(path: string): FileIdentity | null {
  if (path === ":memory:") return null;
  const { dev, ino } = Deno.statSync(path); // follows a symlink: the identity is the real file's
  return { dev, ino };
}

/**
 * Throws a RuntimeError (exit 1) when `db`'s path no longer names the file that was opened: it was
 * deleted, moved away, or replaced (a `mv` of a backup over it, a restore). SQLite keeps writing
 * into the open file, which nobody will ever read again; the engine calls this before each
 * batch and each request, so no read is spent and nothing is stored after that. One stat.
 */
export function assertStillNamed(db: Database): void {
  const opened = openedAs.get(db);
  if (!opened?.file || opened.file.ino === null) return;
  let now: Deno.FileInfo;
  try {
    now = Deno.statSync(opened.path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new RuntimeError(
      `database ${opened.path} was deleted or moved away while this run was using it; stopped, no further request ` +
        `is sent; put the database back (or create it), then run again`,
    );
  }
  if (now.dev !== opened.file.dev || now.ino !== opened.file.ino) {
    throw new RuntimeError(
      `database ${opened.path} was replaced by another file (moved or restored over it) while this run was using it; ` +
        `stopped, no further request is sent and nothing was written to the new file; run again to use it`,
    );
  }
}

/** `err`, or the disk-full error naming `db`'s file when that is what it says. */
export function explainWriteError(db: Database, err: unknown): unknown {
  if (err instanceof DiskFullError) return err;
  return isDiskFull(err) ? diskFullError(databasePath(db), err) : err;
}

/** The path `db` was opened by (as the user wrote it), or SQLite's absolute path. */
export function databasePath(db: Database): string {
  return openedAs.get(db)?.path ?? db.location() ?? "the database";
}

/** Whether `err` is SQLite's "database is locked" (SQLITE_BUSY) or "table is locked" (SQLITE_LOCKED). */
export function isBusyError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { errcode?: number }).errcode;
  return code === 5 || code === 6 || /database is locked|database table is locked/.test(err.message);
}

/** The one line for a write that waited out the busy timeout. */
export function lockedError(path: string, timeoutMs = DEFAULT_BUSY_TIMEOUT_MS): RuntimeError {
  return new RuntimeError(
    `database ${path} is locked: another program has held it for writing for over ${
      timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`
    } ` +
      `(an import, a sqlite3 shell or a DB browser with unsaved changes); let it finish or close it, then run again`,
  );
}

/**
 * Opens (or, with `create`, creates) the database at `path` with WAL, a busy timeout
 * and foreign keys on. A created file is 0600 (it will hold tokens); SQLite gives its -wal and
 * -shm the mode of the database file.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database {
  if (options.readOnly) return openReadOnly(path, options);
  const file = inspectDatabaseFile(path);
  if (file.kind === "missing") {
    if (!options.create) throw missingError(path);
    if (path !== ":memory:") {
      Deno.mkdirSync(dirname(path) || ".", { recursive: true });
      createPrivateFile(path);
    }
  } else {
    assertWritable(path);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw new UsageError(`cannot open database ${path}: ${(err as Error).message}`);
  }
  const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  openedAs.set(db, { path, timeoutMs: timeout, file: identityOf(path) });
  try {
    db.exec(`PRAGMA busy_timeout = ${timeout}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    // WAL makes NORMAL durable against process crashes (kill -9); only power loss can drop
    // the last transactions, never corrupt the file.
    db.exec("PRAGMA synchronous = NORMAL");
  } catch (err) {
    db.close();
    if (isBusyError(err)) throw lockedError(path, timeout);
    throw new UsageError(`cannot use database ${path}: ${(err as Error).message}`);
  }
  return db;
}

/**
 * Opens an existing database for reading only: it never writes the file and takes no write
 * lock. A read-only or immutable file is fine. The one file it may create is SQLite's own:
 * a WAL database (all of this tool's) needs its -wal and -shm, so SQLite makes them when they
 * are missing, and then needs a writable folder. (SQLite's `immutable=1` would avoid that, but
 * Deno's scoped permissions turn a `file:` URI into a plain path, so it cannot be asked for.)
 */
export function openReadOnly(path: string, options: { busyTimeoutMs?: number } = {}): Database {
  const file = inspectDatabaseFile(path);
  if (file.kind === "missing") throw missingError(path);
  let db: DatabaseSync | undefined;
  const timeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    db.exec(`PRAGMA busy_timeout = ${timeoutMs}`);
    db.prepare("SELECT count(*) FROM sqlite_master").get(); // SQLite opens lazily: fail here, not later
  } catch (err) {
    db?.close();
    if (isBusyError(err)) throw lockedError(path, timeoutMs);
    const why = (err as Error).message;
    if (file.wal && /unable to open/.test(why)) {
      throw new UsageError(
        `cannot read database ${path}: it is in WAL mode and SQLite cannot create ${path}-shm beside it ` +
          `(the folder is read-only); make the folder writable, or copy the database somewhere writable`,
      );
    }
    throw new UsageError(`cannot read database ${path}: ${why}`);
  }
  openedAs.set(db, { path, timeoutMs, file: identityOf(path) });
  return db;
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

/**
 * `BEGIN IMMEDIATE`: takes the write lock now, waiting the busy timeout for another writer; when
 * that runs out, the error names the file and what to do instead of SQLite's bare "database is locked".
 */
export function beginImmediate(db: Database): void {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (err) {
    if (isBusyError(err)) throw lockedError(databasePath(db), openedAs.get(db)?.timeoutMs);
    throw err;
  }
}

/**
 * Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on any error (which is rethrown).
 * IMMEDIATE takes the write lock up front so two processes never deadlock upgrading a read.
 * The first error is the one reported: SQLite may already have rolled back by itself (a full
 * disk, an I/O error), and a failing ROLLBACK must not replace the cause with "cannot rollback".
 * A full disk is reported as such, naming the database (`diskFullError`).
 */
export function transaction<T>(db: Database, fn: () => T): T {
  try {
    beginImmediate(db);
  } catch (err) {
    throw explainWriteError(db, err);
  }
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    try {
      if (db.isTransaction) db.exec("ROLLBACK");
    } catch {
      // the transaction is gone already (SQLite rolled it back itself); the first error says why
    }
    throw explainWriteError(db, err);
  }
}

/** Each open database's statements by SQL text, for `prepareExact`. */
const prepared = new WeakMap<Database, Map<string, StatementSync>>();

/**
 * A statement whose integer columns come back as bigint (ids above 2^53 stay exact), prepared
 * once per database and SQL text: compiling the statements a record is stored with cost more
 * than running them (docs/performance.md, "Cost per request").
 */
export function prepareExact(db: Database, sql: string): StatementSync {
  let statements = prepared.get(db);
  if (!statements) prepared.set(db, statements = new Map());
  let stmt = statements.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    stmt.setReadBigInts(true);
    statements.set(sql, stmt);
  }
  return stmt;
}

/** The number a `SELECT count(*) n …` query answers. */
export function countOf(db: Database, sql: string, ...params: SQLInputValue[]): number {
  return Number((prepareExact(db, sql).get(...params) as { n: bigint }).n);
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
