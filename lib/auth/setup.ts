/**
 * The setup flow of setup_auth.ts: checks the client credentials, the tokens path and the
 * database, authorizes (the loopback browser flow of `callback_server.ts`, or --code), stores
 * the issued pair, and reports what was granted.
 *
 * Nothing here logs or prints a token, secret or authorization code.
 */
import { DEFAULT_ENV_PATH, loadConfig } from "../config.ts";
import type { Database } from "../store/db.ts";
import { AuthError, RuntimeError, UsageError } from "../errors.ts";
import {
  checkOAuthUrl,
  exchangeCode,
  normalizeScope,
  scopeSet,
  STRAVA_API_SETTINGS_URL,
  validateCallback,
} from "../strava/oauth.ts";
import { openMigrated } from "../store/open.ts";
import { savePair, type StoredTokens } from "../strava/token_store.ts";
import { openBrowser } from "./browser.ts";
import { type Authorization, browserFlow, deniedError, exchangeError, type OAuthClient } from "./callback_server.ts";

/** Default callback port. */
export const DEFAULT_PORT = 8721;
/** Default time to wait for the browser's redirect, in seconds. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

/** What setup_auth.ts uses from the outside world; tests replace parts. */
export interface SetupAuthDeps {
  fetch?: typeof fetch;
  now?: () => number;
  /** Opens `url` in a browser; resolves false when none could be opened. */
  openBrowser?: (url: string) => Promise<boolean>;
  /** Standard output (the URL and the result). */
  out?: (line: string) => void;
  /** Notices and warnings (stderr). */
  err?: (line: string) => void;
  getEnv?: (name: string) => string | undefined;
}

/** The settings of one setup_auth.ts run, flags already parsed and checked. */
interface SetupAuthOptions {
  /** The --env file, when given (else .env, which may be missing). */
  envPath?: string;
  dbPath: string;
  tokensPath: string;
  port: number;
  /** Normalized, non-empty scope list to request. */
  scope: string;
  timeoutMs: number;
  /** --code: finish with this code or redirect address instead of running the browser flow. */
  code?: string;
  /** False for --no-browser: only print the URL. */
  browser: boolean;
  verbose: boolean;
}

/**
 * Runs setup_auth.ts after its flags are parsed: checks the client credentials, the tokens path
 * and the database, authorizes (browser flow or --code), stores the pair and reports the grant.
 */
