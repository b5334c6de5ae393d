/**
 * `manage_backfill --mode stats`: counts straight from the database, the rate budget from
 * the folder's budget store (strava_budget.db, read only; no request is made), the last run from the state file, and
 * an ETA at the current daily limit and buffer. It only reads (the database is opened read-only
 * by lib/store/open.ts `openForReading`), so it may meet a schema older or newer than this tool:
 * a figure the schema cannot give is null ("unknown"), never an error.
 */
import { type Database, databasePath, isBusyError, lockedError } from "../store/db.ts";
import { LATEST_VERSION, schemaVersion } from "../store/schema.ts";
import { hasDeletedAt } from "../store/views.ts";
import { countPendingActivities, countPendingSegments, PENDING_ACTIVITIES } from "../store/backfill_store.ts";
import { describeFilter, isFiltered, type QueueFilter } from "../store/queue_filter.ts";
import { DEFAULT_BUFFER, loadBudgetStatus } from "../strava/rate_limit.ts";
import { estimateFinish } from "./eta.ts";
import type { BackfillState } from "./state_file.ts";
import { runLockHeld } from "../store/run_lock.ts";
import { formatDuration, formatLocalAndUtc, isoSeconds } from "../time_format.ts";

/** A count, or null when the database's schema cannot give it (an older or newer one). */
type Count = number | null;

/** Everything stats reports. */
export interface Stats {
  /** The database's schema version, this tool's, and a note when they differ. */
  schema: { version: number; latest: number; note: string | null };
  activities: {
    total: Count;
    processed: Count;
    pending: Count;
    skipped: Count;
    not_found: Count;
    forbidden: Count;
    failed: Count;
    /** Kept, but no longer listed by Strava (found by a refresh). */
    deleted: Count;
  };
  efforts: Count;
  segments: { total: Count; detailed: Count; pending: Count; not_found: Count; forbidden: Count; failed: Count };
  distinct_segments_ridden: Count;
  budget: {
    window: { reads_left: number; reads_allowed: number; resets_at: string };
    day: { reads_left: number; reads_allowed: number; resets_at: string };
    blocked_until: string | null;
  };
  eta: { requests_needed: Count; days_at_daily_limit: number | null; finish_at: string | null };
  last_run: LiveState;
  /** With --sport-type/--after/--before: what is pending among the activities selected. */
  filter?: { selects: string; pending_activities: number; pending_segments: number };
}

function count(db: Database, sql: string): Count {
  try {
    return Number((db.prepare(sql).get() as { n: number }).n);
  } catch (err) {
    if (err instanceof Error && /no such (column|table)/.test(err.message)) return null;
    if (isBusyError(err)) throw lockedError(databasePath(db));
    throw err;
  }
}

/** The outcome `--json` gives a run the state file says is `running` but whose process is gone (kill -9, power loss). */
export const KILLED_OUTCOME = "killed";

/** How the table shows a killed run. */
export const DEAD_RUN_OUTCOME = "killed (ended without recording an outcome)";

/** Said after the last cycle's outcome while a continuous run sleeps between cycles. */
export const CONTINUOUS_ALIVE = "continuous mode is running, between cycles";

/** The state file as stats reports it: the outcome stays a short code (for `--json` readers), plus liveness. */
type LiveState = BackfillState & {
  /** A continuous run is alive, asleep between cycles (its outcome is the last cycle's). */
  between_cycles?: boolean;
};

/**
 * The state as stats should show it: `running` only while a backfill holds the database's lock;
 * otherwise the process died mid-run and the state file could not say so (`killed`). A continuous
 * run asleep between cycles is said to be running.
 */
export function withLiveOutcome(state: BackfillState, dbPath: string): LiveState {
  if (state.last_outcome === "running") {
    return runLockHeld(dbPath) ? state : { ...state, last_outcome: KILLED_OUTCOME };
  }
  // Continuous mode records each cycle as a run; between cycles its process is alive and asleep,
  // holding the lock. "done" alone would read as if the service had stopped.
  if (state.last_mode === "continuous" && state.last_outcome !== null && runLockHeld(dbPath)) {
    return { ...state, between_cycles: true };
  }
  return state;
}

