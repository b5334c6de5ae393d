/**
 * Strava's per-application rate limits, as the simulator enforces them: a 15-minute window
 * that resets at :00/:15/:30/:45 UTC and a daily one that resets at 00:00 UTC, each for reads
 * (GET) and for all requests, all driven by an injected clock.
 */

const WINDOW_MS = 15 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Limits (requests per window/day). */
export interface SimLimits {
  read15: number;
  readDay: number;
  all15: number;
  allDay: number;
}

/** Usage counted in the current window/day. */
export type SimUsage = SimLimits;

/** Strava's default limits for a new application. */
export const DEFAULT_LIMITS: Readonly<SimLimits> = { read15: 100, readDay: 1000, all15: 200, allDay: 2000 };

/** Usage and limits per application, with window roll-over by the clock. */
export class SimRateLimits {
  readonly limits: SimLimits;
  #usage: SimUsage;
  #window: number;
  #day: number;
  readonly #now: () => number;

  /** Limits default to Strava's; starting usage (default 0) applies to the window/day containing now(). */
  constructor(now: () => number, limits: Partial<SimLimits> = {}, usage: Partial<SimUsage> = {}) {
    this.#now = now;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`limit ${k} must be a non-negative integer`);
    }
    this.#usage = { read15: 0, readDay: 0, all15: 0, allDay: 0, ...usage };
    const t = now();
    this.#window = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    this.#day = Math.floor(t / DAY_MS) * DAY_MS;
  }

  /** Strava changes the limits in force (e.g. raises them, or answers a glitched header for a while). */
  setLimits(limits: Partial<SimLimits>): void {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v! < 0) throw new RangeError(`limit ${k} must be a non-negative integer`);
    }
    Object.assign(this.limits, limits);
  }

  #roll(): void {
    const t = this.#now();
    const window = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    const day = Math.floor(t / DAY_MS) * DAY_MS;
    if (day !== this.#day) {
      this.#day = day;
      this.#usage.readDay = 0;
      this.#usage.allDay = 0;
    }
    if (window !== this.#window) {
      this.#window = window;
      this.#usage.read15 = 0;
      this.#usage.all15 = 0;
    }
  }

  /**
   * Counts one request and tells whether it is over a limit (answer 429). Like Strava, a
   * request refused with 429 still counts: usage can exceed the limit, and a client that
   * keeps retrying inside the window only digs deeper.
   */
  count(read: boolean): boolean {
    this.#roll();
    const u = this.#usage;
    u.all15++;
    u.allDay++;
    if (read) {
      u.read15++;
      u.readDay++;
    }
    return this.#over(read);
  }

  #over(read: boolean): boolean {
    const u = this.#usage;
    const l = this.limits;
    if (u.all15 > l.all15 || u.allDay > l.allDay) return true;
    return read && (u.read15 > l.read15 || u.readDay > l.readDay);
  }

  /** Spends the rest of the current 15-minute window (as if another process of the app had used it). */
  exhaustWindow(read: boolean): void {
    this.#roll();
    const u = this.#usage;
    if (read) u.read15 = Math.max(u.read15, this.limits.read15 + 1);
    else u.all15 = Math.max(u.all15, this.limits.all15 + 1);
  }

  /** Usage in the current window/day (after roll-over by the clock). */
  usage(): SimUsage {
    this.#roll();
    return { ...this.#usage };
  }

  /** Replaces some usage figures for the current window/day. */
  setUsage(usage: Partial<SimUsage>): void {
    this.#roll();
    Object.assign(this.#usage, usage);
  }

  /** The four headers every Strava response carries ("15min,daily"), casing as recorded in 2025. */
  headers(): Record<string, string> {
    this.#roll();
    const u = this.#usage;
    const l = this.limits;
    return {
      "X-Ratelimit-Limit": `${l.all15},${l.allDay}`,
      "X-Ratelimit-Usage": `${u.all15},${u.allDay}`,
      "X-Readratelimit-Limit": `${l.read15},${l.readDay}`,
      "X-Readratelimit-Usage": `${u.read15},${u.readDay}`,
    };
  }
}
