/**
 * `setup_auth.ts --revoke`: disconnects the tool from Strava. Every distinct token the tool
 * holds (the database's `tokens` table, tokens.json, STRAVA_REFRESH_TOKEN; STRAVA_ACCESS_TOKEN
 * only when no refresh token exists) is revoked at oauth/revoke, then the tokens are removed
 * from the stores the tool writes (the `tokens` table and tokens.json). The env file is never
 * edited: the user is told to delete a token kept there.
 *
 * Order matters: Strava is asked first, and only once it has answered for every token (revoked,
 * or already invalid) are the local copies removed, so a network failure or wrong client
 * credentials leave everything as it was and a second run can finish the job. The token lock of
 * token_store.ts is held meanwhile, so a backfill refreshing at that moment cannot write a new
 * pair back after the removal. Nothing here prints or logs a token or secret.
 */
import { DEFAULT_ENV_PATH, loadConfig, readEnvFile } from "../config.ts";
import type { Database } from "../store/db.ts";
import { AuthError, RuntimeError } from "../errors.ts";
import { tableExists } from "../store/db.ts";
import { checkOAuthUrl, type RevokeOutcome, revokeToken, STRAVA_API_SETTINGS_URL } from "../strava/oauth.ts";
import { lockTokens, readCandidates } from "../strava/token_store.ts";
import { openExistingDatabase, type SetupAuthDeps } from "./setup.ts";

/** The settings of one `setup_auth.ts --revoke` run. */
interface RevokeOptions {
  /** The --env file, when given (else .env, which may be missing). */
  envPath?: string;
  dbPath: string;
  tokensPath: string;
}

/** The token variables a user may keep in the environment or the env file. */
const TOKEN_VARIABLES = ["STRAVA_REFRESH_TOKEN", "STRAVA_ACCESS_TOKEN"] as const;

/** How long to wait for a backfill that is refreshing the token at this moment. */
const LOCK_WAIT_MS = 10_000;

/** Message when the app's credentials are not set (`envPath`: the env file in use). */
const clientMissingMessage = (envPath: string) =>
  "STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET are needed to revoke the authorization; set them in the " +
  `environment or in ${envPath} (they are on ${STRAVA_API_SETTINGS_URL}); nothing was changed`;

/** Message when a backfill held the token lock for all of LOCK_WAIT_MS. */
const LOCK_BUSY_MESSAGE = "another process is refreshing the Strava token; run setup_auth.ts --revoke again";

/** Revokes every token the tool holds and removes the local copies; see the module comment. */
export async function revokeAuthorization(
  o: RevokeOptions,
  deps: SetupAuthDeps & Required<Pick<SetupAuthDeps, "out" | "err">>,
): Promise<void> {
  const { out } = deps;
  const envPath = o.envPath ?? DEFAULT_ENV_PATH;
  const config = loadConfig({ envPath: o.envPath, envPathExplicit: o.envPath !== undefined, getEnv: deps.getEnv });
  const db = openExistingDatabase(o.dbPath);
  try {
    const held = () => heldTokens(db, o.tokensPath, config.refreshToken, config.accessToken);
    // Nothing held: nothing to lock, revoke or remove (and no lock file is made).
    const first = held();
    if (first.tokens.length === 0 && !first.fileHasPair) return out(summary([], []));
    if (!config.clientId || !config.clientSecret) {
      throw new AuthError(clientMissingMessage(envPath));
    }
    checkOAuthUrl(config.oauthUrl);
    const client = { oauthUrl: config.oauthUrl, clientId: config.clientId, clientSecret: config.clientSecret };
    // Waits for a backfill refreshing right now; a folder the lock file cannot be made in goes on.
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    const lock = await lockTokens(o.tokensPath, { waitMs: LOCK_WAIT_MS, pollMs: 200, sleep });
    if (lock.notHeld?.reason === "busy") throw new RuntimeError(LOCK_BUSY_MESSAGE);
    const handled = new Set<string>();
    try {
      const { tokens, fileHasPair } = held(); // again under the lock: a refresh may have just rotated the pair
      const outcomes: RevokeOutcome[] = [];
      for (const { token, hint } of tokens) {
        try {
          outcomes.push(await revokeToken({ ...client, fetch: deps.fetch }, token, hint));
        } catch (err) {
          if (err instanceof Error) err.message = `${err.message}; the local tokens were kept`;
          throw err;
        }
        handled.add(token);
      }
      out(summary(outcomes, removeLocalTokens(db, o.dbPath, o.tokensPath, fileHasPair)));
    } finally {
      lock.release();
    }
    const fileVars = readEnvFile(envPath, o.envPath !== undefined);
    const getEnv = deps.getEnv ?? ((name: string) => Deno.env.get(name));
    for (const name of TOKEN_VARIABLES) {
      const value = fileVars[name]?.trim() || getEnv(name)?.trim();
      if (!value) continue;
      const why = handled.has(value) ? "it holds a revoked token" : "the tool is disconnected";
      out(
        fileVars[name]?.trim()
          ? `Delete ${name} from ${envPath} yourself: ${why} (setup_auth never edits ${envPath}).`
          : `Unset ${name} in your environment: ${why}.`,
      );
    }
  } finally {
    db?.close();
  }
}

