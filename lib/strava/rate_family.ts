/** One limit family's counters inside the rate limiter, and how stored figures merge into them. */
import type { RateReservation, RateStateRow } from "../store/rate_state.ts";
import { dayStart, DEFAULT_LIMITS, type FamilyName, windowStart } from "./rate_window.ts";

/** A request counted without server figures: kept so a later, older-than-it header cannot erase it. */
export interface LocalCount {
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

/**
 * Takes in a stored row: usage of the same window (day) by the larger figure, limits when newer.
 * A row equal to `written` (what this limiter itself stored last) is skipped: its own later
 * server figures may rightly be lower. Without `written` (the shared store) every row counts.
 */
export function mergeRow(f: FamilyState, row: RateStateRow, written: RateStateRow | undefined, now: number): void {
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
    limit_15min: f.limit15,
    limit_daily: f.limitDay,
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
