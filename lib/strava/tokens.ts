/**
 * The token provider behind every API call.
 *
 * Order: STRAVA_ACCESS_TOKEN is used as is and never refreshed. Otherwise the most recently
 * issued refresh token among the database `tokens` table, tokens.json and STRAVA_REFRESH_TOKEN
 * is used: ranked by `updated_at` (written when the pair was stored, i.e. issued; tokens.json
 * without it falls back to the file's mtime), then by `expires_at`, then database, file,
 * environment. The environment has neither, so it ranks last unless it is the only one.
 *
 * Strava rotates refresh tokens: the old one dies as soon as a new one is issued. So every new
 * pair is written to the database and tokens.json before it is used, and refreshes are
 * serialised across processes by two locks (token_store.ts): an OS lock on tokens.json.lock,
 * which every process sharing the file sees whatever its database, and a lock row in the
 * database, for processes on one database with different token files. A process that waited
 * re-reads the stores first and uses the pair another process just obtained; one whose every
 * token was refused re-reads the stores once more and retries before it gives up (exit 3).
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config.ts";
import type { Database } from "../store/db.ts";
import { AuthError, InterruptedError, RuntimeError } from "../errors.ts";
import { GrantRejectedError, refreshTokens, STRAVA_API_SETTINGS_URL } from "./oauth.ts";
import { staticTokenProvider, type TokenProvider } from "./client.ts";
import {
  DEFAULT_TOKENS_PATH,
  hasRefreshLock,
  rankCandidates,
  readDatabaseTokens,
  readTokensFile,
  saveDatabaseTokens,
  type StoredTokens,
  type TokenCandidate,
  TokensFileInvalid,
  TokensFileLock,
  tryLockRefresh,
  unlockRefresh,
  writeTokensFile,
} from "./token_store.ts";

const log = getLogger(["strava-backfill", "tokens"]);

/** The exact message of docs/contract.md when no token exists anywhere. */
export const NO_TOKEN_MESSAGE = "No refresh token found. Please authenticate with Strava first.";

/** Message when every stored refresh token was refused. */
export const REFRESH_REJECTED_MESSAGE =
  "Strava rejected the refresh token (revoked, or already used by another program); run setup_auth.ts to authorize again";

/** Refresh when the access token expires within this many ms. */
const DEFAULT_REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** How long a refresh lock lasts if its holder dies (longer than one token request may take). */
const DEFAULT_LOCK_LEASE_MS = 60_000;

/** Poll interval while another process holds a refresh lock. */
const DEFAULT_LOCK_POLL_MS = 200;