/** A token to revoke, and which kind it is (oauth/revoke's token_type_hint). */
interface HeldToken {
  token: string;
  hint: "refresh_token" | "access_token";
}

/** The one line of the outcome. */
function summary(outcomes: RevokeOutcome[], removed: string[]): string {
  const where = removed.length > 0 ? `removed the tokens from ${removed.join(" and ")}` : "no local copy to remove";
  if (outcomes.length === 0) return `No Strava tokens found (nothing to revoke); ${where}.`;
  if (outcomes.includes("revoked")) return `Revoked the Strava authorization; ${where}.`;
  return `Strava says the token was already invalid (revoked or expired), so nothing was left to revoke; ${where}.`;
}

/**
 * The distinct tokens to revoke, newest first: every stored refresh token (a rotated, dead one
 * costs one answer "already invalid"), else STRAVA_ACCESS_TOKEN.
 */
function heldTokens(
  db: Database | undefined,
  tokensPath: string,
  envRefresh: string | undefined,
  envAccess: string | undefined,
): { tokens: HeldToken[]; fileHasPair: boolean } {
  // An unreadable tokens.json holds no token to revoke; it is left as it is.
  const { candidates } = readCandidates(db, tokensPath, envRefresh);
  const fileHasPair = candidates.some((c) => c.source === "tokens.json");
  const refresh = [...new Set(candidates.map((c) => c.refreshToken))];
  const tokens: HeldToken[] = refresh.map((token) => ({ token, hint: "refresh_token" }));
  if (tokens.length === 0 && envAccess) tokens.push({ token: envAccess, hint: "access_token" });
  return { tokens, fileHasPair };
}

/** Deletes the `tokens` rows and tokens.json; returns where tokens were removed from. */
function removeLocalTokens(db: Database | undefined, dbPath: string, tokensPath: string, fileHasPair: boolean) {
  const removed: string[] = [];
  const failures: string[] = [];
  if (db && tableExists(db, "tokens")) {
    try {
      const { changes } = db.prepare("DELETE FROM tokens").run();
      if (Number(changes) > 0) removed.push(dbPath);
    } catch (e) {
      failures.push(`${dbPath}: ${(e as Error).message}`);
    }
  }
  if (fileHasPair) {
    try {
      // A symlink is removed itself, never the file it points to.
      Deno.removeSync(tokensPath);
      removed.push(tokensPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) failures.push(`${tokensPath}: ${(e as Error).message}`);
    }
  }
  if (failures.length > 0) {
    throw new RuntimeError(
      `Strava revoked the authorization, but the local tokens could not all be removed (${failures.join("; ")}); ` +
        `they no longer work: delete them yourself`,
    );
  }
  return removed;
}
