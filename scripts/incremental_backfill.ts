/**
 * incremental_backfill.ts: one backfill pass (efforts, segments, both, or listing new activities).
 *
 *   deno task incremental [--mode both|efforts|segments|activities] [--activities N] [--segments N] ...
 */
import { choiceFlag, intFlag, parseFlags, runMain } from "../lib/cli.ts";
import { DEFAULT_DB_PATH } from "../lib/store/db.ts";
import { DEFAULT_ENV_PATH } from "../lib/config.ts";
import { DEFAULT_LOG_PATH } from "../lib/log.ts";
import { type Mode, runBackfill } from "../lib/backfill/engine.ts";
import { requeueFailed } from "../lib/store/backfill_store.ts";
import { openSession, sessionOptions } from "../lib/backfill/session.ts";
import { formatRunSummary } from "../lib/backfill/summary.ts";

const MODES = ["both", "efforts", "segments", "activities"] as const;

const USAGE = `Usage: incremental_backfill.ts [options]

Fetches segment efforts of pending activities, then details of pending segments, within
Strava's rate limits. Safe to interrupt and re-run: it continues where it stopped.

Options:
  --mode MODE        both | efforts | segments | activities (default: both)
                     activities: list the athlete's new activities and add them as pending
  --activities N     activities to fetch in this run (default: 50)
  --segments N       segments to fetch in this run (default: 50)
  --db PATH          database file (default: ${DEFAULT_DB_PATH})
  --env PATH         env file with STRAVA_* settings (default: ${DEFAULT_ENV_PATH})
  --tokens PATH      tokens file written by setup_auth.ts (default: tokens.json)
  --no-wait          when the rate budget is spent, stop and print when it reopens (exit 0)
                     instead of waiting for it
  --rate-buffer F    spend at most this fraction of each rate limit (default: 0.9)
  --retry-failed     put records that failed repeatedly back in the queue first
  --log-file PATH    log file (default: ${DEFAULT_LOG_PATH})
  -v, --verbose      log every request; show stack traces on errors
  -h, --help         show this help

Only one backfill (this or manage_backfill.ts) runs on a database at a time.

Exit codes: 0 done or stopped at the rate budget, 1 run-time failure, 2 bad usage,
3 authentication (run setup_auth.ts).`;

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    mode: { type: "string" },
    activities: { type: "string" },
    segments: { type: "string" },
    db: { type: "string" },
    env: { type: "string" },
    tokens: { type: "string" },
    "no-wait": { type: "boolean" },
    "rate-buffer": { type: "string" },
    "retry-failed": { type: "boolean" },
    "log-file": { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const mode: Mode = choiceFlag(values.mode, "mode", MODES, "both");
  const limits = {
    mode,
    activities: intFlag(values.activities, "activities", 50),
    segments: intFlag(values.segments, "segments", 50),
  };
  await using session = await openSession(sessionOptions(values));
  if (values["retry-failed"]) {
    const n = requeueFailed(session.db);
    console.log(`re-queued ${n.activities} failed activities and ${n.segments} failed segments`);
  }
  const summary = await runBackfill(session.ctx, limits);
  for (const line of formatRunSummary(summary, mode, Date.now())) console.log(line);
  return 0;
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
