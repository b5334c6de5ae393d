/**
 * Strava's rate windows, headers and clock, and one limit family's counters: the 15-minute window
 * and the UTC day, the two limit families and how their figures are read from a response, the
 * offset of Strava's clock, and how stored figures merge into a family. The decisions that use
 * them are lib/strava/rate_limit.ts.
 */
import { getLogger } from "@logtape/logtape";
import type { RateReservation, RateStateRow } from "../store/rate_state.ts";

const log = getLogger(["strava-backfill", "rate_limit"]);

/** A clock: milliseconds since the epoch. */
export type Clock = () => number;

/** Length of Strava's short window. */
export const WINDOW_MS = 15 * 60 * 1000;
/** Length of a UTC day. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** Strava's documented default limits, used until the server says otherwise. */
const DEFAULT_LIMITS: Readonly<Record<FamilyName, { limit15: number; limitDay: number }>> = {
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
/** Both families, in a fixed order. */
export const FAMILIES: readonly FamilyName[] = ["read", "overall"];
/** Header names of each family. */
export const HEADERS: Readonly<Record<FamilyName, { limit: string; usage: string }>> = {
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

/** Parses a "15min,daily" header value; null when absent or not two whole numbers. */
export function parsePair(value: string | null, name: string): [number, number] | null {
  if (value === null) return null;
  const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(value);
  if (!match) {
    log.warn("Ignoring unreadable rate-limit header {name}: {value}", { name, value });
    return null;
  }
  return [Number(match[1]), Number(match[2])];
}

/** The server's time from its Date header, when present and plausible. */
export function serverTime(headers: Headers, now: number): number | null {
  const value = headers.get("date");
  if (value === null) return null;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || Math.abs(ms - now) > SERVER_CLOCK_TOLERANCE_MS) return null;
  return ms;
}

// One family's counters inside the rate limiter, and how stored figures merge into them.

/** A request counted without server figures: kept so a later, older-than-it header cannot erase it. */
interface LocalCount {
  seq: number;
  window: number | null;
  day: number | null;
}

/** One family's counters in a limiter. */
export interface FamilyState {
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

/** A family with Strava's default limits and nothing counted. */
export function freshFamily(name: FamilyName): FamilyState {
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

/** The families a request of `kind` counts against. */
export function familiesOf(kind: "read" | "write"): FamilyName[] {
  // A read counts against both families; any other request only against "all requests".
  return kind === "read" ? ["read", "overall"] : ["overall"];
}

/** Takes in a stored row: usage of the same window (day) by the larger figure, limits when newer. */
export function mergeRow(f: FamilyState, row: RateStateRow, now: number): void {
  if (row.observed_at === null) return;
  if (windowStart(row.observed_at) === windowStart(now)) f.usage15 = Math.max(f.usage15, row.usage_15min ?? 0);
  if (dayStart(row.observed_at) === dayStart(now)) f.usageDay = Math.max(f.usageDay, row.usage_daily ?? 0);
  if (row.limit_15min !== null && row.limit_daily !== null && row.observed_at > (f.limitsAt ?? -Infinity)) {
    [f.limit15, f.limitDay, f.limitsAt] = [row.limit_15min, row.limit_daily, row.observed_at];
  }
}

/**
 * Counts a reservation whose holder never reported (killed mid-request) as spent in its window
 * and day, if they are the current ones: Strava may have counted the request.
 */
export function countExpired(f: FamilyState, r: RateReservation, now: number): void {
  if (r.window === windowStart(now)) f.usage15++;
  if (r.day === dayStart(now)) f.usageDay++;
}

/** The row to store for a family. */
export function familyRow(
  name: FamilyName,
  f: FamilyState,
  blockedUntil: number | null,
  now: number,
  clockOffset: number,
): RateStateRow {
  return {
    name,
    // Defaults are no evidence: stored as unknown, so they never outrank limits Strava sent (whose
    // instant can be earlier than this row's once a Date header moves Strava's clock back).
    limit_15min: f.limitsAt === null ? null : f.limit15,
    limit_daily: f.limitsAt === null ? null : f.limitDay,
    usage_15min: f.usage15,
    usage_daily: f.usageDay,
    observed_at: f.observedAt ?? now,
    blocked_until: blockedUntil,
    clock_offset: clockOffset,
  };
}

/** A family's counters for one period: the 15-minute window's or the day's. */
const PERIOD = {
  window: { sync: "sync15", usage: "usage15", key: "window" },
  day: { sync: "syncDay", usage: "usageDay", key: "day" },
} as const;

/**
 * Applies a server usage figure for the current window or day (`at`), from the answer to request
 * `seq`. Server figures are the truth, except that a response to a request sent before the one
 * whose figures we already applied may be older: then it can only raise the count.
 */
export function syncUsage(f: FamilyState, period: keyof typeof PERIOD, value: number, seq: number, at: number): void {
  const { sync, usage, key } = PERIOD[period];
  if (seq > f[sync]) {
    f[sync] = seq;
    f[usage] = value + f.local.filter((c) => c.seq > seq && c[key] === at).length;
  } else {
    f[usage] = Math.max(f[usage], value);
  }
}

/** Below this (ms), a Date header behind our clock is explained by its truncation to the second. */
const BEHIND_MS = 1000;

/**
 * Strava's clock as its responses show it. Strava counts a request in the window and day of its
 * own clock, so when the machine's clock is far off (hours, after a bad NTP sync or none), the
 * daily reset is Strava's midnight, not the machine's. The offset is learnt from each response's
 * Date header and kept in the shared state so the next process starts with it.
 *
 * The machine's clock plus Strava's offset from it.
 */
export class StravaClock {
  readonly #local: Clock;
  /**
   * Strava's clock minus ours (ms) when they differ by more than SERVER_CLOCK_TOLERANCE_MS,
   * else 0: small differences are handled per response (lib/strava/rate_limit.ts).
   */
  offset = 0;
  /** Whether a response taught the offset (else one another process saved is taken). */
  #learnt = false;

  /** Strava's clock over the machine's `local` clock. */
  constructor(local: Clock) {
    this.#local = local;
  }

  /** Now on Strava's clock, as far as its headers told. */
  now(): number {
    return this.#local() + this.offset;
  }

  /**
   * Learns the offset from a response's Date header. `server - local` is a lower bound of the
   * true offset (the header is truncated to the second and stamped before the answer travelled),
   * and a low estimate is the safe one: Strava's new window is never assumed before it began.
   * - More than the tolerance apart (a machine clock hours off): that estimate.
   * - Strava clearly behind (more than the second the truncation can hide): that estimate too,
   *   or the first request after our window turns would still count in Strava's full old one.
   * - Otherwise 0; the small differences are handled per response (lib/strava/rate_limit.ts).
   * Returns how far the offset moved (ms): instants kept on the old estimate move by as much.
   */
  learn(headers: Headers): number {
    const local = this.#local();
    const value = headers.get("date");
    const server = value === null ? NaN : Date.parse(value);
    const before = this.offset;
    if (!Number.isFinite(server)) return 0;
    const skew = server - local;
    const far = Math.abs(skew) > SERVER_CLOCK_TOLERANCE_MS;
    if (far && Math.abs(server - (local + this.offset)) > SERVER_CLOCK_TOLERANCE_MS) {
      log.warn("Strava's clock is {skew} s from this machine's; rate windows and days follow Strava's clock", {
        skew: Math.round(skew / 1000),
      });
    }
    if (far) {
      // Keep the estimate unless it moved by more than the tolerance: a steady offset, not jitter.
      if (Math.abs(server - (local + this.offset)) > SERVER_CLOCK_TOLERANCE_MS) this.offset = skew;
    } else {
      this.offset = skew < -BEHIND_MS ? skew : 0;
    }
    this.#learnt = true;
    return this.offset - before;
  }

  /**
   * Takes the offset another process saved with its figures, until a response teaches one.
   * Returns how far the offset moved (ms).
   */
  adopt(rows: RateStateRow[]): number {
    if (this.#learnt) return 0;
    const saved = rows.find((r) => r.clock_offset !== undefined && r.clock_offset !== null)?.clock_offset;
    if (saved === undefined || saved === null) return 0;
    const moved = saved - this.offset;
    this.offset = saved;
    return moved;
  }
}
