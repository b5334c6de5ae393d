/**
 * One run of the engine from its start to its end, in one place: the scope every phase shares
 * (the context, the limits, the summary being filled, the failure policy), its one way to send a
 * request, the one loop over records that every phase uses (`eachRecord`: efforts, segments,
 * refresh's re-fetches and segment refreshes), the typed stops that end a run early with work
 * left, and the run's end (`runToEnd`).
 *
 * A request (`RunScope.send`) is sent only when the day's reserve allows it (a refresh in
 * continuous mode), no signal came, and the database path still names the file the run opened
 * (lib/store/db.ts `assertStillNamed`). A missing token scope becomes an AuthError; a spent rate
 * budget either waits for the window to reopen (a countdown on the progress line) or stops the
 * run (`--no-wait`).
 */
import { AuthError, InterruptedError } from "../errors.ts";
import { logger } from "../log.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { countPendingActivities, countPendingSegments } from "../store/backfill_store.ts";
import { assertStillNamed, explainWriteError } from "../store/db.ts";
import { knownGoodRecord, type RecordKind } from "../store/failure_marks.ts";
import {
  ForbiddenError,
  MalformedResponseError,
  RateLimitedError,
  StravaError,
  TransientError,
} from "../strava/client.ts";
import { formatLocalAndUtc, isoSeconds } from "../time_format.ts";
import { estimateFinish } from "./eta.ts";
import { FailurePolicy, StravaUnreachableError } from "./failure_policy.ts";
import { emptySummary, type EngineContext, type RequestTiming, type RunLimits } from "./run_types.ts";

const log = logger("backfill");

/** Thrown inside the engine to unwind when the run must end cleanly with work left; endRunOnError records why. */
abstract class StopRun extends Error {}

/** The rate budget is spent and the run may not wait (`--no-wait`). */
class BudgetSpent extends StopRun {
  override name = "BudgetSpent";
  constructor(readonly until: number, readonly reason: string) {
    super(`rate budget spent (${reason})`);
  }
}

/** SIGINT/SIGTERM: stop after the record in flight. */
class Interrupted extends StopRun {
  override name = "Interrupted";
  constructor() {
    super("interrupted");
  }
}

/** The day's reads left are down to the run's reserve (RunLimits.reserveReads): it ends cleanly, like a spent budget. */
class ReserveReached extends StopRun {
  override name = "ReserveReached";
}

/** Reads left today: the smaller of the read and overall budgets. */
export function readsLeftToday(ctx: EngineContext): number {
  const { read, overall } = ctx.limiter.status();
  return Math.min(read.remainingDay, overall.remainingDay);
}

/** Mean time per request, or 0 before the first one. */
export function msPerRequest(timing: RequestTiming): number {
  return timing.count > 0 ? timing.ms / timing.count : 0;
}

/**
 * One run in progress; see the module comment. Made at the start of every batch or refresh
 * pass; refuses to start on a database path that no longer names the file the session opened.
 */
export class RunScope {
  readonly summary = emptySummary();
  readonly policy: FailurePolicy;
  /** Ids listed so far in this run (summary.listed.seen counts each once, lib/backfill/listing.ts). */
  readonly listed = new Set<bigint>();
  /** Set when the run ended at the day's reserve (ReserveReached). */
  reserveReached = false;
  readonly progress: Progress;
  private readonly timing: RequestTiming;

  constructor(readonly ctx: EngineContext, readonly limits: RunLimits) {
    assertStillNamed(ctx.db);
    this.progress = ctx.progress ?? silentProgress;
    this.timing = ctx.timing ??= { count: 0, ms: 0 };
    this.policy = new FailurePolicy(ctx.db, this.summary, () => this.stamp(), (k) => this.probe(k), limits.answered);
  }

  /** The run's clock as an ISO timestamp, for updated_at/fetched_at columns. */
  stamp(): string {
    return isoSeconds(this.ctx.now());
  }

