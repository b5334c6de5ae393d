/**
 * Flags more than one script declares, each defined once here: the paths every script may take
 * (`--db`, `--env`, `--tokens`, `--log-file`) and the group the two backfill scripts share.
 *
 * One rule for the batch sizes in both backfill scripts: `--activities` and `--segments` are at
 * least 1. A batch of 0 would make `manage_backfill` loop without progress; to fetch only one
 * kind of record, use `--mode efforts` or `--mode segments`.
 */
import { DEFAULT_ENV_PATH } from "../config.ts";
import type { FlagTable, FlagValues } from "../flags.ts";
import { DEFAULT_LOG_PATH } from "../log.ts";
import { type Database, DEFAULT_DB_PATH } from "../store/db.ts";
import { DEFAULT_BUFFER } from "../strava/rate_limit.ts";
import { DEFAULT_TOKENS_PATH } from "../strava/token_store.ts";
import { UsageError } from "../errors.ts";
import { describeFilter, type QueueFilter } from "../store/queue_filter.ts";
import { countPendingActivities, countPendingSegments } from "../store/backfill_store.ts";

/** Default number of records per batch (`--activities`, `--segments`). */
const DEFAULT_BATCH = 50;

/** Default of `--refresh-after`: segment details older than this many days are fetched again. */
const DEFAULT_REFRESH_AFTER_DAYS = 30;

/** `--db`. */
export const DB_FLAG = {
  db: { kind: "file", arg: "PATH", default: DEFAULT_DB_PATH, help: "database file" },
} as const satisfies FlagTable;

/** `--create` (update_schema, import_archive). */
export const CREATE_FLAG = {
  create: { kind: "boolean", help: "create the database (and its folder) if it does not exist" },
} as const satisfies FlagTable;

/** `--env` and `--tokens`: where the credentials come from. */
export const CREDENTIAL_FLAGS = {
  env: { kind: "file", arg: "PATH", default: DEFAULT_ENV_PATH, help: "env file with STRAVA_* settings" },
  tokens: {
    kind: "file",
    arg: "PATH",
    default: DEFAULT_TOKENS_PATH,
    help: "tokens file written by setup_auth.ts",
  },
} as const satisfies FlagTable;

/** Flags incremental_backfill.ts and manage_backfill.ts share, with one meaning and one range. */
export const BACKFILL_FLAGS = {
  activities: {
    kind: "integer",
    arg: "N",
    default: DEFAULT_BATCH,
    min: 1,
    help: "activities to fetch segment efforts for, per batch",
  },
  segments: { kind: "integer", arg: "N", default: DEFAULT_BATCH, min: 1, help: "segments to fetch per batch" },
  "sport-type": {
    kind: "string",
    arg: "LIST",
    help: ["fetch only pending activities of these sport types (Ride,VirtualRide,…)", "and the segments they reach"],
  },
  after: { kind: "string", arg: "YYYY-MM-DD", help: "fetch only pending activities started on this day or later" },
  before: { kind: "string", arg: "YYYY-MM-DD", help: "fetch only pending activities started before this day" },
  "refresh-after": {
    kind: "integer",
    arg: "DAYS",
    default: DEFAULT_REFRESH_AFTER_DAYS,
    min: 0,
    help: "refresh: fetch segment details older than this again (0 = all)",
  },
  ...DB_FLAG,
  ...CREDENTIAL_FLAGS,
  "no-wait": {
    kind: "boolean",
    help: [
      "when the rate budget is spent, stop and print when it reopens (exit 0)",
      "instead of waiting for it",
    ],
  },
  "rate-buffer": {
    kind: "number",
    arg: "F",
    default: DEFAULT_BUFFER,
    above: 0,
    max: 1,
    help: "spend at most this fraction of each rate limit",
  },
  "log-file": { kind: "file", arg: "PATH", default: DEFAULT_LOG_PATH, help: "log file" },
  "retry-failed": {
    kind: "boolean",
    help: "put records that failed repeatedly back in the queue first",
  },
  verbose: { kind: "boolean", short: "v", help: "log every request; show stack traces on errors" },
} as const satisfies FlagTable;

/** Parsed values of the shared backfill flags. */
export type BackfillFlagValues = FlagValues<typeof BACKFILL_FLAGS>;

function dateFlag(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !date || date.toISOString().slice(0, 10) !== value.trim()) {
    throw new UsageError(`--${name} must be a date YYYY-MM-DD, got '${value}'`);
  }
  return value.trim();
}

/**
 * The queue filter `--sport-type`, `--after` and `--before` ask for (lib/store/queue_filter.ts);
 * undefined when none is given. Sport types are Strava's names, as many as wanted, comma-separated.
 */
export function queueFilter(
  values: { "sport-type"?: string; after?: string; before?: string },
): QueueFilter | undefined {
  const raw = values["sport-type"];
  const sportTypes = raw === undefined ? undefined : raw.split(",").map((t) => t.trim()).filter((t) => t !== "");
  if (raw !== undefined && (sportTypes!.length === 0 || sportTypes!.some((t) => !/^[A-Za-z-]+$/.test(t)))) {
    throw new UsageError(
      `--sport-type must be a comma-separated list of sport types like Ride,VirtualRide, got '${raw}'`,
    );
  }
  const after = dateFlag(values.after, "after");
  const before = dateFlag(values.before, "before");
  if (after !== undefined && before !== undefined && after >= before) {
    throw new UsageError(`--after ${after} must be before --before ${before}: no activity could match`);
  }
  if (sportTypes === undefined && after === undefined && before === undefined) return undefined;
  return { sportTypes, after, before };
}

/** The line printed after a filtered run: the pending counts above were the filter's. */
export function filterNote(db: Database, filter: QueueFilter): string {
  return `filter (${describeFilter(filter)}): the pending counts above are for it; ` +
    `${countPendingActivities(db)} activities and ${countPendingSegments(db)} segments pending in all`;
}
