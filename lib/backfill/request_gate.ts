/**
 * The engine's one way to send a request: it checks for a signal first and that the database
 * path still names the file the run opened (lib/store/db.ts `assertStillNamed`), turns a missing token
 * scope into an AuthError, and on a spent rate budget either waits for the window to reopen
 * (with a countdown on the progress line) or stops the run (`--no-wait`).
 */
import { AuthError, InterruptedError } from "../errors.ts";
import { ForbiddenError, RateLimitedError } from "../strava/client.ts";
import { assertStillNamed } from "../store/db.ts";
import { logger } from "../log.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { formatLocalAndUtc } from "../time_format.ts";
import { estimateFinish } from "./eta.ts";
import { BudgetSpent, type EngineContext, Interrupted } from "./run_types.ts";

const log = logger("backfill");

/** Requests sent and the time they took (waits for the budget excluded), over a whole command. */
export interface RequestTiming {
  count: number;
  ms: number;
}

// One per context, i.e. per command (a one-time run is many batches, each with its own gate):
// the progress line counts the whole job and the ETA learns the latency from the first record.
const timings = new WeakMap<EngineContext, RequestTiming>();

/** The requests `ctx` has sent so far and their total time. */
export function requestTiming(ctx: EngineContext): RequestTiming {
  let timing = timings.get(ctx);
  if (!timing) timings.set(ctx, timing = { count: 0, ms: 0 });
  return timing;
}

/** Mean time per request, or 0 before the first one. */
export function msPerRequest(timing: RequestTiming): number {
  return timing.count > 0 ? timing.ms / timing.count : 0;
}

/** Sends requests for one run; see the module comment. */
export class RequestGate {
  readonly progress: Progress;
  private readonly timing: RequestTiming;

  constructor(private readonly ctx: EngineContext) {
    this.progress = ctx.progress ?? silentProgress;
    this.timing = requestTiming(ctx);
  }

  /** Sends one request, waiting across rate windows or throwing BudgetSpent / Interrupted. */
  async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.ctx.signal?.aborted) throw new Interrupted();
      // A deleted or replaced database ends the run here: no read is spent storing into a lost file.
      assertStillNamed(this.ctx.db);
      const started = this.ctx.now();
      try {
        const result = await request();
        this.timed(started);
        return result;
      } catch (err) {
        if (!(err instanceof RateLimitedError)) this.timed(started);
        // A signal aborted the request, its back-off or a token refresh: stop, charge nothing.
        if (err instanceof InterruptedError || this.ctx.signal?.aborted) throw new Interrupted();
        if (err instanceof ForbiddenError && err.missingScope) {
          // The token lacks a permission every request needs: settling records as forbidden
          // would only bury them; the user must re-authorize (docs/contract.md: exit 3).
          throw new AuthError(
            `the Strava token lacks the permission ${err.missingScope}; re-run setup_auth.ts with --scope read,activity:read_all`,
          );
        }
        if (!(err instanceof RateLimitedError)) throw err;
        const when = formatLocalAndUtc(err.until, this.ctx.now());
        if (!this.ctx.wait) {
          log.info("rate budget spent ({reason}) before {what}; stopping, budget reopens at {when}", {
            reason: err.reason,
            what,
            when,
          });
          throw new BudgetSpent(err.until, err.reason);
        }
        log.info("rate budget spent ({reason}); waiting until {when}", { reason: err.reason, when });
        await this.waitUntil(err.until, err.reason);
      }
    }
  }

  /** The usage Strava last reported, for the log: what the limiter's decisions rest on. */
  usage(): string {
    const { read, overall } = this.ctx.limiter.status();
    return `reads ${read.usage15}/${read.limit15} this window, ${read.usageDay}/${read.limitDay} today; ` +
      `all requests ${overall.usage15}/${overall.limit15}, ${overall.usageDay}/${overall.limitDay}`;
  }

  private timed(started: number): void {
    this.timing.count++;
    this.timing.ms += Math.max(0, this.ctx.now() - started);
  }

  /**
   * Updates the progress line: requests done in this command out of those plus everything still
   * pending (`pendingRequests`, not the batch: `_done`/`_total` of the batch are not shown), the
   * budget left, and a finish bound by the budget or by the measured latency, whichever is later.
   */
  report(phase: string, _done: number, _total: number, pendingRequests: number): void {
    const status = this.ctx.limiter.status();
    const done = this.timing.count;
    this.progress.update({
      phase,
      done,
      total: done + pendingRequests,
      left15: Math.min(status.read.remaining15, status.overall.remaining15),
      leftDay: Math.min(status.read.remainingDay, status.overall.remainingDay),
      finishAt: estimateFinish(pendingRequests, status, this.ctx.now(), msPerRequest(this.timing)),
    });
  }

  private async waitUntil(until: number, reason: string): Promise<void> {
    // A countdown on the terminal needs a tick each second; otherwise one sleep will do
    // (a signal still ends it at once).
    const tick = this.progress.countdown ? 1000 : Infinity;
    while (this.ctx.now() < until) {
      this.progress.waiting(until, reason === "rate_limited" ? "Strava answered 429" : "rate budget spent");
      await this.pause(Math.min(tick, until - this.ctx.now()));
    }
    // One second of slack: Strava's window edge and our clock are not the same clock.
    await this.pause(1000);
  }

  /** A sleep that a signal ends early; an abort is a clean stop, never an error. */
  private async pause(ms: number): Promise<void> {
    try {
      await this.ctx.sleep(ms, this.ctx.signal);
    } catch (err) {
      if (!this.ctx.signal?.aborted) throw err;
    }
    if (this.ctx.signal?.aborted) throw new Interrupted();
  }
}