  /** Sends one request, waiting across rate windows or throwing BudgetSpent / Interrupted / ReserveReached. */
  async send<T>(what: string, request: () => Promise<T>): Promise<T> {
    const { ctx } = this;
    const reserve = this.limits.reserveReads;
    if (reserve !== undefined && readsLeftToday(ctx) <= reserve) {
      throw new ReserveReached(`reserve of ${reserve} reads reached`);
    }
    for (;;) {
      if (ctx.signal?.aborted) throw new Interrupted();
      // A deleted or replaced database ends the run here: no read is spent storing into a lost file.
      assertStillNamed(ctx.db);
      const started = ctx.now();
      try {
        const result = await request();
        this.timed(started);
        return result;
      } catch (err) {
        if (!(err instanceof RateLimitedError)) this.timed(started);
        // A signal aborted the request, its back-off or a token refresh: stop, charge nothing.
        if (err instanceof InterruptedError || ctx.signal?.aborted) throw new Interrupted();
        if (err instanceof ForbiddenError && err.missingScope) {
          // The token lacks a permission every request needs: settling records as forbidden
          // would only bury them; the user must re-authorize (docs/contract.md: exit 3).
          throw new AuthError(
            `the Strava token lacks the permission ${err.missingScope}; re-run setup_auth.ts with --scope read,activity:read_all`,
          );
        }
        if (!(err instanceof RateLimitedError)) throw err;
        const when = formatLocalAndUtc(err.until, ctx.now());
        if (!ctx.wait) {
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

  /**
   * Updates the progress line: requests done in this command out of those plus `pendingRequests`
   * (everything still pending, not the batch), the budget left, and a finish bound by the budget
   * or by the measured latency, whichever is later.
   */
  report(phase: string, pendingRequests: number): void {
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

  /**
   * The failure policy's check request: re-reads one record Strava answered before (of the same
   * kind when there is one, so an outage of one endpoint is seen as such). Any answer, even a
   * 404, shows Strava is up; false when it does not answer, or when no record was ever answered.
   */
  private async probe(kind: RecordKind): Promise<boolean> {
    const { db, client } = this.ctx;
    for (const k of [kind, kind === "activity" ? "segment" : "activity"] as const) {
      const id = knownGoodRecord(db, k);
      if (id === null) continue;
      try {
        await this.send(
          `check request (${k} ${id})`,
          () => k === "activity" ? client.getActivity(id) : client.getSegment(id),
        );
        return true;
      } catch (err) {
        if (err instanceof TransientError || err instanceof MalformedResponseError) return false;
        if (err instanceof StravaError) return true; // an answer, whatever it says
        throw err; // a stop (budget, signal), AuthError: as for any request
      }
    }
    return false;
  }

  private timed(started: number): void {
    this.timing.count++;
    this.timing.ms += Math.max(0, this.ctx.now() - started);
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

/** What a record loop does with what Strava answers; see eachRecord. */
interface RecordLoop {
  /** The progress line's phase. */
  phase: string;
  /** Requests still pending when the loop begins, counted once (unset: the loop's records). */
  pending?: number;
  /** Stores one answered record, with its counts and log line. */
  store(id: bigint, record: Record<string, unknown>): void;
  /** Where a record that fails is added (one-time mode asks it again only in the next command). */
  tried?: Set<bigint>;
  /** A transient failure that must leave the stored record as it is (a refresh): filed here, not charged. */
  keep?(id: bigint, message: string): void;
}

/**
 * The engine's one loop over records: fetches each of `ids` through the run's gate, stores what
 * Strava answers, and files every failure with the run's one FailurePolicy. A stop (budget,
 * signal, reserve) ends the loop; so does the policy when Strava stops answering. The progress
 * line counts down from `loop.pending` in memory: no count query per record.
 */
export async function eachRecord(run: RunScope, kind: RecordKind, ids: bigint[], loop: RecordLoop): Promise<void> {
  const { client } = run.ctx;
  const fetch = (id: bigint) => kind === "activity" ? client.getActivity(id) : client.getSegment(id);
  const pending = loop.pending ?? ids.length;
  const keep = loop.keep;
  for (const [done, id] of ids.entries()) {
    run.report(loop.phase, Math.max(0, pending - done));
    try {
      loop.store(id, await run.send(`${kind} ${id}`, () => fetch(id)));
      run.policy.succeeded();
    } catch (err) {
      if (err instanceof StopRun) throw err;
      loop.tried?.add(id);
      await run.policy.failed(kind, id, err, keep && ((message) => keep(id, message)));
    }
  }
}

/**
 * Runs a run's phases to its end, the one way every run ends: failures no later request
 * confirmed are checked (FailurePolicy.ended); then, however it ended, the progress line is
 * cleared and what is still pending (within its filter) is counted into the summary.
 */
export async function runToEnd(run: RunScope, phases: () => Promise<void>): Promise<void> {
  try {
    await phases();
    await run.policy.ended();
  } catch (err) {
    endRunOnError(run, err);
  } finally {
    run.progress.clear();
    run.summary.pendingActivities = countPendingActivities(run.ctx.db, run.limits.filter);
    run.summary.pendingSegments = countPendingSegments(run.ctx.db, run.limits.filter);
  }
}

/**
 * What an error that left a run's phases means for the run. A stop (budget, signal, the day's
 * reserve) is an ordinary end, kept in the summary (the caller still returns it); a list page
 * that failed after the client's retries is the same outage as failed records; anything else
 * is rethrown.
 */
function endRunOnError(run: RunScope, err: unknown): void {
  if (err instanceof BudgetSpent) {
    run.summary.stoppedUntil = err.until;
    run.summary.stoppedReason = err.reason;
  } else if (err instanceof Interrupted) {
    run.summary.interrupted = true;
  } else if (err instanceof ReserveReached) {
    run.reserveReached = true;
  } else if (err instanceof TransientError) {
    throw new StravaUnreachableError(`could not reach Strava (${err.message}); nothing was lost, run again later`, {
      cause: err,
    });
  } else {
    throw explainWriteError(run.ctx.db, err); // a full disk says so and names the database
  }
}
