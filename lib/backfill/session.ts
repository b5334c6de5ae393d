/**
 * Everything a backfill command needs, built from its flags: configuration, the database
 * (migrated, never created), logging, the shared rate limiter, the token provider and the
 * Strava client, and a signal that SIGINT/SIGTERM abort. Both backfill scripts use it.
 */
import { loadConfig } from "../config.ts";
import type { Database } from "../store/db.ts";
import type { BackfillFlagValues } from "./flags.ts";
import { acquireRunLock } from "../store/run_lock.ts";
import { assertToolDatabase, openMigrated } from "../store/open.ts";
import { requeueFailed } from "../store/backfill_store.ts";
import { setupLogging } from "../log.ts";
import { openSharedBudget, rateAppKey, RateLimiter } from "../strava/rate_limit.ts";
import { StravaClient } from "../strava/client.ts";
import { createTokenProvider } from "../strava/tokens.ts";
import { DEFAULT_TOKENS_PATH } from "../strava/token_store.ts";
import { SHARED_RATE_STATE_PATH } from "../store/rate_state.ts";
import { assertNetGranted } from "../permissions.ts";
import { assertWriteTarget } from "../files.ts";
import type { EngineContext } from "./run_types.ts";
import { type Progress, terminalProgress, waitNotice } from "../progress.ts";

/** Flags shared by incremental_backfill.ts and manage_backfill.ts. */
interface SessionOptions {
  dbPath: string;
  envPath: string;
  envPathExplicit: boolean;
  tokensPath?: string;
  wait: boolean;
  rateBuffer: number;
  logFile: string;
  verbose: boolean;
  /** Put `failed` records back in the queue once the lock is held (`--retry-failed`). */
  retryFailed?: boolean;
}

/** An open session; disposing it releases the database, the lock and signal handlers (the log stays open for runMain). */
interface Session extends AsyncDisposable {
  db: Database;
  /** The engine's context; its `signal` is aborted by SIGINT/SIGTERM. */
  ctx: EngineContext;
  /** The line saying what `--retry-failed` put back in the queue, when it was given. */
  requeued?: string;
}

/** The longest delay a timer takes (2^31-1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timer functions `abortableSleep` uses (injectable for tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * Sleeps `ms`, resolving early (not rejecting) when `signal` aborts. A sleep longer than a timer
 * can hold (MAX_TIMER_MS) is taken in chunks, so it neither returns at once nor busy-loops.
 */