/** The outcome line of the table: the code in words, and liveness. */
export function outcomeText(r: LiveState): string {
  if (r.last_outcome === KILLED_OUTCOME) return DEAD_RUN_OUTCOME;
  if (r.between_cycles) return `${r.last_outcome} (last cycle); ${CONTINUOUS_ALIVE}`;
  return r.last_outcome ?? "-";
}

/** Gathers the statistics; `note` is the schema note of `openForReading`. */
export function collectStats(
  db: Database,
  state: LiveState,
  now: number,
  buffer = DEFAULT_BUFFER,
  filter?: QueueFilter,
  note: string | null = null,
): Stats {
  const records = countRecords(db);
  const budget = loadBudgetStatus(now, buffer);
  const { activities, segments } = records;
  const needed = activities.pending === null || segments.pending === null
    ? null
    : activities.pending + segments.pending;
  return {
    schema: { version: schemaVersion(db), latest: LATEST_VERSION, note },
    ...records,
    budget: budgetFigures(budget, now),
    eta: etaFigures(needed, budget, now, state),
    last_run: state,
    ...(isFiltered(filter) && {
      filter: {
        selects: describeFilter(filter),
        pending_activities: countPendingActivities(db, filter),
        pending_segments: countPendingSegments(db, filter),
      },
    }),
  };
}

/** The counts of records, by table and status. */
function countRecords(db: Database): Pick<Stats, "activities" | "efforts" | "segments" | "distinct_segments_ridden"> {
  // Activities a refresh found deleted on Strava are left out of every count but their own
  // (an unmigrated database opened read-only has no such column).
  const live = hasDeletedAt(db) ? "deleted_at IS NULL" : "1";
  const liveEfforts = live === "1"
    ? "1"
    : "activity_id NOT IN (SELECT id FROM activities WHERE deleted_at IS NOT NULL AND id IS NOT NULL)";
  const a = (where: string) => count(db, `SELECT count(*) n FROM activities WHERE ${live} AND ${where}`);
  const s = (where: string) => count(db, `SELECT count(*) n FROM segments WHERE ${where}`);
  return {
    activities: {
      total: a("1"),
      processed: a("segment_efforts_processed = 1"),
      pending: a(live === "1" ? "segment_efforts_processed = 0" : PENDING_ACTIVITIES),
      skipped: a("efforts_status = 'skipped'"),
      not_found: a("efforts_status = 'not_found'"),
      forbidden: a("efforts_status = 'forbidden'"),
      failed: a("efforts_status = 'failed'"),
      deleted: live === "1" ? 0 : count(db, "SELECT count(*) n FROM activities WHERE deleted_at IS NOT NULL"),
    },
    efforts: count(db, `SELECT count(*) n FROM segment_efforts WHERE ${liveEfforts}`),
    segments: {
      total: s("1"),
      detailed: s("details_status = 'ok'"),
      pending: s("details_status IS NULL"),
      not_found: s("details_status = 'not_found'"),
      forbidden: s("details_status = 'forbidden'"),
      failed: s("details_status = 'failed'"),
    },
    distinct_segments_ridden: count(
      db,
      `SELECT count(DISTINCT segment_id) n FROM segment_efforts WHERE ${liveEfforts}`,
    ),
  };
}

type Budget = ReturnType<typeof loadBudgetStatus>;

/** Reads usable in the window and the day: the tighter of the read and the overall limits. */
function budgetFigures(budget: Budget, now: number): Stats["budget"] {
  return {
    window: {
      reads_left: Math.min(budget.read.remaining15, budget.overall.remaining15),
      reads_allowed: Math.min(budget.read.allowed15, budget.overall.allowed15),
      resets_at: isoSeconds(budget.windowResetsAt),
    },
    day: {
      reads_left: Math.min(budget.read.remainingDay, budget.overall.remainingDay),
      reads_allowed: Math.min(budget.read.allowedDay, budget.overall.allowedDay),
      resets_at: isoSeconds(budget.dayResetsAt),
    },
    blocked_until: budget.blockedUntil && budget.blockedUntil > now ? isoSeconds(budget.blockedUntil) : null,
  };
}

