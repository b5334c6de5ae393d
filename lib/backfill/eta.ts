/**
 * When will N more requests be done at the current limits? Spends what is left of the
 * current window and day, then full windows, never more than the day allows.
 */
import type { BudgetStatus } from "../strava/rate_limit.ts";

const WINDOW_MS = 15 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The time (ms) by which `requests` more reads can have been sent, given `status` at `now`. */
export function estimateFinish(requests: number, status: BudgetStatus, now: number): number {
  const read = status.read, all = status.overall;
  const per15 = Math.min(read.allowed15, all.allowed15);
  const perDay = Math.min(read.allowedDay, all.allowedDay);
  if (requests <= 0) return now;
  if (per15 <= 0 || perDay <= 0) return Infinity;
  let left = requests;
  let t = Math.max(now, status.blockedUntil ?? now);
  let window = t > now ? per15 : Math.min(read.remaining15, all.remaining15);
  let day = t >= status.dayResetsAt ? perDay : Math.min(read.remainingDay, all.remainingDay);
  let windowEnds = Math.floor(t / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
  let dayEnds = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
  for (;;) {
    const take = Math.min(left, window, day);
    left -= take;
    day -= take;
    if (left === 0) return t;
    // Whole days at a time once in the steady state keeps this cheap for years of work.
    if (day <= 0) {
      t = dayEnds;
      const fullDays = Math.floor((left - 1) / perDay);
      t += fullDays * DAY_MS;
      left -= fullDays * perDay;
      dayEnds = t + DAY_MS;
      windowEnds = t + WINDOW_MS;
      window = per15;
      day = perDay;
      continue;
    }
    t = windowEnds;
    windowEnds += WINDOW_MS;
    window = per15;
    if (t >= dayEnds) {
      dayEnds += DAY_MS;
      day = perDay;
    }
  }
}
