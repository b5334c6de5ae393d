/**
 * Strava's rate budget, kept right by construction.
 *
 * Strava counts per application, in two families — reads, and all requests — each with a
 * 15-minute window (resetting at :00/:15/:30/:45 UTC) and a UTC day. This limiter:
 * - takes the server's X-ReadRateLimit-* / X-RateLimit-* headers as the truth (limits and usage),
 *   after every response, including errors and 429s;
 * - never lets usage plus requests in flight pass floor(limit × buffer) of any window;
 * - treats a 429 as "this window (or day) is spent" and refuses until it reopens;
 * - persists what it knows after every response (lib/store/rate_state.ts, table
 *   `rate_limit_state`), so the next process (or one running beside it) starts from the same budget.
 *
 * Usage figures belong to the window they were observed in; when the window or day rolls over
 * they count as 0. Windows are UTC, aligned to the epoch (which is itself aligned to :00 UTC).
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../store/db.ts";
import { type RateStateRow, type RateStateStore, SqliteRateState } from "../store/rate_state.ts";

const log = getLogger(["strava-backfill", "rate_limit"]);

/** A clock: milliseconds since the epoch. */
export type Clock = () => number;

/** Length of Strava's short window. */
export const WINDOW_MS = 15 * 60 * 1000;
/** Length of a UTC day. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** Share of each limit the tool spends by default (`--rate-buffer`). */
export const DEFAULT_BUFFER = 0.9;
/** Strava's documented default limits, used until the server says otherwise. */
export const DEFAULT_LIMITS: Readonly<Record<FamilyName, { limit15: number; limitDay: number }>> = {
  read: { limit15: 100, limitDay: 1000 },
  overall: { limit15: 200, limitDay: 2000 },
};

/**
 * A response's Date header is trusted to place its usage figures in Strava's window only when
 * it is this close to our clock; further off means a test double or a broken clock, and then
 * our own clock decides.
 */
const SERVER_CLOCK_TOLERANCE_MS = 5 * 60 * 1000;

/** Start of the 15-min UTC window containing `ms` (:00/:15/:30/:45). */
export function windowStart(ms: number): number {
  return Math.floor(ms / WINDOW_MS) * WINDOW_MS;
}

/** 00:00 UTC of the day containing `ms`. */
export function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** One limit family. */
export type FamilyName = "read" | "overall";
const FAMILIES: readonly FamilyName[] = ["read", "overall"];
const HEADERS: Readonly<Record<FamilyName, { limit: string; usage: string }>> = {
  // Headers.get matches names case-insensitively (Strava sends "X-Readratelimit-Limit").
  read: { limit: "x-readratelimit-limit", usage: "x-readratelimit-usage" },
  overall: { limit: "x-ratelimit-limit", usage: "x-ratelimit-usage" },
};

/** One limit family's budget: "read" or "overall". */
export interface FamilyBudget {
  /** Limits as last known. */
  limit15: number;
  limitDay: number;
  /** Usage counted in the current window / UTC day. */
  usage15: number;
  usageDay: number;
  /** Sent, not yet answered. */
  inFlight: number;
  /** floor(limit × buffer). */
  allowed15: number;
  allowedDay: number;
  /** max(0, allowed − usage − inFlight). */
  remaining15: number;
  remainingDay: number;
}

/** The whole budget at one instant. */
export interface BudgetStatus {
  read: FamilyBudget;
  overall: FamilyBudget;
  /** Set by a 429 (ms); null when not blocked. */
  blockedUntil: number | null;
  /** Start of the next 15-min window (ms). */
  windowResetsAt: number;
  /** Next 00:00 UTC (ms). */
  dayResetsAt: number;
}

/** Why the budget is closed. */
export type RefusalReason = "window" | "daily" | "rate_limited";

/** The answer to "may I send now?". */
export type Acquire =
  | { ok: true; permit: Permit }
  | { ok: false; until: number; reason: RefusalReason };

/** A reserved slot for one request; report how it ended exactly once. */
export interface Permit {
  /** Report the response (any status incl. 429/5xx): syncs limits+usage from headers, persists state. */
  complete(response: { status: number; headers: Headers }): void;
  /** Request failed without a response (network error/timeout): counts as sent, no header info. */
  fail(): void;
}

/** Options of `RateLimiter`. */
export interface RateLimiterOptions {
  /** Clock (default Date.now). */
  now?: Clock;
  /** Share of each limit to spend, in (0, 1] (default 0.9, `--rate-buffer`). */
  buffer?: number;
  /** Persist to / load from table rate_limit_state of this database (lib/store/schema.ts). */
  db?: Database;
  /** Persist to / load from this store instead (wins over `db`); e.g. `MemoryRateState` in tests. */
  state?: RateStateStore;
}

