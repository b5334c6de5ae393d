/**
 * The rate limiter's persisted state: table `rate_limit_state`, one row per limit family
 * ('read', 'overall') with the last figures the server sent and when (Unix milliseconds).
 *
 * The budget arithmetic (lib/strava/rate_limit.ts) sees only `RateStateStore`, so it runs on
 * a virtual clock without SQLite (`MemoryRateState`) as well as on a database
 * (`SqliteRateState`).
 */
import type { StatementSync } from "node:sqlite";
import { type Database, tableExists, transaction } from "./db.ts";

/** One family's persisted row. Figures are whole numbers or null (unknown). */
export interface RateStateRow {
  name: string;
  limit_15min: number | null;
  limit_daily: number | null;
  usage_15min: number | null;
  usage_daily: number | null;
  observed_at: number | null;
  blocked_until: number | null;
  /**
   * Strava's clock minus the machine's (ms) that the instants above are on; absent or null: 0.
   * Kept by the folder's shared store only (the database table has no such column).
   */
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

/** Where a limiter keeps what it knows, so the next process (or one beside it) starts from it. */
export interface RateStateStore {
  /**
   * Whether reservations are kept here for every process (the folder's shared store). A store
   * that does not keep them ignores `reserve`/`release` and always shows none.
   */
  readonly sharesReservations: boolean;
  /** The rows as stored now (none when nothing was stored yet). */
  load(): RateStateRow[];
  /**
   * Reads the stored state and writes back what `next` returns, as one atomic step, so another
   * process cannot act between the read and the write. `now` decides which reservations expired.
   */
  update(now: number, next: (current: RateStateView) => RateStateChange): void;
}

const SELECT_SQL = `SELECT name, limit_15min, limit_daily, usage_15min, usage_daily, observed_at, blocked_until
                    FROM rate_limit_state`;

interface Statements {
  select: StatementSync;
  update: StatementSync;
  insert: StatementSync;
}

function prepareStatements(db: Database): Statements {
  return {
    select: db.prepare(SELECT_SQL),
    update: db.prepare(
      `UPDATE rate_limit_state SET limit_15min = ?, limit_daily = ?, usage_15min = ?, usage_daily = ?,
              observed_at = ?, blocked_until = ? WHERE name = ?`,
    ),
    insert: db.prepare(
      `INSERT INTO rate_limit_state (limit_15min, limit_daily, usage_15min, usage_daily, observed_at, blocked_until, name)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}

/** Rows as read from a database whose columns may hold anything (an adopted file): only whole numbers are figures. */
export function normalizeRateRows(rows: Record<string, unknown>[]): RateStateRow[] {
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

/** The state in table `rate_limit_state` of a migrated database (lib/store/schema.ts). */
export class SqliteRateState implements RateStateStore {
  readonly #db: Database;
  #statements: Statements | undefined;

  /** Uses `db`; statements are prepared on the first write. */
  constructor(db: Database) {
    this.#db = db;
  }

  /** Rows of a database that may not have the table yet (stats on an old file): none. */
  load(): RateStateRow[] {
    if (!tableExists(this.#db, "rate_limit_state")) return [];
    return normalizeRateRows(this.#db.prepare(SELECT_SQL).all());
  }

  /** Reservations are not kept in a database: each database would see only its own. */
  readonly sharesReservations = false;

  /** Read-merge-write in one transaction; joins a transaction the caller already has open rather than fail to nest one. */
  update(_now: number, next: (current: RateStateView) => RateStateChange): void {
    const statements = this.#statements ??= prepareStatements(this.#db);
    const write = () => {
      const rows = normalizeRateRows(statements.select.all());
      for (const row of next({ rows, reservations: [], expired: [] }).rows ?? []) {
        const values = [
          row.limit_15min,
          row.limit_daily,
          row.usage_15min,
          row.usage_daily,
          row.observed_at,
          row.blocked_until,
          row.name,
        ] as const;
        // UPDATE-then-INSERT rather than an upsert: an adopted table may lack the key upserts need.
        if (Number(statements.update.run(...values).changes) === 0) statements.insert.run(...values);
      }
    };
    if (this.#db.isTransaction) write();
    else transaction(this.#db, write);
  }
}

/**
 * State held in memory, with reservations: shared by limiters of one process as the folder's
 * store is shared by processes (tests and benchmarks model several processes with it).
 */
export class MemoryRateState implements RateStateStore {
  readonly sharesReservations = true;
  readonly #rows = new Map<string, RateStateRow>();
  #reservations: RateReservation[] = [];

  /** A copy of the rows. */
  load(): RateStateRow[] {
    return [...this.#rows.values()].map((r) => ({ ...r }));
  }

  /** Live reservations (for tests). */
  reservations(): RateReservation[] {
    return this.#reservations.map((r) => ({ ...r }));
  }

  /** Applies what `next` returns: rows by name, one reservation added or removed; expired ones dropped. */
  update(now: number, next: (current: RateStateView) => RateStateChange): void {
    const expired = this.#reservations.filter((r) => r.expiresAt <= now);
    this.#reservations = this.#reservations.filter((r) => r.expiresAt > now);
    const change = next({ rows: this.load(), reservations: this.reservations(), expired });
    for (const row of change.rows ?? []) this.#rows.set(row.name, { ...row });
    if (change.release) this.#reservations = this.#reservations.filter((r) => r.id !== change.release);
    if (change.reserve) this.#reservations.push({ ...change.reserve });
  }
}
