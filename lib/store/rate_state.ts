/**
 * The rate budget's only persistent state: a small SQLite file per folder (`strava_budget.db`
 * beside tokens.json) holding, per Strava application, the last limits and usage seen and one
 * reservation per request in flight.
 *
 * Strava counts per application, not per database, so two backfills on `a.db` and `b.db` in the
 * same folder spend one budget. A process reserves each request here before sending it, in a
 * short `BEGIN IMMEDIATE` transaction that sees every other process's usage and reservations,
 * so together they never pass the allowed share. A reservation whose holder was killed expires.
 * The scoped permissions (`--allow-write=.`) keep a script inside its folder, so this is as far
 * as the sharing can reach; processes in other folders meet only in Strava's own headers.
 *
 * The file is in WAL mode with `synchronous = NORMAL`: a commit costs no fsync (only the
 * checkpoints, every thousand pages, do), where a rollback journal cost about eight fsyncs and
 * two unlinks per request (docs/rate_limits.md). A power cut may lose the last commits, never the
 * file; Strava's next headers bring the figures back. The last process to close the file turns
 * it back to a rollback journal, so that stats can read it at rest without leaving -wal/-shm
 * files beside it. The file holds no secret but is created 0600 like the tool's other files
 * (SQLite gives -wal and -shm the file's mode).
 *
 * The budget arithmetic (lib/strava/rate_limit.ts) sees only `RateStateStore`, so it runs on a
 * virtual clock without SQLite too (lib/testing/memory_rate_state.ts).
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** One family's persisted row. Figures are whole numbers or null (unknown). */
export interface RateStateRow {
  name: string;
  limit_15min: number | null;
  limit_daily: number | null;
  usage_15min: number | null;
  usage_daily: number | null;
  observed_at: number | null;
  blocked_until: number | null;
  /** Strava's clock minus the machine's (ms) that the instants above are on; absent or null: 0. */
  clock_offset?: number | null;
}

/** One request reserved before it is sent, until it is answered (or the reservation expires). */
export interface RateReservation {
  /** Unique per request (a random UUID). */
  id: string;
  /** Limit families it counts against ("read", "overall"). */
  families: string[];
  /** Start of the 15-minute window and of the UTC day it was reserved in (ms). */
  window: number;
  day: number;
  /** After this instant (ms) the holder is presumed dead (killed mid-request). */
  expiresAt: number;
}

/** What a store holds at the start of an atomic update. */
export interface RateStateView {
  rows: RateStateRow[];
  /** Live reservations of every process sharing the store (the caller's own included). */
  reservations: RateReservation[];
  /** Reservations that expired; the store deletes them in this update. Their requests may have been counted. */
  expired: RateReservation[];
}

/** What an atomic update writes back. */
export interface RateStateChange {
  /** Rows to write (by name); none: rows unchanged. */
  rows?: RateStateRow[];
  /** A reservation to add. */
  reserve?: RateReservation;
  /** Id of a reservation to remove (answered or failed). */
  release?: string;
}

/** Where limiters keep what they know and reserve their requests, so every process (and the next) shares one budget. */
export interface RateStateStore {
  /** The rows as stored now (none when nothing was stored yet). */
  load(): RateStateRow[];
  /**
   * Reads the stored state and writes back what `next` returns, as one atomic step, so another
   * process cannot act between the read and the write. `now` decides which reservations expired.
   */
  update(now: number, next: (current: RateStateView) => RateStateChange): void;
}

/** Rows as read from a file whose columns may hold anything: only whole numbers are figures. */
function normalizeRateRows(rows: Record<string, unknown>[]): RateStateRow[] {
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : null);
  return rows.map((r) => ({
    name: String(r.name),
    limit_15min: num(r.limit_15min),
    limit_daily: num(r.limit_daily),
    usage_15min: num(r.usage_15min),
    usage_daily: num(r.usage_daily),
    observed_at: num(r.observed_at),
    blocked_until: num(r.blocked_until),
    ...("clock_offset" in r ? { clock_offset: num(r.clock_offset) } : {}),
  }));
}

/** The shared store's file name, in the folder the tool runs in. */
export const SHARED_RATE_STATE_PATH = "strava_budget.db";