/** A request counted without server figures: kept so a later, older-than-it header cannot erase it. */
interface LocalCount {
  seq: number;
  window: number | null;
  day: number | null;
}

interface FamilyState {
  limit15: number;
  limitDay: number;
  /** When the limits were learned (null: defaults). */
  limitsAt: number | null;
  usage15: number;
  usageDay: number;
  /** The usage figures belong to the window and day containing this instant. */
  observedAt: number | null;
  inFlight: number;
  /** Sequence number of the request whose headers last set usage15 / usageDay. */
  sync15: number;
  syncDay: number;
  local: LocalCount[];
}

function freshFamily(name: FamilyName): FamilyState {
  return {
    ...DEFAULT_LIMITS[name],
    limitsAt: null,
    usage15: 0,
    usageDay: 0,
    observedAt: null,
    inFlight: 0,
    sync15: 0,
    syncDay: 0,
    local: [],
  };
}

function familiesOf(kind: "read" | "write"): FamilyName[] {
  // A read counts against both families; any other request only against "all requests".
  return kind === "read" ? ["read", "overall"] : ["overall"];
}

/** Parses a "15min,daily" header value; null when absent or not two whole numbers. */
function parsePair(value: string | null, name: string): [number, number] | null {
  if (value === null) return null;
  const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(value);
  if (!match) {
    log.warn("Ignoring unreadable rate-limit header {name}: {value}", { name, value });
    return null;
  }
  return [Number(match[1]), Number(match[2])];
}

/** The server's time from its Date header, when present and plausible. */
function serverTime(headers: Headers, now: number): number | null {
  const value = headers.get("date");
  if (value === null) return null;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || Math.abs(ms - now) > SERVER_CLOCK_TOLERANCE_MS) return null;
  return ms;
}

/**
 * The rate limiter. One instance per process; all requests to the API go through it.
 * Not safe to share across processes except through its state store, which it does itself.
 */
export class RateLimiter {
  readonly #now: Clock;
  readonly #buffer: number;
  readonly #state: RateStateStore | undefined;
  readonly #families: Record<FamilyName, FamilyState> = { read: freshFamily("read"), overall: freshFamily("overall") };
  #blockedUntil: number | null = null;
  /** Strava's clock is behind ours and its (earlier) window or day is spent: wait for its rollover. */
  #held: { until: number; reason: "window" | "daily" } | null = null;
  #seq = 0;
  /** What this instance last wrote, to tell its own rows from another process's. */
  readonly #written: Partial<Record<FamilyName, RateStateRow>> = {};

