/**
 * manage_backfill.ts: run the backfill to completion (one-time), keep it going (continuous),
 * or show where it stands (stats).
 *
 *   deno task backfill            # one-time, with the defaults
 *   deno task stats [--json]
 *   deno task report              # stats, and report.html in this folder
 */
import "../lib/require_deno.ts"; // first: one line instead of a stack trace on an old Deno
import { printedInfo, runMain } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { type FlagTable, type FlagValues, helpText, parseFlags } from "../lib/flags.ts";
import { BACKFILL_FLAGS, filterNote, queueFilter } from "../lib/backfill/flags.ts";
import { openForReading } from "../lib/store/open.ts";
import type { QueueFilter } from "../lib/store/queue_filter.ts";
import { DEFAULT_STATE_PATH, readState } from "../lib/backfill/state_file.ts";
import { collectStats, formatStats, withLiveOutcome } from "../lib/backfill/stats.ts";
import { runContinuous, runOneTime } from "../lib/backfill/manage.ts";
import { collectReport, reportLine } from "../lib/backfill/report_data.ts";
import { reportHtml } from "../lib/backfill/report_page.ts";
import { PRIVATE_MODE, writeFileAtomic } from "../lib/files.ts";
import { openSession, sessionOptions } from "../lib/backfill/session.ts";
import { formatEnding, formatRunSummary } from "../lib/backfill/summary.ts";
import { DEFAULT_REFRESH_EVERY_HOURS, DEFAULT_REFRESH_RESERVE } from "../lib/backfill/idle_refresh.ts";
import { formatRefreshLeft, formatRefreshSummary, type RefreshSummary } from "../lib/backfill/refresh.ts";

/** Default `--interval` in seconds. */
const DEFAULT_INTERVAL_SECONDS = 300;
/** Shortest `--interval`: 0 would busy-loop (a state-file write per cycle, thousands a minute). */
const MIN_INTERVAL_SECONDS = 1;
/** Longest `--interval` (one week): for rarer runs, schedule one-time runs from cron instead. */
const MAX_INTERVAL_SECONDS = 7 * 24 * 3600;

/** This script's flags. */
export const FLAGS = {
  mode: {
    kind: "choice",
    arg: "MODE",
    choices: ["stats", "one-time", "continuous"],
    default: "stats",
    help: "stats | one-time | continuous, see Modes above",
  },
  ...BACKFILL_FLAGS,
  interval: {
    kind: "integer",
    arg: "SECONDS",
    default: DEFAULT_INTERVAL_SECONDS,
    min: MIN_INTERVAL_SECONDS,
    max: MAX_INTERVAL_SECONDS,
    help: "continuous: pause between cycles, in seconds",
  },
  "max-runs": {
    kind: "integer",
    arg: "N",
    default: 0,
    min: 0,
    defaultNote: "default: 0 = never",
    help: "continuous: stop after N cycles",
  },
  "refresh-every": {
    kind: "integer",
    arg: "HOURS",
    default: DEFAULT_REFRESH_EVERY_HOURS,
    min: 0,
    help: [
      "continuous: when nothing is pending, refresh (as incremental_backfill",
      "--mode refresh) at most this often; 0 = never",
    ],
  },
  "refresh-reserve": {
    kind: "number",
    arg: "F",
    default: DEFAULT_REFRESH_RESERVE,
    above: 0,
    max: 1,
    help: "continuous: a refresh leaves this fraction of the day's reads unspent",
  },
  state: { kind: "file", arg: "PATH", default: DEFAULT_STATE_PATH, help: "run state file" },
  json: { kind: "boolean", help: "stats: print JSON instead of a table" },
  html: {
    kind: "file",
    arg: "PATH",
    help: "stats: also write a self-contained HTML report (table, charts, map) to PATH",
  },
  units: {
    kind: "choice",
    arg: "UNITS",
    choices: ["metric", "imperial"],
    default: "metric",
    help: "--html: distances in km (metric) or miles (imperial)",
  },
} as const satisfies FlagTable;

const USAGE = helpText({
  usage: "manage_backfill.ts [options]",
  description: `Modes:
  --mode stats        counts, rate budget left, last run and an ETA (default; makes no request,
                      only reads the database: never migrates, locks or writes it)
  --mode one-time     sync new activities, then fetch every pending activity's efforts, then every
                      pending segment's details, in batches, waiting across rate windows
  --mode continuous   every --interval seconds: run one batch (new activities are listed
                      at most once an hour); when nothing is pending, refresh with idle
                      budget at most every --refresh-every hours`,
  flags: FLAGS,
  notes: `Only one one-time or continuous run per database at a time (a lock file <db>.lock);
stats never waits for it. SIGINT/SIGTERM abort the request in flight or the wait, record the run
as interrupted and exit 0 within seconds.

Exit codes: 0 done or stopped at the rate budget, 1 run-time failure (also: another backfill
holds the database), 2 bad usage, 3 authentication (run setup_auth.ts).`,
});

