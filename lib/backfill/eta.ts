/**
 * When will N more requests be done? Two things bound it: the rate budget (what is left of the
 * current window and day, then full windows, never more than the day allows) and the time each
 * request takes (`msPerRequest`, measured). A run of 60 requests with budget to spare still takes
 * 60 x the latency; a backfill of thousands is bound by the windows and days.
 */
import type { BudgetStatus } from "../strava/rate_window.ts";

const WINDOW_MS = 15 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The time (ms) by which `requests` more reads can have been sent, given `status` at `now` and
 * `msPerRequest` per request (0: latency ignored). The loop walks one rate window at a time
 * (whole days at once in the budget-bound steady state), so years of work stay cheap to estimate.
 */
export function estimateFinish(requests: number, status: BudgetStatus, now: number, msPerRequest = 0): number {
  const read = status.read, all = status.overall;
  const per15 = Math.min(read.allowed15, all.allowed15);
  const perDay = Math.min(read.allowedDay, all.allowedDay);
  const ms = Number.isFinite(msPerRequest) && msPerRequest > 0 ? msPerRequest : 0;
  if (requests <= 0) return now;
  if (per15 <= 0 || perDay <= 0) return Infinity;
  let left = requests;
  let t = Math.max(now, status.blockedUntil ?? now);
  let window = t > now ? per15 : Math.min(read.remaining15, all.remaining15);
  let day = t >= status.dayResetsAt ? perDay : Math.min(read.remainingDay, all.remainingDay);
  let windowEnds = Math.floor(t / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
  let dayEnds = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
  for (;;) {
    // Requests that can start before this window ends, at the measured pace.
    const inTime = ms > 0 ? Math.max(1, Math.ceil((windowEnds - t) / ms)) : Infinity;
    const take = Math.min(left, window, day, inTime);
    left -= take;
    window -= take;
    day -= take;
    t += take * ms;
    if (left === 0) return t;
    if (day <= 0) {
      // Whole days at a time once in the steady state keeps this cheap for years of work.
      t = Math.max(t, dayEnds);
      const fullDays = Math.floor((left - 1) / perDay);
      t += fullDays * DAY_MS;
      left -= fullDays * perDay;
      dayEnds = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
      windowEnds = Math.floor(t / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
      window = per15;
      day = perDay;
      continue;
    }
    // The next window: at its start when the budget ran out first, else where the requests got to.
    t = Math.max(t, windowEnds);
    windowEnds = Math.floor(t / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
    window = per15;
    if (t >= dayEnds) {
      dayEnds = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
      day = perDay;
    }
  }
}
