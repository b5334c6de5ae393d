/**
 * incremental_backfill.ts: one backfill pass (efforts, segments, both, or listing new activities).
 *
 *   deno task incremental [--mode both|efforts|segments|activities] [--activities N] [--segments N] ...
 */
import "../lib/require_deno.ts"; // first: one line instead of a stack trace on an old Deno
import { printedInfo, runMain } from "../lib/cli.ts";
import { type FlagTable, helpText, parseFlags } from "../lib/flags.ts";
import { BACKFILL_FLAGS, filterNote, queueFilter } from "../lib/backfill/flags.ts";
import { UsageError } from "../lib/errors.ts";
import { runBackfill } from "../lib/backfill/engine.ts";
import { openSession, sessionOptions } from "../lib/backfill/session.ts";
import { formatRunSummary } from "../lib/backfill/summary.ts";
import { formatRefreshLeft, formatRefreshSummary, refreshEnding, runRefresh } from "../lib/backfill/refresh.ts";
import { loggedRun, summaryEnding } from "../lib/backfill/run_log.ts";

/** This script's flags. */
export const FLAGS = {
  mode: {
    kind: "choice",
    arg: "MODE",
    choices: ["both", "efforts", "segments", "activities", "refresh"],
    default: "both",
    help: [
      "both | efforts | segments | activities | refresh",
      "activities: list the athlete's new activities and add them as pending",
      "refresh: follow what changed on Strava (deleted, edited, cropped and new",
      "activities; segment details older than --refresh-after)",
    ],
  },
  ...BACKFILL_FLAGS,
} as const satisfies FlagTable;

const USAGE = helpText({
  usage: "incremental_backfill.ts [options]",
  description: `Fetches segment efforts of pending activities, then details of pending segments, within
Strava's rate limits (one batch of each per run). Safe to interrupt and re-run: it continues
where it stopped.`,
  flags: FLAGS,
  notes: `Only one backfill (this or manage_backfill.ts) runs on a database at a time.

Exit codes: 0 done or stopped at the rate budget, 1 run-time failure, 2 bad usage,
3 authentication (run setup_auth.ts).`,
});

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, given } = parseFlags(args, FLAGS);
  if (printedInfo(values, USAGE)) return 0;
  const { mode } = values;
  const filter = queueFilter(values);
  if (filter && mode === "refresh") {
    throw new UsageError(
      "--sport-type, --after and --before select what a backfill fetches; a refresh covers every activity",
    );
  }
  await using session = await openSession(sessionOptions(values, given));
  if (session.requeued) console.log(session.requeued);
  const label = { what: `incremental_backfill --mode ${mode}`, filter };
  if (mode === "refresh") {
    const limits = {
      activities: values.activities,
      segments: values.segments,
      refreshAfterDays: values["refresh-after"],
    };
    const result = await loggedRun(session.ctx, label, () => runRefresh(session.ctx, limits), refreshEnding);
    for (const line of formatRefreshSummary(result)) console.log(line);
    for (const line of formatRunSummary(result.run, mode, Date.now())) console.log(line);
    console.log(formatRefreshLeft(result));
    return 0;
  }
  const limits = { mode, activities: values.activities, segments: values.segments, filter };
  const summary = await loggedRun(session.ctx, label, () => runBackfill(session.ctx, limits), summaryEnding);
  for (const line of formatRunSummary(summary, mode, Date.now())) console.log(line);
  if (filter) console.log(filterNote(session.db, filter));
  return 0;
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
