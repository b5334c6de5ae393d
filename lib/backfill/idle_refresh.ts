/**
 * Continuous mode's refresh: a refresh pass (lib/backfill/refresh.ts) run only with budget the
 * backfill leaves idle. A cycle may refresh when nothing is pending, at most once per
 * `--refresh-every` hours, and only while the day's reads left exceed a reserve (by default
 * 20% of the daily allowance); the pass itself stops at that reserve. So new uploads are
 * always served first and a refresh never delays the backfill.
 */
import { logger } from "../log.ts";
import { type RefreshSummary, runRefresh } from "./refresh.ts";
import { readsLeftToday } from "./run_scope.ts";
import type { EngineContext, RunSummary } from "./run_types.ts";

const log = logger("manage");

/** Default of `--refresh-every`. */
export const DEFAULT_REFRESH_EVERY_HOURS = 24;

/** Default of `--refresh-reserve`: the fraction of the daily allowance a refresh leaves unspent. */
export const DEFAULT_REFRESH_RESERVE = 0.2;

/** How continuous mode refreshes. */
export interface IdleRefreshOptions {
  /** Hours between refresh passes; 0 turns refreshing off. */
  everyHours: number;
  /** Fraction of the daily allowance (reads) to leave unspent. */
  reserveFraction: number;
  /** `--refresh-after` (days). */
  refreshAfterDays: number;
  activities: number;
  segments: number;
}

/** Decides when continuous mode refreshes, and runs the pass. */
export class IdleRefresh {
  #lastStart = -Infinity;

  constructor(private readonly options: IdleRefreshOptions) {}

  /** When the last pass started (epoch ms), or null before the first. */
  get lastStart(): number | null {
    return Number.isFinite(this.#lastStart) ? this.#lastStart : null;
  }

  /**
   * Takes over the start of a pass an earlier process recorded, so a restart does not refresh
   * before `--refresh-every` has passed. A time after `now` (the clock was set back) is ignored.
   */
  remember(startedAt: number | null, now: number): void {
    if (startedAt !== null && startedAt <= now && startedAt > this.#lastStart) this.#lastStart = startedAt;
  }

  /** The reads of the day the refresh leaves unspent. */
  reserve(ctx: EngineContext): number {
    const { read, overall } = ctx.limiter.status();
    return Math.ceil(Math.min(read.allowedDay, overall.allowedDay) * this.options.reserveFraction);
  }

  /**
   * Runs a refresh pass after a cycle's batch `last` when it is due: nothing pending, the
   * last pass `--refresh-every` hours ago or more, reads left above the reserve. Returns the
   * pass's summary, or null when no pass was due.
   */
  async afterBatch(ctx: EngineContext, last: RunSummary): Promise<RefreshSummary | null> {
    const { everyHours } = this.options;
    if (everyHours === 0) return null;
    if (last.pendingActivities + last.pendingSegments > 0) return null;
    if (ctx.now() - this.#lastStart < everyHours * 3_600_000) return null;
    const reserve = this.reserve(ctx);
    const left = readsLeftToday(ctx);
    if (left <= reserve) {
      log.debug("refresh due, but only {left} reads are left today (reserve {reserve})", { left, reserve });
      return null;
    }
    this.#lastStart = ctx.now();
    log.info("nothing pending: refreshing with idle budget ({left} reads left today, reserve {reserve})", {
      left,
      reserve,
    });
    return await runRefresh(ctx, {
      activities: this.options.activities,
      segments: this.options.segments,
      refreshAfterDays: this.options.refreshAfterDays,
      reserveReads: reserve,
    });
  }
}
