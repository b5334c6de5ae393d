/**
 * The OAuth authorization code flow of setup_auth.ts: a one-shot callback server on loopback,
 * the pages it shows the browser, the state check, mapping of Strava's refusals to errors the
 * user can act on, storing the issued pair, and the report of what was granted.
 *
 * Nothing here logs or prints a token, secret or authorization code.
 */
import { loadConfig } from "../config.ts";
import type { Database } from "../store/db.ts";
import { AuthError, RuntimeError, UsageError } from "../errors.ts";
import {
  buildAuthorizeUrl,
  checkOAuthUrl,
  exchangeCode,
  GrantRejectedError,
  type IssuedTokens,
  normalizeScope,
  randomState,
  scopeSet,
  STRAVA_API_SETTINGS_URL,
  validateCallback,
} from "../strava/oauth.ts";
import { openMigrated } from "../store/open.ts";
import { saveDatabaseTokens, type StoredTokens, writeTokensFile } from "../strava/token_store.ts";

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
export interface SetupAuthOptions {
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

/** The client settings the code exchange needs. */
export type OAuthClient = Parameters<typeof exchangeCode>[0];

/** The outcome of the authorization: tokens and the scope the redirect said was granted. */
export interface Authorization {
  tokens: IssuedTokens;
  /** Granted scopes from the redirect; null when unknown (--code with a bare code). */
  scope: string | null;
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
        `Client Secret in the environment or in ${o.envPath ?? ".env"}`,
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

/** Opens `url` with xdg-open (Linux) or open (macOS). A launcher that keeps running counts as success. */
export async function openBrowser(url: string): Promise<boolean> {
  const command = Deno.build.os === "darwin" ? "open" : Deno.build.os === "windows" ? null : "xdg-open";
  if (command === null) return false;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, { args: [url], stdin: "null", stdout: "null", stderr: "null" }).spawn();
  } catch {
    return false; // no launcher installed, or not allowed: the URL is printed anyway
  }
  child.unref();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const launched = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), 3000));
  try {
    return await Promise.race([child.status.then((s) => s.success, () => false), launched]);
  } finally {
    clearTimeout(timer);
  }
}

/** A small HTML page for the browser tab, never cached and never leaking the address as a referrer. */
export function callbackPage(status: number, title: string, text: string): Response {
  const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
    `<body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${escape(title)}</h1>` +
    `<p>${escape(text)}</p></body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    },
  });
}

/** The error for a redirect carrying `error=` (the user clicked Cancel, or Strava refused). */
export function deniedError(error: string): AuthError {
  if (error === "access_denied") {
    return new AuthError(
      "authorization was denied on Strava's page (access_denied); run setup_auth.ts again and click Authorize",
    );
  }
  return new AuthError(`Strava's authorization page answered with an error (${error}); run setup_auth.ts again`);
}

/** Maps a rejected code (used or expired) to an AuthError the user can act on; other errors pass through. */
export function exchangeError(err: unknown): unknown {
  if (err instanceof GrantRejectedError && err.rejected === "grant") {
    return new AuthError(
      `Strava rejected the authorization code (HTTP ${err.status}): it was already used or has expired; ` +
        `run setup_auth.ts again`,
    );
  }
  return err;
}

/** Parses --code: a bare code, or the whole redirect address (which also tells the granted scope). */
export function codeQuery(value: string): URLSearchParams {
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
  return openMigrated(path);
}

