/**
 * The rate budget shared by the runs in one folder (lib/store/shared_rate_state.ts), as a
 * backfill session opens it: keyed by the Strava application, and never a reason to stop.
 */
import { getLogger } from "@logtape/logtape";
import { SHARED_RATE_STATE_PATH, SharedRateState } from "../store/shared_rate_state.ts";

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
