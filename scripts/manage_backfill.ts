/**
 * manage_backfill.ts: run the backfill to completion (one-time), keep it going (continuous),
 * or show where it stands (stats).
 *
 *   deno task backfill            # one-time, with the defaults
 *   deno task stats [--json]
 */
import { choiceFlag, floatFlag, intFlag, parseFlags, runMain } from "../lib/cli.ts";
import { DEFAULT_DB_PATH } from "../lib/store/db.ts";
import { DEFAULT_ENV_PATH } from "../lib/config.ts";
import { DEFAULT_LOG_PATH } from "../lib/log.ts";
import { openForReading } from "../lib/store/open.ts";
import { DEFAULT_STATE_PATH, readState } from "../lib/backfill/state_file.ts";
import { collectStats, formatStats } from "../lib/backfill/stats.ts";
import { runContinuous, runOneTime } from "../lib/backfill/manage.ts";
import { openSession, sessionOptions } from "../lib/backfill/session.ts";
import { formatRunSummary } from "../lib/backfill/summary.ts";

const MODES = ["one-time", "continuous", "stats"] as const;

const USAGE = `Usage: manage_backfill.ts [options]

Modes:
  --mode stats        counts, rate budget left, last run and an ETA (default; makes no request,
                      only reads the database: never migrates, locks or writes it)
  --mode one-time     sync new activities, then fetch every pending activity's efforts, then every
                      pending segment's details, in batches, waiting across rate windows
  --mode continuous   every --interval seconds: run one batch (new activities are listed
                      at most once an hour)

Options:
  --activities N      activities per batch (default: 50)
  --segments N        segments per batch (default: 50)
  --interval SECONDS  continuous: pause between cycles (default: 300)
  --max-runs N        continuous: stop after N cycles (default: 0 = never)
  --db PATH           database file (default: ${DEFAULT_DB_PATH})
  --env PATH          env file with STRAVA_* settings (default: ${DEFAULT_ENV_PATH})
  --tokens PATH       tokens file written by setup_auth.ts (default: tokens.json)
  --state PATH        run state file (default: ${DEFAULT_STATE_PATH})
  --no-wait           when the rate budget is spent, stop and print when it reopens (exit 0)
  --rate-buffer F     spend at most this fraction of each rate limit (default: 0.9)
  --log-file PATH     log file (default: ${DEFAULT_LOG_PATH})
  --json              stats: print JSON instead of a table
  -v, --verbose       log every request; show stack traces on errors
  -h, --help          show this help

Only one one-time or continuous run per database at a time (a lock file <db>.lock);
stats never waits for it. SIGINT/SIGTERM stop cleanly after the record in flight.`;

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    mode: { type: "string" },
    activities: { type: "string" },
    segments: { type: "string" },
    interval: { type: "string" },
    "max-runs": { type: "string" },
    db: { type: "string" },
    env: { type: "string" },
    tokens: { type: "string" },
    state: { type: "string" },
    "no-wait": { type: "boolean" },
    "rate-buffer": { type: "string" },
    "log-file": { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const mode = choiceFlag(values.mode, "mode", MODES, "stats");
  const dbPath = values.db ?? DEFAULT_DB_PATH;
  const statePath = values.state ?? DEFAULT_STATE_PATH;
  const rateBuffer = floatFlag(values["rate-buffer"], "rate-buffer", 0.9);
  const options = {
    activities: intFlag(values.activities, "activities", 50, { min: 1 }),
    segments: intFlag(values.segments, "segments", 50, { min: 1 }),
    intervalSeconds: intFlag(values.interval, "interval", 300),
    maxRuns: intFlag(values["max-runs"], "max-runs", 0),
    statePath,
  };

  if (mode === "stats") {
    // Read-only: stats never migrates, locks or writes (a read-only or immutable file is fine).
    using reading = openForReading(dbPath);
    const { state, warning } = await readState(statePath);
    if (warning) console.error(`warning: ${warning}`);
    const stats = collectStats(reading.db, state, Date.now(), rateBuffer, reading.note);
    console.log(values.json ? JSON.stringify(stats, null, 2) : formatStats(stats, Date.now()));
    return 0;
  }

  await using session = await openSession({ ...sessionOptions(values), rateBuffer });

  const onBatch = (summary: Parameters<typeof formatRunSummary>[0], batchMode: string) => {
    for (const line of formatRunSummary(summary, batchMode, Date.now())) console.log(line);
  };
  const run = mode === "one-time" ? runOneTime : runContinuous;
  const result = await run(session.ctx, { ...options, onBatch });
  if (result.warning) console.error(`warning: ${result.warning}`);
  console.log(
    result.outcome === "done"
      ? "done: nothing pending"
      : result.outcome === "interrupted"
      ? "stopped on signal; state saved, run again to continue"
      : "stopped at the rate budget; run again when it reopens",
  );
  return 0;
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