/** --code: no server; the state cannot be checked (the run that made it is gone). */
export async function finishWithCode(
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

/** Options of `browserFlow`. */
export interface BrowserFlowOptions {
  client: OAuthClient;
  /** Callback port; 0 picks a free one. */
  port: number;
  scope: string;
  timeoutMs: number;
  /** Opens the authorize URL; undefined only prints it. */
  openBrowser?: (url: string) => Promise<boolean>;
  now: () => number;
  out: (line: string) => void;
  err: (line: string) => void;
  verbose: (line: string) => void;
  /** Persists the tokens; runs before the success page is shown. */
  store: (authorization: Authorization) => void;
}

/** The browser flow: callback server, authorize URL, wait for the one redirect carrying our state. */
export async function browserFlow(o: BrowserFlowOptions): Promise<Authorization> {
  const state = randomState();
  let settle!: { resolve: (a: Authorization) => void; reject: (e: unknown) => void };
  const outcome = new Promise<Authorization>((resolve, reject) => settle = { resolve, reject });
  let done = false;
  let exchanging = false;
  let redirectUri = "";

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname !== "/callback") {
      return callbackPage(404, "Not found", "This server only answers Strava's redirect.");
    }
    if (done) {
      return callbackPage(410, "Already finished", "This setup_auth.ts run has finished; you can close this tab.");
    }
    const result = validateCallback(o.client.oauthUrl, o.client.clientId, url.searchParams, state);
    if (result.kind === "invalid") {
      // Not from the authorization this run started (forged, or a stale tab): no exchange, keep waiting.
      o.err(`ignored a request to the callback that does not belong to this run (${result.reason})`);
      return callbackPage(
        400,
        "Not this authorization",
        "This address does not match the authorization setup_auth.ts is waiting for. Open the URL it printed.",
      );
    }
    if (result.kind === "error") {
      done = true;
      settle.reject(deniedError(result.error));
      return callbackPage(
        403,
        "Authorization denied",
        "strava-backfill was not authorized. Run setup_auth.ts again to retry; you can close this tab.",
      );
    }
    if (exchanging) return callbackPage(409, "In progress", "This authorization is already being completed.");
    exchanging = true;
    o.verbose("received the authorization code; exchanging it for tokens");
    try {
      const tokens = await exchangeCode(o.client, result.params, redirectUri, o.now);
      const authorization = { tokens, scope: result.scope };
      o.store(authorization);
      done = true;
      settle.resolve(authorization);
      return callbackPage(200, "strava-backfill is authorized", "The tokens are saved. You can close this tab.");
    } catch (e) {
      done = true;
      settle.reject(exchangeError(e));
      return callbackPage(
        502,
        "Authorization failed",
        "setup_auth.ts could not complete the authorization; see its output.",
      );
    }
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port: o.port, onListen: () => {} }, handler);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${o.port} is already in use; pass --port with a free port`);
    }
    throw e;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    redirectUri = `http://localhost:${server.addr.port}/callback`;
    const authorizeUrl = buildAuthorizeUrl({
      oauthUrl: o.client.oauthUrl,
      clientId: o.client.clientId,
      redirectUri,
      scope: o.scope,
      state,
    }).href;
    o.verbose(`callback server listening on 127.0.0.1:${server.addr.port}`);
    o.out("Open this URL in your browser and authorize strava-backfill:");
    o.out("");
    o.out(`  ${authorizeUrl}`);
    o.out("");
    o.out(`Waiting for Strava to redirect to ${redirectUri} (up to ${describeWait(o.timeoutMs)})...`);
    o.out(
      "If the browser runs on another machine, the redirect will fail to load there: copy the address it " +
        "ended on and run setup_auth.ts --code 'ADDRESS'.",
    );
    if (o.openBrowser) {
      const opened = await o.openBrowser(authorizeUrl);
      if (!opened) o.err("could not open a browser; open the URL above yourself");
    }
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A code exchange under way has its own time limit and settles the outcome itself.
        if (exchanging) return;
        done = true;
        reject(
          new AuthError(
            `no authorization arrived within ${describeWait(o.timeoutMs)}; run setup_auth.ts again ` +
              `(with --code 'ADDRESS' if the browser cannot reach this machine)`,
          ),
        );
      }, o.timeoutMs);
    });
    return await Promise.race([outcome, timeout]);
  } finally {
    clearTimeout(timer);
    // Lets a response in progress (the success page) finish before the server goes.
    await server.shutdown();
  }
}

/**
 * "5 minutes", "1 second": the --timeout as the user typed it, in words. Not formatDuration
 * (lib/time_format.ts), whose "5m 00s" suits a progress line, not a sentence.
 */
export function describeWait(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? "" : "s"}`;
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

/** Saves the pair in the database (when there is one) and tokens.json; reports what could not be saved. */
export function storeAuthorization(
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
  const failures: string[] = [];
  if (db) {
    try {
      saveDatabaseTokens(db, record);
    } catch (e) {
      failures.push(`the database: ${(e as Error).message}`);
    }
  }
  try {
    writeTokensFile(tokensPath, record);
  } catch (e) {
    failures.push(`${tokensPath}: ${(e as Error).message}`);
  }
  if (failures.length > 0) {
    const saved = failures.length < (db ? 2 : 1) ? " (the rest was saved)" : "";
    throw new RuntimeError(`could not save the tokens to ${failures.join("; ")}${saved}; fix this and run again`);
  }
}

/**
 * Tells who was authorized, with what scope, and where the pair went; warns when the grant
 * falls short of `requested` in a way that makes the backfill skip activities.
 */
export function reportAuthorization(
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
