/**
 * Strava's clock as its responses show it. Strava counts a request in the window and day of its
 * own clock, so when the machine's clock is far off (hours, after a bad NTP sync or none), the
 * daily reset is Strava's midnight, not the machine's. The offset is learnt from each response's
 * Date header and kept in the shared state so the next process starts with it.
 */
import { getLogger } from "@logtape/logtape";
import type { RateStateRow } from "../store/rate_state.ts";
import { type Clock, SERVER_CLOCK_TOLERANCE_MS } from "./rate_window.ts";

const log = getLogger(["strava-backfill", "rate_limit"]);

/** Below this (ms), a Date header behind our clock is explained by its truncation to the second. */
const BEHIND_MS = 1000;

/** The machine's clock plus Strava's offset from it. */
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
