/**
 * The rate budget shared by the runs in one folder (lib/store/shared_rate_state.ts): as a
 * backfill session opens it (keyed by the Strava application, and never a reason to stop), and
 * as stats reads it.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../store/db.ts";
import { MemoryRateState } from "../store/rate_state.ts";
import { readSharedRateRows, SHARED_RATE_STATE_PATH, SharedRateState } from "../store/shared_rate_state.ts";
import { type BudgetStatus, DEFAULT_BUFFER, RateLimiter } from "./rate_limit.ts";

const log = getLogger(["strava-backfill", "rate_limit"]);

/**
 * The key of the Strava application in the folder's shared budget: its client id, or, when only
 * an access token is given (no client id), one key for all such runs: sharing too much is safe.
 */
export function rateAppKey(clientId: string | undefined): string {
  return clientId ? `client:${clientId}` : "access-token-only";
}

/**
 * Opens the folder's shared budget (lib/store/shared_rate_state.ts) for `app`. When it cannot be
 * opened (an unwritable folder, a damaged file) the run goes on with the database's state alone:
 * exact for one process, within the buffer for several. Says so in the log.
 */
export function openSharedBudget(app: string, path: string = SHARED_RATE_STATE_PATH): SharedRateState | undefined {
  try {
    return new SharedRateState(app, path);
  } catch (err) {
    log.warn(
      "Cannot use the shared rate budget {path} ({error}); processes in this folder share only Strava's headers",
      {
        path,
        error: (err as Error).message,
      },
    );
    return undefined;
  }
}

/**
 * Budget from the persisted state without a limiter instance (for stats): the folder's shared
 * budget when there is one (every run in the folder counts there), else the database's copy.
 * Only reads.
 */
export function loadBudgetStatus(
  db: Database,
  now: number,
  buffer: number = DEFAULT_BUFFER,
  sharedPath: string = SHARED_RATE_STATE_PATH,
): BudgetStatus {
  const rows = readSharedRateRows(sharedPath);
  if (rows.length === 0) return new RateLimiter({ db, now: () => now, buffer }).status();
  const state = new MemoryRateState();
  state.update(now, () => ({ rows }));
  return new RateLimiter({ state, now: () => now, buffer }).status();
}