export function abortableSleep(
  ms: number,
  signal?: AbortSignal,
  timers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  },
): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    let left = Math.max(0, ms);
    let timer: unknown;
    const done = () => {
      timers.clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const next = () => {
      if (left <= MAX_TIMER_MS) return void (timer = timers.setTimeout(done, left));
      left -= MAX_TIMER_MS;
      timer = timers.setTimeout(next, MAX_TIMER_MS);
    };
    next();
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The progress line when stderr is a terminal; otherwise one line on stderr per wait for the budget. */
function defaultProgress(): Progress {
  const encoder = new TextEncoder();
  if (!Deno.stderr.isTerminal()) {
    return waitNotice({ writeLine: (line) => Deno.stderr.writeSync(encoder.encode(`${line}\n`)), now: Date.now });
  }
  return terminalProgress({
    write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
    now: Date.now,
    // Some terminals (and `script`) report 0 columns; assume a usual width then.
    columns: terminalColumns(),
  });
}

function terminalColumns(): number {
  try {
    const { columns } = Deno.consoleSize();
    return columns >= 40 ? columns : 100;
  } catch {
    return 100; // not a console after all: the width only cuts the line
  }
}

/** The session options the shared backfill flags (lib/backfill/flags.ts) ask for. */
export function sessionOptions(flags: BackfillFlagValues, given: ReadonlySet<string>): SessionOptions {
  return {
    dbPath: flags.db,
    envPath: flags.env,
    envPathExplicit: given.has("env"),
    tokensPath: flags.tokens,
    wait: !flags["no-wait"],
    rateBuffer: flags["rate-buffer"],
    logFile: flags["log-file"],
    verbose: flags.verbose,
    retryFailed: flags["retry-failed"],
  };
}

/**
 * What would refuse the run later, checked before anything but the log is written (no run is
 * counted, no budget reserved, no request sent): a Strava host the permissions do not grant
 * (docs/permissions.md), and a file of the session's (tokens.json and its lock, the shared budget
 * store) that is a symlink out of the folder (lib/files.ts).
 */
function preflight(config: { apiUrl: string; oauthUrl: string }, options: SessionOptions): void {
  assertNetGranted(config.apiUrl, "STRAVA_API_URL");
  assertNetGranted(config.oauthUrl, "STRAVA_OAUTH_URL");
  const tokens = options.tokensPath ?? DEFAULT_TOKENS_PATH;
  const budget = ["", "-wal", "-shm", "-journal"].map((end) => `${SHARED_RATE_STATE_PATH}${end}`);
  for (const path of [tokens, `${tokens}.lock`, ...budget]) assertWriteTarget(path);
}

/**
 * Opens a session. The database must exist (only the schema tools create one). The session
 * holds the one-writer lock (lib/store/run_lock.ts): two overlapping runs would fetch the same pending
 * records twice. The database is checked before its lock file is made beside it, and locked
 * before anything writes, migrations included.
 */
export async function openSession(options: SessionOptions): Promise<Session> {
  // Logging first, so a bad configuration or database reaches the log too (runMain writes the
  // error there and closes the log after the session is gone).
  await setupLogging({ path: options.logFile, verbose: options.verbose });
  const config = loadConfig({ envPath: options.envPath, envPathExplicit: options.envPathExplicit });
  preflight(config, options);
  assertToolDatabase(options.dbPath); // writes nothing: a refused file stays byte-identical
  const lock = acquireRunLock(options.dbPath);
  let db: Database;
  try {
    db = openMigrated(options.dbPath);
  } catch (err) {
    lock[Symbol.dispose]();
    throw err;
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  let sharedBudget: ReturnType<typeof openSharedBudget>;
  try {
    // Strava's budget is per application: runs on other databases in this folder share it.
    sharedBudget = openSharedBudget(rateAppKey(config.clientId));
    const limiter = new RateLimiter({ state: sharedBudget, buffer: options.rateBuffer });
    const signal = controller.signal;
    const tokens = createTokenProvider({ config, db, tokensPath: options.tokensPath, signal });
    // Every API request the client sends (a retry too), for each run's end line in the log.
    let sent = 0;
    const countedFetch: typeof fetch = (input, init) => (sent++, fetch(input, init));
    const client = new StravaClient({ apiUrl: config.apiUrl, tokens, limiter, signal, fetch: countedFetch });
    for (const s of signals) Deno.addSignalListener(s, onSignal);
    const ctx: EngineContext = {
      db,
      client,
      limiter,
      now: Date.now,
      sleep: abortableSleep,
      wait: options.wait,
      progress: defaultProgress(),
      signal: controller.signal,
      requestsSent: () => sent,
    };
    let requeued: string | undefined;
    if (options.retryFailed) {
      const n = requeueFailed(db);
      requeued = `re-queued ${n.activities} failed activities and ${n.segments} failed segments`;
    }
    return {
      db,
      ctx,
      requeued,
      [Symbol.asyncDispose]() {
        for (const s of signals) Deno.removeSignalListener(s, onSignal);
        db.close();
        lock[Symbol.dispose]();
        sharedBudget?.[Symbol.dispose]();
        return Promise.resolve();
      },
    };
  } catch (err) {
    db.close();
    lock[Symbol.dispose]();
    sharedBudget?.[Symbol.dispose]();
    throw err;
  }
}
