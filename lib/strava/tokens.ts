/**
 * The token provider behind every API call: one path from "which token do I use" to "refresh,
 * store, release" (`RefreshingTokenProvider.#obtain`).
 *
 * Order: STRAVA_ACCESS_TOKEN is used as is and never refreshed. Otherwise the most recently
 * issued refresh token among the database `tokens` table, tokens.json and STRAVA_REFRESH_TOKEN
 * is used (`readCandidates`, token_store.ts): ranked by `updated_at` (written when the pair was
 * stored, i.e. issued; tokens.json without it falls back to the file's mtime), then by
 * `expires_at`, then database, file, environment.
 *
 * Strava rotates refresh tokens: the old one dies as soon as a new one is issued. So a refresh
 * runs under the one token lock (`lockTokens`, the flock on tokens.json.lock that every process
 * sharing the tokens sees), re-reads the stores under it (another process may just have stored a
 * pair), and writes every new pair to the database and tokens.json before it is used. One whose
 * every token was refused re-reads the stores once more and retries before it gives up (exit 3).
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config.ts";
import type { Database } from "../store/db.ts";
import { AuthError, RuntimeError } from "../errors.ts";
import { GrantRejectedError, refreshTokens, STRAVA_API_SETTINGS_URL } from "./oauth.ts";
import { staticTokenProvider, type TokenProvider } from "./client.ts";
import {
  DEFAULT_TOKENS_PATH,
  lockTokens,
  readCandidates,
  savePair,
  type StoredTokens,
  type TokenCandidate,
} from "./token_store.ts";

const log = getLogger(["strava-backfill", "tokens"]);

/** The exact message of docs/contract.md when no token exists anywhere. */
export const NO_TOKEN_MESSAGE = "No refresh token found. Please authenticate with Strava first.";

/** Message when every stored refresh token was refused. */
export const REFRESH_REJECTED_MESSAGE =
  "Strava rejected the refresh token (revoked, or already used by another program); run setup_auth.ts to authorize again";

/** Message when a refresh is due but the app's credentials are not set. */
const CLIENT_MISSING_MESSAGE =
  `STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET are needed to refresh the Strava access token; set them in ` +
  `the environment or in .env (they are on ${STRAVA_API_SETTINGS_URL})`;

/** Warning when tokens.json holds no pair but the database does (`problem`: "is empty", ...). */
const fileSetAsideWarning = (path: string, problem: string) =>
  `${path} ${problem}; using the token pair in the database (the file is rewritten at the next token refresh)`;

/** Error when a new pair could be stored nowhere (`failures`: "where: why" each). */
const notSavedMessage = (failures: string[]) =>
  `could not save the new Strava tokens (${failures.join("; ")}); the previous refresh token is no longer ` +
  `valid, so run setup_auth.ts again once this is fixed`;

/** Refresh when the access token expires within this many ms. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** How long to wait for another process's refresh (longer than one token request may take). */
const LOCK_WAIT_MS = 60_000;

/** Poll interval while another process holds the token lock. */
const DEFAULT_LOCK_POLL_MS = 200;

/** Options of `createTokenProvider`. */
export interface TokenProviderOptions {
  /** accessToken, clientId, clientSecret, refreshToken and oauthUrl are used. */
  config: Pick<Config, "accessToken" | "clientId" | "clientSecret" | "refreshToken" | "oauthUrl">;
  /** The database whose `tokens` table to use; without it, tokens.json only. */
  db?: Database;
  /** tokens.json path (default `tokens.json`). */
  tokensPath?: string;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Poll interval while another process holds the token lock (default 200 ms). */
  lockPollMs?: number;
  /** Where a warning the user should see goes besides the log (default: stderr, `warning: ` first). */
  warn?: (line: string) => void;
  /** SIGINT/SIGTERM: ends a wait for the token lock and aborts the token request (InterruptedError). */
  signal?: AbortSignal;
}

/** The provider for `options.config`: STRAVA_ACCESS_TOKEN as is, else a refreshing one. */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  if (options.config.accessToken) return staticTokenProvider(options.config.accessToken);
  return new RefreshingTokenProvider(options);
}

/** The refresh-token provider (exported for tests and for `refreshCount`). */
export class RefreshingTokenProvider implements TokenProvider {
  readonly #options: TokenProviderOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #tokensPath: string;
  #current: StoredTokens | null = null;
  #inflight: Promise<string> | null = null;
  #warnedFile = false;
  /** HTTP refreshes this provider made (each one rotated the refresh token). */
  refreshCount = 0;

  /** A provider over the stores of `options`; nothing is read until the first call. */
  constructor(options: TokenProviderOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#tokensPath = options.tokensPath ?? DEFAULT_TOKENS_PATH;
  }

  /** A valid access token: the one in hand, a stored one, or a fresh one from a refresh. */
  accessToken(): Promise<string> {
    const current = this.#current;
    if (current?.accessToken && this.#fresh(current)) return Promise.resolve(current.accessToken);
    return this.#serialised(undefined);
  }

  /** After a 401 on `rejected`: a token another process already obtained, or a refreshed one. */
  refreshAfterUnauthorized(rejected: string): Promise<string> {
    return this.#serialised(rejected);
  }

  /** One refresh at a time per provider; a caller that joined a refresh yielding `rejected` tries again. */
  async #serialised(rejected: string | undefined): Promise<string> {
    while (this.#inflight) {
      // A failure of the refresh in flight is this caller's failure too: no second request.
      const token = await this.#inflight;
      if (token !== rejected) return token;
    }
    const run = this.#obtain(rejected);
    this.#inflight = run;
    try {
      return await run;
    } finally {
      this.#inflight = null;
    }
  }