/** Flags only continuous mode uses. */
const CONTINUOUS_ONLY = ["interval", "max-runs", "refresh-every", "refresh-reserve"] as const;

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, given } = parseFlags(args, FLAGS);
  if (printedInfo(values, USAGE)) return 0;
  const { mode } = values;
  if (values.json && mode !== "stats") throw new UsageError("--json applies only to --mode stats (see --help)");
  if (values.html !== undefined && mode !== "stats") {
    throw new UsageError("--html applies only to --mode stats (see --help)");
  }
  if (given.has("units") && values.html === undefined) {
    throw new UsageError("--units applies only to --html (see --help)");
  }
  // Ignoring these silently would let `--mode one-time --max-runs 3` run until everything is done.
  const unused = CONTINUOUS_ONLY.find((name) => given.has(name));
  if (unused && mode !== "continuous") {
    throw new UsageError(`--${unused} applies only to --mode continuous (see --help)`);
  }
  if (values["retry-failed"] && mode === "stats") {
    throw new UsageError("--retry-failed needs --mode one-time or continuous: stats only reads (see --help)");
  }
  const filter = queueFilter(values);
  if (mode === "stats") await printStats(values, filter);
  else await runManaged(mode, values, given, filter);
  return 0;
}

type Values = FlagValues<typeof FLAGS>;

/** `--mode stats`: read-only, it never migrates, locks or writes (a read-only or immutable file is fine). */
async function printStats(values: Values, filter: QueueFilter | undefined): Promise<void> {
  using reading = openForReading(values.db);
  const { state, warning } = await readState(values.state);
  if (warning) console.error(`warning: ${warning}`);
  const stats = collectStats(
    reading.db,
    withLiveOutcome(state, values.db),
    Date.now(),
    values["rate-buffer"],
    filter,
    reading.note,
  );
  console.log(values.json ? JSON.stringify(stats, null, 2) : formatStats(stats, Date.now()));
  if (values.html === undefined) return;
  const report = collectReport(reading.db, stats, Date.now(), values.units);
  const html = reportHtml(report);
  // Private like the database: the map shows where the athlete rides, and so where they live.
  writeFileAtomic(values.html, html, { mode: PRIVATE_MODE });
  // With --json, stdout stays one JSON document.
  (values.json ? console.error : console.log)(reportLine(values.html, report, html));
}

/** `--mode one-time` or `continuous`: a session, the runs with their output, and the ending line. */
async function runManaged(
  mode: "one-time" | "continuous",
  values: Values,
  given: ReadonlySet<string>,
  filter: QueueFilter | undefined,
): Promise<void> {
  await using session = await openSession(sessionOptions(values, given));
  if (session.requeued) console.log(session.requeued);
  const onBatch = (summary: Parameters<typeof formatRunSummary>[0], batchMode: string) => {
    // The ending line below says why the run stopped; the batch does not say it as well.
    for (const line of formatRunSummary(summary, batchMode, Date.now(), { stopLine: false })) console.log(line);
  };
  const onOutage = (message: string, seconds: number) =>
    console.error(`warning: ${message}; trying again in ${seconds} s`);
  const onRefresh = (summary: RefreshSummary) => {
    for (const line of formatRefreshSummary(summary)) console.log(line);
    console.log(formatRefreshLeft(summary));
  };
  const run = mode === "one-time" ? runOneTime : runContinuous;
  const result = await run(session.ctx, {
    filter,
    activities: values.activities,
    segments: values.segments,
    intervalSeconds: values.interval,
    maxRuns: values["max-runs"],
    statePath: values.state,
    refresh: {
      everyHours: values["refresh-every"],
      reserveFraction: values["refresh-reserve"],
      refreshAfterDays: values["refresh-after"],
      activities: values.activities,
      segments: values.segments,
    },
    onBatch,
    onOutage,
    onRefresh,
  });
  if (result.warning) console.error(`warning: ${result.warning}`);
  console.log(formatEnding(result, Date.now()));
  if (filter) console.log(filterNote(session.db, filter));
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