export async function setupAuth(
  o: SetupAuthOptions,
  deps: SetupAuthDeps & Required<Pick<SetupAuthDeps, "out" | "err">>,
): Promise<void> {
  const { out, err } = deps;
  const now = deps.now ?? Date.now;
  const config = loadConfig({ envPath: o.envPath, envPathExplicit: o.envPath !== undefined, getEnv: deps.getEnv });
  if (!config.clientId || !config.clientSecret) {
    const missing = [!config.clientId && "STRAVA_CLIENT_ID", !config.clientSecret && "STRAVA_CLIENT_SECRET"]
      .filter(Boolean).join(" and ");
    throw new AuthError(
      `${missing} not set: create an API application at ${STRAVA_API_SETTINGS_URL} and put its Client ID and ` +
        `Client Secret in the environment or in ${o.envPath ?? DEFAULT_ENV_PATH}`,
    );
  }
  checkOAuthUrl(config.oauthUrl);
  const client: OAuthClient = {
    oauthUrl: config.oauthUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    fetch: deps.fetch,
  };

  try {
    if (Deno.statSync(o.tokensPath).isDirectory) throw new UsageError(`tokens file ${o.tokensPath} is a directory`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // Opened before the browser flow, so a bad --db fails before the user authorizes anything.
  const db = openExistingDatabase(o.dbPath);
  try {
    const store = (a: Authorization) => storeAuthorization(a, db, o.tokensPath, now);
    let authorization: Authorization;
    if (o.code !== undefined) {
      authorization = await finishWithCode(o.code, o.port, client, now);
      store(authorization);
    } else {
      authorization = await browserFlow({
        client,
        port: o.port,
        scope: o.scope,
        timeoutMs: o.timeoutMs,
        openBrowser: o.browser ? (deps.openBrowser ?? openBrowser) : undefined,
        now,
        out,
        err,
        verbose: o.verbose ? err : () => {},
        store,
      });
    }
    reportAuthorization(authorization, o.scope, db ? o.dbPath : undefined, o.dbPath, o.tokensPath, out, err);
  } finally {
    db?.close();
  }
}

/** Parses --code: a bare code, or the whole redirect address (which also tells the granted scope). */
function codeQuery(value: string): URLSearchParams {
  const text = value.trim();
  if (text === "") throw new UsageError("--code needs the authorization code or the redirect address");
  if (/^https?:\/\//i.test(text) || text.includes("code=") || text.includes("error=")) {
    const query = text.includes("?") ? text.slice(text.indexOf("?") + 1) : text;
    return new URLSearchParams(query.split("#")[0]);
  }
  return new URLSearchParams({ code: text });
}

/** Opens the database if it exists (never creates one); undefined when there is none. */
export function openExistingDatabase(path: string): Database | undefined {
  try {
    if (Deno.statSync(path).isDirectory) throw new UsageError(`${path} is a directory, not a database file`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  return openMigrated(path, { storesTokens: true });
}

/** --code: no server; the state cannot be checked (the run that made it is gone). */
async function finishWithCode(
  value: string,
  port: number,
  client: OAuthClient,
  now: () => number,
): Promise<Authorization> {
  const result = validateCallback(client.oauthUrl, client.clientId, codeQuery(value), undefined);
  if (result.kind === "error") throw deniedError(result.error);
  if (result.kind === "invalid") throw new UsageError(`--code: ${result.reason}`);
  const redirectUri = `http://localhost:${port || DEFAULT_PORT}/callback`;
  try {
    return { tokens: await exchangeCode(client, result.params, redirectUri, now), scope: result.scope };
  } catch (e) {
    throw exchangeError(e);
  }
}

/** Saves the pair in the database (when there is one) and tokens.json; reports what could not be saved. */
function storeAuthorization(
  authorization: Authorization,
  db: Database | undefined,
  tokensPath: string,
  now: () => number,
): void {
  const { tokens, scope } = authorization;
  const record: StoredTokens = {
    athleteId: tokens.athleteId ?? null,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.expiresAt,
    scope: scope === null ? null : normalizeScope(scope),
    updatedAt: new Date(now()).toISOString(),
  };
  const failures = savePair(db, tokensPath, record);
  if (failures.length > 0) {
    const saved = failures.length < (db ? 2 : 1) ? " (the rest was saved)" : "";
    throw new RuntimeError(`could not save the tokens to ${failures.join("; ")}${saved}; fix this and run again`);
  }
}

/**
 * Tells who was authorized, with what scope, and where the pair went; warns when the grant
 * falls short of `requested` in a way that makes the backfill skip activities.
 */
function reportAuthorization(
  authorization: Authorization,
  requested: string,
  savedDb: string | undefined,
  dbPath: string,
  tokensPath: string,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const { tokens, scope } = authorization;
  const who = tokens.athleteId === undefined
    ? "Strava athlete"
    : `Strava athlete ${tokens.athleteId}${tokens.athleteName ? ` (${tokens.athleteName})` : ""}`;
  out(`Authorized ${who}; granted scope: ${scope === null ? "unknown" : normalizeScope(scope) || "(none)"}.`);
  if (savedDb) {
    out(`Saved the tokens to ${savedDb} and ${tokensPath} (mode 0600).`);
  } else {
    out(
      `Saved the tokens to ${tokensPath} (mode 0600) only: the database ${dbPath} does not exist yet, and ` +
        `setup_auth.ts never creates one. The backfill reads ${tokensPath}.`,
    );
  }
  if (scope === null) {
    err(
      "note: the granted scope is unknown; pass the whole redirect address to --code (not just the code) to check it",
    );
    return;
  }
  const granted = scopeSet(scope);
  if (granted.has("activity:read_all")) return;
  if (granted.has("activity:read")) {
    err(
      "warning: activity:read_all was not granted: private activities will be skipped. To include them, run " +
        "setup_auth.ts again and allow access to your private activities.",
    );
  } else {
    err(
      "warning: neither activity:read_all nor activity:read was granted: private activities will be skipped, " +
        "and without activity access only segment details can be fetched. Run setup_auth.ts again and allow " +
        `access to your activities (requested: ${requested}).`,
    );
  }
}
