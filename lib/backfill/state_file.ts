/**
 * The `--state` file (backfill_state.json): how many runs, when the last started and ended,
 * running totals and the last error. Written atomically and private (0600, like everything
 * the tool writes beside its tokens); a corrupt file is reported and
 * replaced, never fatal, because it is a convenience and the database is the truth.
 */
import { PRIVATE_MODE, writeFileAtomic } from "../files.ts";
import { logger } from "../log.ts";

/** Default `--state` path. */
export const DEFAULT_STATE_PATH = "backfill_state.json";

/** Contents of the state file. */
export interface BackfillState {
  runs: number;
  last_start: string | null;
  last_end: string | null;
  last_mode: string | null;
  /** "done", "stopped at rate budget", "interrupted", "failed". */
  last_outcome: string | null;
  last_error: string | null;
  /** Mean time per request (ms) measured by the last run, for stats' ETA; null until a run sent one. */
  ms_per_request: number | null;
  /**
   * When continuous mode last started a refresh pass (ISO), so that a restarted process (systemd,
   * `--max-runs` from cron) waits out `--refresh-every` instead of refreshing at once.
   */
  last_refresh: string | null;
  totals: { activities_fetched: number; efforts_stored: number; segments_fetched: number; activities_listed: number };
}

/** A state with nothing recorded. */
export function emptyState(): BackfillState {
  return {
    runs: 0,
    last_start: null,
    last_end: null,
    last_mode: null,
    last_outcome: null,
    last_error: null,
    ms_per_request: null,
    last_refresh: null,
    totals: { activities_fetched: 0, efforts_stored: 0, segments_fetched: 0, activities_listed: 0 },
  };
}

/** Result of `readState`: the state, and a warning when the file was unreadable. */
interface StateRead {
  state: BackfillState;
  warning: string | null;
}

/** Reads the state file; a missing file is an empty state, a corrupt one an empty state plus a warning. */
export async function readState(path: string): Promise<StateRead> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { state: emptyState(), warning: null };
    throw err;
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || typeof parsed.runs !== "number") throw new Error("bad shape");
    const base = emptyState();
    return { state: { ...base, ...parsed, totals: { ...base.totals, ...parsed.totals } }, warning: null };
  } catch {
    // Stats only reads: the file is replaced by the next backfill run, not by whoever reads it.
    const warning =
      `state file ${path} is corrupt; ignored, and replaced by the next backfill run (the database is unaffected)`;
    logger("state").warn(warning);
    return { state: emptyState(), warning };
  }
}

/** Writes the state file atomically. */
export function writeState(path: string, state: BackfillState): void {
  writeFileAtomic(path, JSON.stringify(state, null, 2) + "\n", { mode: PRIVATE_MODE });
}
