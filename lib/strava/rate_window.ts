/**
 * Strava's rate windows and headers: the 15-minute window and the UTC day, the two limit
 * families and how their figures are read from a response. Pure functions, no state.
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["strava-backfill", "rate_limit"]);

/** A clock: milliseconds since the epoch. */
export type Clock = () => number;

/** Length of Strava's short window. */
export const WINDOW_MS = 15 * 60 * 1000;
/** Length of a UTC day. */
export const DAY_MS = 24 * 60 * 60 * 1000;
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
export const SERVER_CLOCK_TOLERANCE_MS = 5 * 60 * 1000;

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