  /**
   * The one resolution path: the best stored access token while valid (no lock for most runs);
   * else, under the token lock, the stores re-read, a refresh with the best token Strava accepts,
   * the new pair stored, the lock released. Every token refused: the stores are re-read once (a
   * process this lock cannot see, such as one on the same database with another tokens.json, may
   * be storing the pair it just obtained) and any new token tried before giving up.
   */
  async #obtain(rejected: string | undefined): Promise<string> {
    const stored = this.#usable(this.#candidates(), rejected);
    if (stored.token !== null) return stored.token;
    const lock = await lockTokens(this.#tokensPath, {
      waitMs: LOCK_WAIT_MS,
      pollMs: this.#options.lockPollMs ?? DEFAULT_LOCK_POLL_MS,
      sleep: this.#sleep,
      signal: this.#options.signal,
    });
    if (lock.notHeld) log.warn("refreshing the Strava token without the lock: {detail}", lock.notHeld);
    try {
      const tried = new Set<string>();
      for (let pass = 0; pass < 2; pass++) {
        if (pass === 1) {
          log.info("every stored refresh token was refused; re-reading the token stores once");
          await this.#sleep(this.#options.lockPollMs ?? DEFAULT_LOCK_POLL_MS);
        }
        const { token, candidates } = this.#usable(this.#candidates(), rejected);
        if (token !== null) return token;
        const refreshed = await this.#refreshFirst(candidates, tried);
        if (refreshed !== null) return refreshed;
      }
      throw new AuthError(REFRESH_REJECTED_MESSAGE);
    } finally {
      lock.release();
    }
  }

  #fresh(tokens: StoredTokens): boolean {
    return tokens.expiresAt !== null && tokens.expiresAt * 1000 - this.#now() > REFRESH_MARGIN_MS;
  }

  /**
   * All known refresh tokens, most recently issued first (none: NO_TOKEN_MESSAGE). A tokens.json
   * that holds no pair (empty, corrupt) is skipped with a warning when the database holds one,
   * since the next refresh rewrites the file; with nothing else to go on it stays an error.
   */
  #candidates(): TokenCandidate[] {
    const { db, config } = this.#options;
    const { candidates, invalidFile } = readCandidates(db, this.#tokensPath, config.refreshToken);
    if (invalidFile) {
      if (!candidates.some((c) => c.source === "database")) throw invalidFile;
      if (!this.#warnedFile) {
        this.#warnedFile = true;
        const line = fileSetAsideWarning(invalidFile.path, invalidFile.problem);
        log.warn("{line}", { line });
        (this.#options.warn ?? ((l: string) => console.error(`warning: ${l}`)))(line);
      }
    }
    if (candidates.length === 0) throw new AuthError(NO_TOKEN_MESSAGE);
    return candidates;
  }

  /** The best candidate's access token while valid and not the one just rejected, else null. */
  #usable(candidates: TokenCandidate[], rejected: string | undefined) {
    const best = candidates[0];
    if (!best.accessToken || best.accessToken === rejected || !this.#fresh(best)) return { token: null, candidates };
    log.debug("using the stored access token from {source}", { source: best.source });
    this.#current = best;
    return { token: best.accessToken, candidates };
  }

  /**
   * Refreshes with the first candidate (not in `tried`) Strava accepts, stores the new pair
   * and returns its access token; null when Strava refused them all.
   */
  async #refreshFirst(candidates: TokenCandidate[], tried: Set<string>): Promise<string | null> {
    const { clientId, clientSecret, oauthUrl } = this.#options.config;
    if (!clientId || !clientSecret) throw new AuthError(CLIENT_MISSING_MESSAGE);
    const oauth = { oauthUrl, clientId, clientSecret, fetch: this.#options.fetch, signal: this.#options.signal };
    const athleteId = candidates.find((c) => c.athleteId !== null)?.athleteId ?? null;
    for (const candidate of candidates) {
      if (tried.has(candidate.refreshToken)) continue;
      tried.add(candidate.refreshToken);
      let issued;
      try {
        issued = await refreshTokens(oauth, candidate.refreshToken, this.#now);
      } catch (err) {
        if (err instanceof GrantRejectedError && err.rejected === "grant") {
          log.warn("Strava rejected the refresh token from {source}", { source: candidate.source });
          continue;
        }
        throw err;
      }
      this.refreshCount++;
      const record: StoredTokens = {
        athleteId: candidate.athleteId ?? athleteId,
        accessToken: issued.accessToken,
        refreshToken: issued.refreshToken,
        expiresAt: issued.expiresAt,
        scope: candidate.scope,
        updatedAt: new Date(this.#now()).toISOString(),
      };
      // The old refresh token is dead now: store the new pair before anything uses it. One store
      // failing is a warning (the other holds the pair), both failing an error.
      const failures = savePair(this.#options.db, this.#tokensPath, record, candidate.refreshToken);
      if (failures.length === (this.#options.db ? 2 : 1)) throw new RuntimeError(notSavedMessage(failures));
      for (const failure of failures) log.warn("could not save the new Strava tokens to {failure}", { failure });
      log.info("refreshed the Strava access token (from {source}); it expires at {expiresAt}", {
        source: candidate.source,
        expiresAt: new Date(issued.expiresAt * 1000).toISOString(),
      });
      this.#current = record;
      return issued.accessToken;
    }
    return null;
  }
}