/** When `needed` requests are done at the daily limit, and by the budget and the last run's latency. */
function etaFigures(needed: Count, budget: Budget, now: number, state: BackfillState): Stats["eta"] {
  const perDay = Math.min(budget.read.allowedDay, budget.overall.allowedDay);
  // Bound by the budget or by the latency the last run measured, whichever is later.
  const finish = needed === null ? Infinity : estimateFinish(needed, budget, now, state.ms_per_request ?? 0);
  return {
    requests_needed: needed,
    days_at_daily_limit: needed === null ? null : perDay > 0 ? Math.ceil((needed / perDay) * 10) / 10 : Infinity,
    finish_at: Number.isFinite(finish) ? isoSeconds(finish) : null,
  };
}

/** One row of the table: a padded label and its value ("unknown" for null). */
function row(label: string, value: string | number | null): string {
  return `  ${label.padEnd(22)} ${value === null ? "unknown" : value}`;
}

/** The human table. */
export function formatStats(stats: Stats, now: number): string {
  return [
    ...(stats.schema.note ? [`note: ${stats.schema.note}`] : []),
    ...recordLines(stats),
    ...budgetLines(stats.budget, now),
    ...etaLines(stats, now),
    ...lastRunLines(stats.last_run),
    ...(stats.filter
      ? [
        `Filter: ${stats.filter.selects}`,
        row("pending activities", stats.filter.pending_activities),
        row("pending segments", `${stats.filter.pending_segments} (reached from those activities)`),
      ]
      : []),
  ].join("\n");
}

/** The Activities, Segment efforts and Segments sections. */
function recordLines(stats: Stats): string[] {
  const a = stats.activities, g = stats.segments;
  return [
    "Activities",
    row("total", a.total),
    row("processed", a.processed),
    row("pending", a.pending),
    row("skipped (no efforts)", a.skipped),
    row("not found", a.not_found),
    row("forbidden", a.forbidden),
    row("failed", a.failed),
    ...(a.deleted !== null && a.deleted > 0
      ? [row("deleted on Strava", `${a.deleted} (kept, left out of the counts)`)]
      : []),
    "Segment efforts",
    row("stored", stats.efforts),
    row("distinct segments", stats.distinct_segments_ridden),
    "Segments",
    row("total", g.total),
    row("detailed", g.detailed),
    row("pending", g.pending),
    row("not found", g.not_found),
    row("forbidden", g.forbidden),
    row("failed", g.failed),
  ];
}

/** The Rate budget section. */
function budgetLines(b: Stats["budget"], now: number): string[] {
  const lines = [
    "Rate budget (reads)",
    row(
      "this window",
      `${b.window.reads_left} of ${b.window.reads_allowed} left, resets ${
        formatLocalAndUtc(Date.parse(b.window.resets_at), now)
      }`,
    ),
    row(
      "today",
      `${b.day.reads_left} of ${b.day.reads_allowed} left, resets ${
        formatLocalAndUtc(Date.parse(b.day.resets_at), now)
      }`,
    ),
  ];
  if (b.blocked_until) {
    lines.push(row("blocked (429) until", formatLocalAndUtc(Date.parse(b.blocked_until), now)));
  }
  return lines;
}

/** The Estimate section. */
function etaLines(stats: Stats, now: number): string[] {
  const e = stats.eta;
  return [
    "Estimate",
    row(
      "requests needed",
      e.requests_needed === null || stats.activities.pending === 0
        ? e.requests_needed
        : `${e.requests_needed} (more as new segments are found)`,
    ),
    row("days at daily limit", e.days_at_daily_limit),
    row(
      "finishes",
      // "finishes now, in 0s" would read as a wrong estimate when there is simply nothing to do.
      e.requests_needed === 0
        ? "nothing pending"
        : e.finish_at
        ? `${formatLocalAndUtc(Date.parse(e.finish_at), now)}, in ${formatDuration(Date.parse(e.finish_at) - now)}` +
          ((e.requests_needed ?? 0) > 0 && stats.last_run.ms_per_request == null
            ? " at the earliest (the time per request is learnt on the first run)"
            : "")
        : "unknown",
    ),
  ];
}

/** The Last run section. */
function lastRunLines(r: LiveState): string[] {
  return [
    "Last run",
    row("runs", r.runs),
    row("started", r.last_start ?? "never"),
    row("ended", r.last_end ?? "-"),
    row("outcome", outcomeText(r)),
    ...(r.last_error ? [row("last error", r.last_error)] : []),
  ];
}