  /** Loads persisted state from `state` (or `db`) if given. */
  constructor(options: RateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
    const buffer = options.buffer ?? DEFAULT_BUFFER;
    if (!(buffer > 0 && buffer <= 1)) throw new RangeError(`rate buffer must be in (0, 1], got ${buffer}`);
    this.#buffer = buffer;
    this.#state = options.state ?? (options.db ? new SqliteRateState(options.db) : undefined);
    if (this.#state) this.#load(this.#state.load(), this.#now());
  }

  /** Reserve one slot for a request — reads count against both "read" and "overall". */
  tryAcquire(kind: "read" | "write" = "read"): Acquire {
    const now = this.#now();
    this.#roll(now);
    const refusal = this.#refusal(kind, now);
    if (refusal) return { ok: false, ...refusal };
    const families = familiesOf(kind);
    for (const name of families) this.#families[name].inFlight++;
    return { ok: true, permit: this.#permit(families, ++this.#seq) };
  }

  /** ms when a request could next be sent (now if possible). */
  reopensAt(kind: "read" | "write" = "read"): number {
    const now = this.#now();
    this.#roll(now);
    return this.#refusal(kind, now)?.until ?? now;
  }

  /** The numbers for progress lines and stats. */
  status(): BudgetStatus {
    const now = this.#now();
    this.#roll(now);
    return {
      read: this.#budget("read"),
      overall: this.#budget("overall"),
      blockedUntil: this.#blockedUntil !== null && this.#blockedUntil > now ? this.#blockedUntil : null,
      windowResetsAt: windowStart(now) + WINDOW_MS,
      dayResetsAt: dayStart(now) + DAY_MS,
    };
  }

  #budget(name: FamilyName): FamilyBudget {
    const f = this.#families[name];
    const allowed15 = Math.floor(f.limit15 * this.#buffer);
    const allowedDay = Math.floor(f.limitDay * this.#buffer);
    return {
      limit15: f.limit15,
      limitDay: f.limitDay,
      usage15: f.usage15,
      usageDay: f.usageDay,
      inFlight: f.inFlight,
      allowed15,
      allowedDay,
      remaining15: Math.max(0, allowed15 - f.usage15 - f.inFlight),
      remainingDay: Math.max(0, allowedDay - f.usageDay - f.inFlight),
    };
  }

  #refusal(kind: "read" | "write", now: number): { until: number; reason: RefusalReason } | null {
    if (this.#blockedUntil !== null && this.#blockedUntil > now) {
      return { until: this.#blockedUntil, reason: "rate_limited" };
    }
    if (this.#held !== null && this.#held.until > now) return { ...this.#held };
    const budgets = familiesOf(kind).map((name) => this.#budget(name));
    if (budgets.some((b) => b.remainingDay <= 0)) return { until: dayStart(now) + DAY_MS, reason: "daily" };
    if (budgets.some((b) => b.remaining15 <= 0)) return { until: windowStart(now) + WINDOW_MS, reason: "window" };
    return null;
  }

  /** Figures observed in an earlier window/day count as 0 for the current one. */
  #roll(now: number): void {
    const w = windowStart(now);
    const d = dayStart(now);
    for (const f of Object.values(this.#families)) {
      if (f.observedAt === null || f.observedAt < now) {
        // A clock that went backwards keeps the figures: counting too much is the safe side.
        if (f.observedAt !== null && windowStart(f.observedAt) < w) f.usage15 = 0;
        if (f.observedAt !== null && dayStart(f.observedAt) < d) f.usageDay = 0;
        f.observedAt = now;
      }
      f.local = f.local.filter((c) => (c.window === w && c.seq > f.sync15) || (c.day === d && c.seq > f.syncDay));
    }
  }

  #permit(families: FamilyName[], seq: number): Permit {
    let done = false;
    const settle = () => {
      if (done) throw new Error("rate-limit permit reported twice");
      done = true;
      for (const name of families) this.#families[name].inFlight--;
    };
    return {
      complete: (response) => {
        settle();
        this.#complete(families, seq, response);
      },
      fail: () => {
        settle();
        const now = this.#now();
        this.#roll(now);
        for (const name of families) this.#countLocally(this.#families[name], seq, windowStart(now), dayStart(now));
        this.#persist(now);
      },
    };
  }

  #countLocally(f: FamilyState, seq: number, window: number | null, day: number | null): void {
    if (window !== null) f.usage15++;
    if (day !== null) f.usageDay++;
    f.local.push({ seq, window, day });
  }

  #complete(counted: FamilyName[], seq: number, response: { status: number; headers: Headers }): void {
    const now = this.#now();
    this.#roll(now);
    const w = windowStart(now);
    const d = dayStart(now);
    // Strava counts a request in the window of its own clock; its Date header says which
    // window that was. Without this, a request sent just after our window opened but counted
    // by Strava just before its own would make our new window look as full as the old one.
    const t = serverTime(response.headers, now) ?? now;
    const sameWindow = windowStart(t) === w;
    const sameDay = dayStart(t) === d;
    // An instant on Strava's clock, on ours. The Date header is truncated to the second and
    // stamped before the answer travelled, so `now - t` is the latest the offset can be.
    const local = (serverInstant: number) => serverInstant + (now - t);
    let dailySpent = false;
    for (const name of FAMILIES) {
      const f = this.#families[name];
      const isCounted = counted.includes(name);
      const limits = parsePair(response.headers.get(HEADERS[name].limit), HEADERS[name].limit);
      if (limits) [f.limit15, f.limitDay, f.limitsAt] = [limits[0], limits[1], now];
      const usage = parsePair(response.headers.get(HEADERS[name].usage), HEADERS[name].usage);
      if (usage && sameWindow) this.#sync15(f, usage[0], seq, w);
      if (usage && sameDay) this.#syncDay(f, usage[1], seq, d);
      if (usage && windowStart(t) < w && usage[0] >= Math.floor(f.limit15 * this.#buffer)) {
        this.#hold(local(windowStart(t) + WINDOW_MS), "window");
      }
      if (usage && dayStart(t) < d && usage[1] >= Math.floor(f.limitDay * this.#buffer)) {
        this.#hold(local(dayStart(t) + DAY_MS), "daily");
      }
      if (isCounted) {
        const window = usage && sameWindow ? null : w;
        const day = usage && sameDay ? null : d;
        if (window !== null || day !== null) this.#countLocally(f, seq, window, day);
      }
      if (isCounted && (usage ? usage[1] >= f.limitDay : f.usageDay >= f.limitDay)) dailySpent = true;
    }
    if (response.status === 429) {
      const until = local(dailySpent ? dayStart(t) + DAY_MS : windowStart(t) + WINDOW_MS);
      this.#blockedUntil = Math.max(this.#blockedUntil ?? 0, until);
      log.warn("Strava answered 429 (rate limit exceeded); no request until {until}", {
        until: new Date(until).toISOString(),
      });
    }
    this.#persist(now);
  }

  #hold(until: number, reason: "window" | "daily"): void {
    if (this.#held === null || this.#held.until < until) this.#held = { until, reason };
  }

  /**
   * Server figures are the truth, except that a response to a request sent before the one
   * whose figures we already applied may be older: then it can only raise the count.
   */
  #sync15(f: FamilyState, value: number, seq: number, window: number): void {
    if (seq > f.sync15) {
      f.sync15 = seq;
      f.usage15 = value + f.local.filter((c) => c.seq > seq && c.window === window).length;
    } else {
      f.usage15 = Math.max(f.usage15, value);
    }
  }

  #syncDay(f: FamilyState, value: number, seq: number, day: number): void {
    if (seq > f.syncDay) {
      f.syncDay = seq;
      f.usageDay = value + f.local.filter((c) => c.seq > seq && c.day === day).length;
    } else {
      f.usageDay = Math.max(f.usageDay, value);
    }
  }

  #load(rows: RateStateRow[], now: number): void {
    for (const row of rows) {
      const name = row.name as FamilyName;
      if (!FAMILIES.includes(name)) continue;
      const f = this.#families[name];
      if (row.limit_15min !== null && row.limit_daily !== null) {
        [f.limit15, f.limitDay, f.limitsAt] = [row.limit_15min, row.limit_daily, row.observed_at];
      }
      if (row.observed_at !== null) {
        f.usage15 = row.usage_15min ?? 0;
        f.usageDay = row.usage_daily ?? 0;
        f.observedAt = row.observed_at;
      }
      if (row.blocked_until !== null) this.#blockedUntil = Math.max(this.#blockedUntil ?? 0, row.blocked_until);
      this.#written[name] = row;
    }
    this.#roll(now);
  }

  /**
   * Writes the state. Another process may have written newer figures since this one last
   * did: for the same window (day) the larger usage wins, which is simple and never too low.
   */
  #persist(now: number): void {
    this.#state?.update((current) => {
      for (const row of current) {
        const name = row.name as FamilyName;
        if (FAMILIES.includes(name)) this.#merge(this.#families[name], row, this.#written[name], now);
        if (row.blocked_until !== null && row.blocked_until > now) {
          this.#blockedUntil = Math.max(this.#blockedUntil ?? 0, row.blocked_until);
        }
      }
      const blocked = this.#blockedUntil !== null && this.#blockedUntil > now ? this.#blockedUntil : null;
      return FAMILIES.map((name) => {
        const f = this.#families[name];
        const row: RateStateRow = {
          name,
          limit_15min: f.limit15,
          limit_daily: f.limitDay,
          usage_15min: f.usage15,
          usage_daily: f.usageDay,
          observed_at: f.observedAt ?? now,
          blocked_until: blocked,
        };
        this.#written[name] = row;
        return row;
      });
    });
  }

  #merge(f: FamilyState, row: RateStateRow, written: RateStateRow | undefined, now: number): void {
    const ours = written !== undefined && row.observed_at === written.observed_at &&
      row.usage_15min === written.usage_15min && row.usage_daily === written.usage_daily &&
      row.limit_15min === written.limit_15min && row.limit_daily === written.limit_daily;
    if (ours || row.observed_at === null) return;
    if (windowStart(row.observed_at) === windowStart(now)) f.usage15 = Math.max(f.usage15, row.usage_15min ?? 0);
    if (dayStart(row.observed_at) === dayStart(now)) f.usageDay = Math.max(f.usageDay, row.usage_daily ?? 0);
    if (row.limit_15min !== null && row.limit_daily !== null && row.observed_at > (f.limitsAt ?? -Infinity)) {
      [f.limit15, f.limitDay, f.limitsAt] = [row.limit_15min, row.limit_daily, row.observed_at];
    }
  }
}

/** Budget from the persisted state without a limiter instance (for stats). Only reads the database. */
export function loadBudgetStatus(db: Database, now: number, buffer: number = DEFAULT_BUFFER): BudgetStatus {
  return new RateLimiter({ db, now: () => now, buffer }).status();
}
