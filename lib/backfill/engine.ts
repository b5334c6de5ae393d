/**
 * The backfill engine: phase 1 fetches each pending activity with all its segment efforts,
 * phase 2 fetches the details of each segment those efforts reference; mode `activities`
 * lists new activities. Every request goes through the rate limiter; when the budget is spent
 * the engine either stops cleanly (`wait: false`) or waits for the window to reopen.
 *
 * Guarantees: no record is asked for twice in a run; a record that answered 404/403 is
 * settled and never asked for again; one that keeps failing is settled as `failed` after
 * MAX_ATTEMPTS; every record is written atomically, so a crash redoes at most the one in flight.
 */
import type { Database } from "../store/db.ts";
import { AuthError, InterruptedError, RuntimeError } from "../errors.ts";
import type { RateLimiter } from "../strava/rate_limit.ts";
import { ForbiddenError, NotFoundError, RateLimitedError, StravaError } from "../strava/client.ts";
import {
  countActivities,
  countPendingActivities,
  countPendingSegments,
  countUnknownGps,
  newestStartEpoch,
  pendingActivities,
  pendingSegments,
  saveActivityEfforts,
  saveSegmentDetails,
  settleActivity,
  type Settled,
  settleSegment,
  settleUnlisted,
  skipActivitiesWithoutEfforts,
  upsertListedActivities,
} from "../store/backfill_store.ts";
import { estimateFinish } from "./eta.ts";
import { logger } from "../log.ts";
import { idOf } from "../store/records.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { formatLocalAndUtc, isoSeconds } from "../time_format.ts";

const log = logger("backfill");

/** Backfill modes of docs/contract.md. */
export type Mode = "both" | "efforts" | "segments" | "activities";

/** The reads the engine needs (lib/strava.ts StravaClient). */
export interface ApiClient {
  getActivity(id: bigint): Promise<Record<string, unknown>>;
  getSegment(id: bigint): Promise<Record<string, unknown>>;
  listActivities(params: { after?: number; page: number; perPage?: number }): Promise<Record<string, unknown>[]>;
}

/** Everything the engine works with, injected. */
export interface EngineContext {
  db: Database;
  client: ApiClient;
  limiter: RateLimiter;
  now: () => number;
  /** Sleeps `ms`; rejects or resolves early when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wait for the budget to reopen (true) or stop cleanly (false, `--no-wait`). */
  wait: boolean;
  progress?: Progress;
  /** Aborted on SIGINT/SIGTERM: the engine stops after the record in flight. */
  signal?: AbortSignal;
}

/** How much work one run may do. */
export interface RunLimits {
  mode: Mode;
  activities: number;
  segments: number;
}

/** Counts for one phase. */
export interface PhaseSummary {
  fetched: number;
  not_found: number;
  forbidden: number;
  failed: number;
  /** Failed attempts that stay pending for a later run. */
  retry_later: number;
}

/** What a run did, and why it ended. */
export interface RunSummary {
  skipped: number;
  efforts: PhaseSummary & { efforts_stored: number };
  segments: PhaseSummary;
  listed: { pages: number; added: number; seen: number };
  /** Set when the run stopped at the rate budget with work left (`--no-wait`). */
  stoppedUntil: number | null;
  stoppedReason: string | null;
  /** Set when a signal ended the run early. */
  interrupted: boolean;
  pendingActivities: number;
  pendingSegments: number;
}

const emptyPhase = (): PhaseSummary => ({ fetched: 0, not_found: 0, forbidden: 0, failed: 0, retry_later: 0 });

/** Thrown inside the engine to unwind when the run must stop (budget with --no-wait, or a signal). */
class StopRun extends Error {}

/** Activities per list page (Strava's maximum). */
const PER_PAGE = 200;

/** The full-list survey runs when unknown activities are at least this many times its pages. */
export const SURVEY_FACTOR = 20;

/** Transient failures in a row after which the run gives up (exit 1) instead of spending budget. */
export const MAX_CONSECUTIVE_FAILURES = 3;

const FORBIDDEN_HINT = {
  activity: "re-run setup_auth.ts with --scope read,activity:read_all so private activities can be read",
  segment:
    "private segments need the scope read_all: re-run setup_auth.ts with --scope read,read_all,activity:read_all",
};