/** Options of `createTokenProvider`. */
export interface TokenProviderOptions {
  /** accessToken, clientId, clientSecret, refreshToken and oauthUrl are used. */
  config: Pick<Config, "accessToken" | "clientId" | "clientSecret" | "refreshToken" | "oauthUrl">;
  /** The database whose `tokens` table (and refresh lock) to use; without it, tokens.json only. */
  db?: Database;
  /** tokens.json path (default `tokens.json`). */
  tokensPath?: string;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Refresh ahead when the access token expires within this (default 5 min). */
  refreshMarginMs?: number;
  /** Lease of the refresh lock (default 60 s). */
  lockLeaseMs?: number;
  /** Poll interval while another process holds the refresh lock (default 200 ms). */
  lockPollMs?: number;
  /** Where a warning the user should see goes besides the log (default: stderr, `warning: ` first). */
  warn?: (line: string) => void;
  /** Time limit of one token request (default 30 s). */
  oauthTimeoutMs?: number;
  /** SIGINT/SIGTERM: ends a wait for the refresh lock and aborts the token request (InterruptedError). */
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
  readonly #owner = crypto.randomUUID();
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
  }

  /** The tokens.json path in use. */
  get tokensPath(): string {
    return this.#options.tokensPath ?? DEFAULT_TOKENS_PATH;
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

  #fresh(tokens: StoredTokens): boolean {
    const margin = this.#options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    return tokens.expiresAt !== null && tokens.expiresAt * 1000 - this.#now() > margin;
  }

  /**
   * All known refresh tokens, most recently issued first. A tokens.json that holds no pair
   * (empty, corrupt) is skipped with a warning when the database holds one, since the next
   * refresh rewrites the file; with nothing else to go on it stays an error.
   */
  #candidates(): TokenCandidate[] {
    const found: TokenCandidate[] = [];
    if (this.#options.db) found.push(...readDatabaseTokens(this.#options.db));
    try {
      const file = readTokensFile(this.tokensPath);
      if (file) found.push(file);
    } catch (err) {
      if (!(err instanceof TokensFileInvalid) || found.length === 0) throw err;
      if (!this.#warnedFile) {
        this.#warnedFile = true;
        this.#warn(
          `${err.path} ${err.problem}; using the token pair in the database (the file is rewritten at the next ` +
            `token refresh)`,
        );
      }
    }
    const env = this.#options.config.refreshToken;
    if (env) {
      found.push({
        source: "STRAVA_REFRESH_TOKEN",
        athleteId: null,
        accessToken: null,
        refreshToken: env,
        expiresAt: null,
        scope: null,
        updatedAt: null,
        issuedAt: null,
      });
    }
    return rankCandidates(found);
  }

  #warn(line: string): void {
    log.warn("{line}", { line });
    (this.#options.warn ?? ((l: string) => console.error(`warning: ${l}`)))(line);
  }

  /**
   * Polls `attempt` until it succeeds; false when it still fails after the lock lease (bounded
   * by count as well, so a frozen test clock cannot wait forever).
   */
  async #poll(attempt: () => boolean, waiting: string): Promise<boolean> {
    const lease = this.#options.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS;
    const poll = this.#options.lockPollMs ?? DEFAULT_LOCK_POLL_MS;
    const maxPolls = Math.ceil(lease / poll) + 1;
    for (let i = 0; i < maxPolls; i++) {
      if (this.#options.signal?.aborted) throw new InterruptedError();
      if (attempt()) return true;
      if (i === 0) log.debug("{waiting}; waiting for it", { waiting });
      await this.#sleep(poll);
    }
    return attempt();
  }

  /**
   * Takes the refresh locks: the one on the shared tokens.json first (processes on other
   * databases in the folder share it), then the database's; always in this order, so two
   * processes never wait on each other. Returns the release.
   */
  async #lockAll(): Promise<() => void> {
    let fileLock: TokensFileLock | null = null;
    try {
      fileLock = TokensFileLock.open(this.tokensPath);
    } catch (err) {
      log.debug("no lock on {path}.lock ({error}); relying on the database lock", {
        path: this.tokensPath,
        error: (err as Error).message,
      });
    }
    if (fileLock && !await this.#poll(() => fileLock.tryAcquire(), "another process is refreshing the Strava token")) {
      log.warn("the lock on {path}.lock was not released in time; refreshing without it", { path: this.tokensPath });
    }
    const db = this.#options.db;
    const locking = db !== undefined && hasRefreshLock(db);
    try {
      if (locking) await this.#lockDatabase(db);
    } catch (err) {
      fileLock?.close();
      throw err;
    }
    return () => {
      try {
        if (locking) unlockRefresh(db, this.#owner);
      } finally {
        fileLock?.close();
      }
    };
  }

  async #lockDatabase(db: Database): Promise<void> {
    const lease = this.#options.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS;
    let heldUntil = 0;
    const attempt = () => {
      const result = tryLockRefresh(db, this.#owner, this.#now(), lease);
      if (!result.acquired) heldUntil = result.heldUntil;
      return result.acquired;
    };
    if (await this.#poll(attempt, "another process is refreshing the Strava token")) return;
    log.warn("the token refresh lock was not released in time; taking it over");
    tryLockRefresh(db, this.#owner, Math.max(this.#now(), heldUntil), lease);
  }

  /** The stored access token to use: the best candidate's, while valid and not the one just rejected. */
  #usable(candidates: TokenCandidate[], rejected: string | undefined): string | null {
    const best = candidates[0];
    if (!best?.accessToken || best.accessToken === rejected || !this.#fresh(best)) return null;
    log.debug("using the stored access token from {source}", { source: best.source });
    this.#current = best;
    return best.accessToken;
  }

  async #obtain(rejected: string | undefined): Promise<string> {
    // Most runs find a valid stored token: no lock (and no lock file) for them.
    const first = this.#candidates();
    if (first.length === 0) throw new AuthError(NO_TOKEN_MESSAGE);
    const quick = this.#usable(first, rejected);
    if (quick !== null) return quick;
    const release = await this.#lockAll();
    try {
      // Re-read under the lock: another process may have just obtained a pair.
      const candidates = this.#candidates();
      if (candidates.length === 0) throw new AuthError(NO_TOKEN_MESSAGE);
      const stored = this.#usable(candidates, rejected);
      if (stored !== null) return stored;
      const tried = new Set<string>();
      const refreshed = await this.#refreshFirst(candidates, tried);
      if (refreshed !== null) return refreshed;
      // Every token was refused. A process that does not share these locks (another folder's
      // tokens.json, a lock taken over after its lease) may have rotated it a moment ago and be
      // storing the new pair now: re-read the stores once and retry before giving up.
      log.info("every stored refresh token was refused; re-reading the token stores once");
      await this.#sleep(this.#options.lockPollMs ?? DEFAULT_LOCK_POLL_MS);
      const again = this.#candidates();
      const storedAgain = this.#usable(again, rejected);
      if (storedAgain !== null) return storedAgain;
      const retried = await this.#refreshFirst(again, tried);
      if (retried !== null) return retried;
      throw new AuthError(REFRESH_REJECTED_MESSAGE);
    } finally {
      release();
    }
  }

  /**
   * Refreshes with the first candidate (not in `tried`) Strava accepts, stores the new pair
   * and returns its access token; null when Strava refused them all.
   */
  async #refreshFirst(candidates: TokenCandidate[], tried: Set<string>): Promise<string | null> {
    const { clientId, clientSecret, oauthUrl } = this.#options.config;
    if (!clientId || !clientSecret) {
      throw new AuthError(
        `STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET are needed to refresh the Strava access token; set them in ` +
          `the environment or in .env (they are on ${STRAVA_API_SETTINGS_URL})`,
      );
    }
    const athleteId = candidates.find((c) => c.athleteId !== null)?.athleteId ?? null;
    for (const candidate of candidates) {
      if (tried.has(candidate.refreshToken)) continue;
      tried.add(candidate.refreshToken);
      let issued;
      try {
        issued = await refreshTokens(
          {
            oauthUrl,
            clientId,
            clientSecret,
            fetch: this.#options.fetch,
            timeoutMs: this.#options.oauthTimeoutMs,
            signal: this.#options.signal,
          },
          candidate.refreshToken,
          this.#now,
        );
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
      // The old refresh token is dead now: store the new pair before anything uses it.
      this.#persist(record, candidate.refreshToken);
      log.info("refreshed the Strava access token (from {source}); it expires at {expiresAt}", {
        source: candidate.source,
        expiresAt: new Date(issued.expiresAt * 1000).toISOString(),
      });
      this.#current = record;
      return issued.accessToken;
    }
    return null;
  }

  /** Writes the pair everywhere; one store failing is a warning, both failing an error. */
  #persist(record: StoredTokens, replaces: string): void {
    const failures: string[] = [];
    const db = this.#options.db;
    if (db) {
      try {
        saveDatabaseTokens(db, record, replaces);
      } catch (err) {
        failures.push(`database: ${(err as Error).message}`);
      }
    }
    try {
      writeTokensFile(this.tokensPath, record);
    } catch (err) {
      failures.push(`${this.tokensPath}: ${(err as Error).message}`);
    }
    if (failures.length === (db ? 2 : 1)) {
      throw new RuntimeError(
        `could not save the new Strava tokens (${failures.join("; ")}); the previous refresh token is no longer ` +
          `valid, so run setup_auth.ts again once this is fixed`,
      );
    }
    for (const failure of failures) log.warn("could not save the new Strava tokens to {failure}", { failure });
  }
}