/** How long another process may wait for the store's write lock (ms); transactions last microseconds. */
const BUSY_TIMEOUT_MS = 10_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rate_limit_state (
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  limit_15min INTEGER,
  limit_daily INTEGER,
  usage_15min INTEGER,
  usage_daily INTEGER,
  observed_at INTEGER,
  blocked_until INTEGER,
  clock_offset INTEGER,
  PRIMARY KEY (app, name)
);
CREATE TABLE IF NOT EXISTS rate_reservations (
  id TEXT PRIMARY KEY,
  app TEXT NOT NULL,
  families TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  day_start INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);`;

interface Statements {
  rows: StatementSync;
  reservations: StatementSync;
  deleteExpired: StatementSync;
  upsert: StatementSync;
  reserve: StatementSync;
  release: StatementSync;
}

function prepareStatements(db: DatabaseSync): Statements {
  return {
    rows: db.prepare(
      `SELECT name, limit_15min, limit_daily, usage_15min, usage_daily, observed_at, blocked_until, clock_offset
       FROM rate_limit_state WHERE app = ?`,
    ),
    reservations: db.prepare(
      "SELECT id, families, window_start, day_start, expires_at FROM rate_reservations WHERE app = ?",
    ),
    deleteExpired: db.prepare("DELETE FROM rate_reservations WHERE app = ? AND expires_at <= ?"),
    upsert: db.prepare(
      `INSERT INTO rate_limit_state (app, name, limit_15min, limit_daily, usage_15min, usage_daily, observed_at,
                                     blocked_until, clock_offset)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (app, name) DO UPDATE SET limit_15min = excluded.limit_15min,
         limit_daily = excluded.limit_daily, usage_15min = excluded.usage_15min,
         usage_daily = excluded.usage_daily, observed_at = excluded.observed_at,
         blocked_until = excluded.blocked_until, clock_offset = excluded.clock_offset`,
    ),
    reserve: db.prepare(
      `INSERT INTO rate_reservations (id, app, families, window_start, day_start, expires_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    release: db.prepare("DELETE FROM rate_reservations WHERE app = ? AND id = ?"),
  };
}

/** The folder's shared budget for one Strava application (`app`: its client id, or a stable stand-in). */
export class SharedRateState implements RateStateStore, Disposable {
  readonly #db: DatabaseSync;
  readonly #app: string;
  readonly #statements: Statements;

  /** Opens (creating, mode 0600) the store at `path`. Throws when the file is not a usable SQLite database. */
  constructor(app: string, path: string = SHARED_RATE_STATE_PATH) {
    try {
      Deno.openSync(path, { createNew: true, write: true, mode: 0o600 }).close();
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    this.#app = app;
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec("PRAGMA synchronous = NORMAL");
      this.#db.exec(SCHEMA);
      // A store made before clock offsets were kept gains the column.
      const columns = this.#db.prepare("PRAGMA table_info(rate_limit_state)").all().map((c) => c.name);
      if (!columns.includes("clock_offset")) {
        this.#db.exec("ALTER TABLE rate_limit_state ADD COLUMN clock_offset INTEGER");
      }
      this.#statements = prepareStatements(this.#db);
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  /** This application's rows. */
  load(): RateStateRow[] {
    return normalizeRateRows(this.#statements.rows.all(this.#app));
  }

  /** Live reservations of this application (for tests and stats). */
  reservations(): RateReservation[] {
    return this.#statements.reservations.all(this.#app).map((r) => ({
      id: String(r.id),
      families: String(r.families).split(","),
      window: Number(r.window_start),
      day: Number(r.day_start),
      expiresAt: Number(r.expires_at),
    }));
  }

  /** One `BEGIN IMMEDIATE` transaction: no other process reads or writes the store in between. */
  update(now: number, next: (current: RateStateView) => RateStateChange): void {
    const s = this.#statements;
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const all = this.reservations();
      const expired = all.filter((r) => r.expiresAt <= now);
      if (expired.length > 0) s.deleteExpired.run(this.#app, now);
      const change = next({ rows: this.load(), reservations: all.filter((r) => r.expiresAt > now), expired });
      for (const r of change.rows ?? []) {
        s.upsert.run(
          this.#app,
          r.name,
          r.limit_15min,
          r.limit_daily,
          r.usage_15min,
          r.usage_daily,
          r.observed_at,
          r.blocked_until,
          r.clock_offset ?? null,
        );
      }
      if (change.release) s.release.run(this.#app, change.release);
      const add = change.reserve;
      if (add) s.reserve.run(add.id, this.#app, add.families.join(","), add.window, add.day, add.expiresAt);
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  /**
   * Closes the file; the last process to close it turns it back to a rollback journal (at rest,
   * stats reads it without creating -wal/-shm). While another process has it open, it stays WAL.
   */
  [Symbol.dispose](): void {
    if (!this.#db.isOpen) return;
    try {
      this.#db.exec("PRAGMA busy_timeout = 0");
      this.#db.exec("PRAGMA journal_mode = DELETE");
    } catch {
      // Another process has the file open (SQLITE_BUSY): it stays in WAL until that one closes it.
    }
    this.#db.close();
  }
}

/**
 * The rows of the folder's shared budget without writing anything (for stats): those of the
 * application seen most recently, or none when the file is missing or unreadable.
 */
export function readSharedRateRows(path: string = SHARED_RATE_STATE_PATH): RateStateRow[] {
  let db: DatabaseSync;
  try {
    if (!Deno.statSync(path).isFile) return [];
    db = new DatabaseSync(path, { readOnly: true });
  } catch {
    return [];
  }
  try {
    const rows = db.prepare(
      `SELECT * FROM rate_limit_state WHERE app = (SELECT app FROM rate_limit_state ORDER BY observed_at DESC LIMIT 1)`,
    ).all();
    return normalizeRateRows(rows);
  } catch {
    return []; // not this tool's file, or from before it had the table: Strava's defaults stand
  } finally {
    db.close();
  }
}
