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
import { DEFAULT_DB_PATH } from "../store/db.ts";
import { DEFAULT_BUFFER } from "../strava/rate_limit.ts";
import { DEFAULT_TOKENS_PATH } from "../strava/token_store.ts";
import { DEFAULT_REFRESH_AFTER_DAYS } from "./refresh.ts";

/** Default number of records per batch (`--activities`, `--segments`). */
export const DEFAULT_BATCH = 50;

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
    help: "put records that failed repeatedly back in the queue first (not with --mode stats)",
  },
  verbose: { kind: "boolean", short: "v", help: "log every request; show stack traces on errors" },
} as const satisfies FlagTable;

/** Parsed values of the shared backfill flags. */
export type BackfillFlagValues = FlagValues<typeof BACKFILL_FLAGS>;
