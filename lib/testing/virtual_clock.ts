/**
 * A virtual clock for tests and benchmarks: rate-limit windows, token expiry and backoff
 * sleeps can be exercised in milliseconds of real time instead of hours.
 */

/** Default start: a fixed instant inside a 15-minute window (2026-05-01 12:05:00 UTC). */
export const VIRTUAL_CLOCK_START = Date.UTC(2026, 4, 1, 12, 5, 0);

/**
 * Virtual time in ms since the epoch. `now`, `sleep` and `advance` are bound arrow
 * properties so they can be passed as `now: clock.now, sleep: clock.sleep`.
 */
export class VirtualClock {
  #ms: number;
  /** Every duration passed to `sleep`, in call order (for assertions on backoff and waits). */
  readonly sleeps: number[] = [];

  /** Starts at `startMs` (default VIRTUAL_CLOCK_START). */
  constructor(startMs: number = VIRTUAL_CLOCK_START) {
    if (!Number.isFinite(startMs)) throw new RangeError("VirtualClock start must be a finite number of ms");
    this.#ms = startMs;
  }

  /** Current virtual time (ms since epoch). */
  now = (): number => this.#ms;

  /** Moves virtual time forward by `ms` (negative values are refused: time never runs back). */
  advance = (ms: number): void => {
    if (!(ms >= 0)) throw new RangeError(`VirtualClock.advance needs a non-negative duration, got ${ms}`);
    this.#ms += ms;
  };

  /** Sets virtual time to `ms` if it is later than now (a wait "until" an instant). */
  advanceTo = (ms: number): void => {
    if (ms > this.#ms) this.#ms = ms;
  };

  /**
   * Resolves after advancing virtual time by `ms`, without waiting in real time.
   * Yields to the event loop once so concurrent tasks interleave as with a real sleep.
   * Rejects with the signal's reason if `signal` is already aborted.
   */
  sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.advance(Math.max(0, ms));
    await Promise.resolve();
  };
}
