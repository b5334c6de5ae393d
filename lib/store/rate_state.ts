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
}

/** Where a limiter keeps what it knows, so the next process (or one beside it) starts from it. */
export interface RateStateStore {
  /** The rows as stored now (none when nothing was stored yet). */
  load(): RateStateRow[];
  /**
   * Reads the stored rows and writes back the rows `next` returns, as one atomic step, so
   * another process cannot write between the read and the write.
   */
  update(next: (current: RateStateRow[]) => RateStateRow[]): void;
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

  /** Read-merge-write in one transaction; joins a transaction the caller already has open rather than fail to nest one. */
  update(next: (current: RateStateRow[]) => RateStateRow[]): void {
    const statements = this.#statements ??= prepareStatements(this.#db);
    const write = () => {
      for (const row of next(normalizeRateRows(statements.select.all()))) {
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

/** State held in memory: shared by limiters of one process (tests and benchmarks without SQLite). */
export class MemoryRateState implements RateStateStore {
  readonly #rows = new Map<string, RateStateRow>();

  /** A copy of the rows. */
  load(): RateStateRow[] {
    return [...this.#rows.values()].map((r) => ({ ...r }));
  }

  /** Replaces the rows `next` returns (by name). */
  update(next: (current: RateStateRow[]) => RateStateRow[]): void {
    for (const row of next(this.load())) this.#rows.set(row.name, { ...row });
  }
}