/** Runs one backfill pass; see the module comment. */
export async function runBackfill(ctx: EngineContext, limits: RunLimits): Promise<RunSummary> {
  const progress = ctx.progress ?? silentProgress;
  const summary: RunSummary = {
    skipped: 0,
    efforts: { ...emptyPhase(), efforts_stored: 0 },
    segments: emptyPhase(),
    listed: { pages: 0, added: 0, seen: 0 },
    stoppedUntil: null,
    stoppedReason: null,
    interrupted: false,
    pendingActivities: 0,
    pendingSegments: 0,
  };
  const forbiddenLogged = new Set<string>();
  const stamp = () => isoSeconds(ctx.now());

  /** Sends one request, waiting across rate windows (or stopping) as configured. */
  async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (;;) {
      if (ctx.signal?.aborted) throw new StopRun("interrupted");
      try {
        return await request();
      } catch (err) {
        // A signal aborted the request, its back-off or a token refresh: stop, charge nothing.
        if (err instanceof InterruptedError || ctx.signal?.aborted) throw new StopRun("interrupted");
        if (err instanceof ForbiddenError && err.missingScope) {
          // The token lacks a permission every request needs: settling records as forbidden
          // would only bury them; the user must re-authorize (SPEC: scope missing is exit 3).
          throw new AuthError(
            `the Strava token lacks the permission ${err.missingScope}; re-run setup_auth.ts with --scope read,activity:read_all`,
          );
        }
        if (!(err instanceof RateLimitedError)) throw err;
        const t = ctx.now();
        const when = formatLocalAndUtc(err.until, t);
        if (!ctx.wait) {
          log.info("rate budget spent ({reason}) before {what}; stopping, budget reopens at {when}", {
            reason: err.reason,
            what,
            when,
          });
          summary.stoppedUntil = err.until;
          summary.stoppedReason = err.reason;
          throw new StopRun("budget");
        }
        log.info("rate budget spent ({reason}); waiting until {when}", { reason: err.reason, when });
        await waitUntil(err.until, err.reason);
      }
    }
  }

  async function waitUntil(until: number, reason: string): Promise<void> {
    // A countdown on the terminal needs a tick each second; otherwise one sleep will do
    // (a signal still ends it at once).
    const tick = progress === silentProgress ? Infinity : 1000;
    while (ctx.now() < until) {
      progress.waiting(until, reason === "rate_limited" ? "Strava answered 429" : "rate budget spent");
      await pause(Math.min(tick, until - ctx.now()));
    }
    // One second of slack: Strava's window edge and our clock are not the same clock.
    await pause(1000);
  }

  /** A sleep that a signal ends early; an abort is a clean stop, never an error. */
  async function pause(ms: number): Promise<void> {
    try {
      await ctx.sleep(ms, ctx.signal);
    } catch (err) {
      if (!ctx.signal?.aborted) throw err;
    }
    if (ctx.signal?.aborted) throw new StopRun("interrupted");
  }

  /** The usage Strava last reported, for the log: what the limiter's decisions rest on. */
  function usage(): string {
    const { read, overall } = ctx.limiter.status();
    return `reads ${read.usage15}/${read.limit15} this window, ${read.usageDay}/${read.limitDay} today; ` +
      `all requests ${overall.usage15}/${overall.limit15}, ${overall.usageDay}/${overall.limitDay}`;
  }

  function report(phase: string, done: number, total: number, pendingRequests: number) {
    const status = ctx.limiter.status();
    progress.update({
      phase,
      done,
      total,
      left15: Math.min(status.read.remaining15, status.overall.remaining15),
      leftDay: Math.min(status.read.remainingDay, status.overall.remainingDay),
      finishAt: estimateFinish(pendingRequests, status, ctx.now()),
    });
  }

  // A transient failure (5xx, network, garbled body) is charged to the record only once a later
  // request succeeds: if Strava or the network is down, no record should burn its attempts.
  let unconfirmed: { kind: "activity" | "segment"; id: bigint; message: string; phase: PhaseSummary }[] = [];
  let consecutiveFailures = 0;

  function succeeded() {
    consecutiveFailures = 0;
    for (const u of unconfirmed) record(u.kind, u.id, null, u.message, u.phase);
    unconfirmed = [];
  }

  function record(
    kind: "activity" | "segment",
    id: bigint,
    status: Settled | null,
    message: string,
    phase: PhaseSummary,
  ) {
    const result = kind === "activity"
      ? settleActivity(ctx.db, id, status, message, stamp())
      : settleSegment(ctx.db, id, status, message);
    if (result === "not_found") phase.not_found++;
    else if (result === "forbidden") phase.forbidden++;
    else if (result === "failed") phase.failed++;
    else phase.retry_later++;
    log.warn("{kind} {id}: {result} ({message})", { kind, id, result: result ?? "will retry", message });
    if (result === "forbidden" && !forbiddenLogged.has(kind)) {
      forbiddenLogged.add(kind);
      log.warn("some {kind} records are forbidden with the current token: {hint}", {
        kind,
        hint: FORBIDDEN_HINT[kind],
      });
    }
  }

  /** Files a failed fetch: 404/403 settle at once, transient failures wait for confirmation. */
  function failed(kind: "activity" | "segment", id: bigint, err: unknown, phase: PhaseSummary): void {
    if (!(err instanceof StravaError)) throw err; // database errors, AuthError, bugs: the run fails
    const message = err.message.slice(0, 500);
    if (err instanceof NotFoundError || err instanceof ForbiddenError) {
      succeeded(); // Strava answered, so it is up
      record(kind, id, err instanceof NotFoundError ? "not_found" : "forbidden", message, phase);
      return;
    }
    unconfirmed.push({ kind, id, message, phase });
    if (++consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
      throw new RuntimeError(
        `Strava failed ${consecutiveFailures} times in a row (last: ${message}); nothing was lost, run again later`,
      );
    }
  }

  try {
    if (limits.mode === "activities") await listNewActivities();
    if (limits.mode === "both" || limits.mode === "efforts") await effortsPhase();
    if (limits.mode === "both" || limits.mode === "segments") await segmentsPhase();
  } catch (err) {
    if (!(err instanceof StopRun)) throw err;
    summary.interrupted = err.message === "interrupted";
  } finally {
    progress.clear();
    summary.pendingActivities = countPendingActivities(ctx.db);
    summary.pendingSegments = countPendingSegments(ctx.db);
  }
  return summary;

  async function effortsPhase() {
    await surveyImportedActivities();
    summary.skipped = skipActivitiesWithoutEfforts(ctx.db, stamp());
    if (summary.skipped > 0) {
      log.info("skipped {n} activities that cannot have segment efforts", { n: summary.skipped });
    }
    const ids = pendingActivities(ctx.db, limits.activities);
    let done = 0;
    for (const id of ids) {
      report("efforts", done, ids.length, countPendingActivities(ctx.db) + countPendingSegments(ctx.db));
      try {
        const activity = await call(`activity ${id}`, () => ctx.client.getActivity(id));
        const n = saveActivityEfforts(ctx.db, id, activity, stamp());
        summary.efforts.fetched++;
        summary.efforts.efforts_stored += n;
        log.info("activity {id}: stored {n} segment efforts; {usage}", { id, n, usage: usage() });
        succeeded();
      } catch (err) {
        if (err instanceof StopRun) throw err;
        failed("activity", id, err, summary.efforts);
      }
      done++;
    }
  }

  async function segmentsPhase() {
    const ids = pendingSegments(ctx.db, limits.segments);
    let done = 0;
    for (const id of ids) {
      report("segments", done, ids.length, countPendingSegments(ctx.db));
      try {
        const segment = await call(`segment ${id}`, () => ctx.client.getSegment(id));
        saveSegmentDetails(ctx.db, id, segment, stamp());
        summary.segments.fetched++;
        log.info("segment {id}: stored details; {usage}", { id, usage: usage() });
        succeeded();
      } catch (err) {
        if (err instanceof StopRun) throw err;
        failed("segment", id, err, summary.segments);
      }
      done++;
    }
  }

  /** Lists the athlete's activities after `after` (epoch s), storing every page; returns the ids seen. */
  async function listFrom(after: number | undefined, phase: string): Promise<Set<bigint>> {
    const seen = new Set<bigint>();
    for (let page = 1;; page++) {
      report(phase, page - 1, page, 1);
      const list = await call(
        `activity list page ${page}`,
        () => ctx.client.listActivities({ after, page, perPage: PER_PAGE }),
      );
      summary.listed.pages++;
      summary.listed.seen += list.length;
      summary.listed.added += upsertListedActivities(ctx.db, list, stamp());
      for (const activity of list) {
        const id = idOf(activity.id);
        if (id !== null) seen.add(id);
      }
      log.info("activity list page {page}: {n} activities; {usage}", { page, n: list.length, usage: usage() });
      if (list.length < PER_PAGE) return seen;
    }
  }

  async function listNewActivities() {
    const newest = newestStartEpoch(ctx.db);
    // One second earlier: `after` is exclusive, and two activities may share a start second.
    await listFrom(newest === null ? undefined : newest - 1, "listing");
  }

  /**
   * Imported activities say nothing of GPS, and an old export still holds activities deleted
   * since. One pass over the whole list (a read per 200 activities) tells both: activities
   * without a track are then skipped, and ones missing from the list settled, without a request
   * each. Worth it once the unknown ones are SURVEY_FACTOR times the pages it costs.
   */
  async function surveyImportedActivities() {
    const unknown = countUnknownGps(ctx.db);
    const pages = Math.ceil((countActivities(ctx.db) + 1) / PER_PAGE);
    if (unknown < SURVEY_FACTOR * pages) return;
    const status = ctx.limiter.status();
    const left = Math.min(status.read.remaining15, status.overall.remaining15);
    if (!ctx.wait && left < pages + 1) {
      // A survey cut short by --no-wait would have to start over; fetch one by one meanwhile.
      log.info("not listing all activities now: {pages} reads needed, {left} left in this window", { pages, left });
      return;
    }
    log.info("listing all activities once ({pages} reads) to learn which of {unknown} imported ones can have efforts", {
      pages,
      unknown,
    });
    const seen = await listFrom(0, "survey");
    const settled = settleUnlisted(ctx.db, seen, stamp());
    summary.efforts.not_found += settled;
    if (settled > 0) {
      log.info(
        "{n} imported activities are not in the athlete's list (deleted, or private without activity:read_all): settled as not_found",
        {
          n: settled,
        },
      );
    }
  }
}
