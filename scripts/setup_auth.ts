/**
 * setup_auth.ts: authorize strava-backfill with Strava once (OAuth authorization code flow),
 * and store the token pair in the database `tokens` table and in tokens.json.
 *
 *   deno task auth [--port N] [--scope LIST] [--no-browser] [--code CODE_OR_REDIRECT_URL]
 */
import { intFlag, parseFlags, runMain } from "../lib/cli.ts";
import { loadConfig } from "../lib/config.ts";
import { type Database, DEFAULT_DB_PATH } from "../lib/db.ts";
import { AuthError, RuntimeError, UsageError } from "../lib/errors.ts";
import {
  buildAuthorizeUrl,
  checkOAuthUrl,
  DEFAULT_SCOPE,
  exchangeCode,
  GrantRejectedError,
  type IssuedTokens,
  normalizeScope,
  randomState,
  scopeSet,
  STRAVA_API_SETTINGS_URL,
  validateCallback,
} from "../lib/oauth.ts";
import { openMigrated } from "../lib/schema.ts";
import { DEFAULT_TOKENS_PATH, saveDatabaseTokens, type StoredTokens, writeTokensFile } from "../lib/token_store.ts";

/** Default callback port. */
export const DEFAULT_PORT = 8721;
/** Default time to wait for the browser's redirect, in seconds. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

const USAGE = `Usage: setup_auth.ts [options]

Authorizes strava-backfill to read your Strava data (once). Prints a Strava authorization URL
and opens it in your browser; after you click "Authorize", Strava redirects to a small server
this script runs on http://localhost:PORT/callback, and the tokens are saved to the database
(if it exists) and to tokens.json (mode 0600). Needs STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET
(from ${STRAVA_API_SETTINGS_URL}) in the environment or the --env file.

Options:
  --env PATH        env file with STRAVA_* variables (default: .env)
  --db PATH         database to store the tokens in, if it exists (default: ${DEFAULT_DB_PATH})
  --tokens PATH     tokens file (default: ${DEFAULT_TOKENS_PATH})
  --port N          port of the local callback server (default: ${DEFAULT_PORT}; 0 = any free port)
  --scope LIST      comma-separated scopes to request (default: ${DEFAULT_SCOPE})
  --no-browser      only print the URL; do not open a browser
  --code CODE       finish a flow whose redirect could not reach this machine: pass the address the
                    browser ended on (http://localhost:PORT/callback?...&code=...) or just its code
  --timeout SECONDS give up waiting for the redirect after this long (default: ${DEFAULT_TIMEOUT_SECONDS})
  -v, --verbose     show progress details and stack traces on errors
  -h, --help        show this help`;

/** What main() uses from the outside world; tests replace parts. */
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

function page(status: number, title: string, text: string): Response {
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

/** The outcome of the authorization: tokens and the scope the redirect said was granted. */
interface Authorization {
  tokens: IssuedTokens;
  /** Granted scopes from the redirect; null when unknown (--code with a bare code). */
  scope: string | null;
}

function deniedError(error: string): AuthError {
  if (error === "access_denied") {
    return new AuthError(
      "authorization was denied on Strava's page (access_denied); run setup_auth.ts again and click Authorize",
    );
  }
  return new AuthError(`Strava's authorization page answered with an error (${error}); run setup_auth.ts again`);
}

function exchangeError(err: unknown): unknown {
  if (err instanceof GrantRejectedError && err.rejected === "grant") {
    return new AuthError(
      `Strava rejected the authorization code (HTTP ${err.status}): it was already used or has expired; ` +
        `run setup_auth.ts again`,
    );
  }
  return err;
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

/** Opens the database if it exists (never creates one). */
function openExisting(path: string): Database | undefined {
  try {
    if (Deno.statSync(path).isDirectory) throw new UsageError(`${path} is a directory, not a database file`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  return openMigrated(path);
}

/** Entry point; returns the exit code. */
export async function main(args: string[], deps: SetupAuthDeps = {}): Promise<number> {
  const { values } = parseFlags(args, {
    env: { type: "string" },
    db: { type: "string" },
    tokens: { type: "string" },
    port: { type: "string" },
    scope: { type: "string" },
    "no-browser": { type: "boolean" },
    code: { type: "string" },
    timeout: { type: "string" },
  });
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  const verbose = values.verbose ? err : () => {};
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const port = intFlag(values.port, "port", DEFAULT_PORT, { min: 0, max: 65535 });
  const timeoutSeconds = intFlag(values.timeout, "timeout", DEFAULT_TIMEOUT_SECONDS, { min: 1 });
  const scope = normalizeScope(values.scope ?? DEFAULT_SCOPE);
  if (scope === "") throw new UsageError("--scope must name at least one scope, e.g. read,activity:read_all");
  const now = deps.now ?? Date.now;

  const config = loadConfig({ envPath: values.env, envPathExplicit: values.env !== undefined, getEnv: deps.getEnv });
  if (!config.clientId || !config.clientSecret) {
    const missing = [!config.clientId && "STRAVA_CLIENT_ID", !config.clientSecret && "STRAVA_CLIENT_SECRET"]
      .filter(Boolean).join(" and ");
    throw new AuthError(
      `${missing} not set: create an API application at ${STRAVA_API_SETTINGS_URL} and put its Client ID and ` +
        `Client Secret in the environment or in ${values.env ?? ".env"}`,
    );
  }
  checkOAuthUrl(config.oauthUrl);
  const oauthConfig = { oauthUrl: config.oauthUrl, clientId: config.clientId, clientSecret: config.clientSecret };

  const tokensPath = values.tokens ?? DEFAULT_TOKENS_PATH;
  try {
    if (Deno.statSync(tokensPath).isDirectory) throw new UsageError(`tokens file ${tokensPath} is a directory`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const dbPath = values.db ?? DEFAULT_DB_PATH;
  // Opened before the browser flow, so a bad --db fails before the user authorizes anything.
  const db = openExisting(dbPath);
  try {
    let authorization: Authorization;
    if (values.code !== undefined) {
      authorization = await finishWithCode(values.code, port, { ...oauthConfig, fetch: deps.fetch }, now);
    } else {
      authorization = await browserFlow({
        oauthConfig: { ...oauthConfig, fetch: deps.fetch },
        port,
        scope,
        timeoutMs: timeoutSeconds * 1000,
        openBrowser: values["no-browser"] ? undefined : (deps.openBrowser ?? openBrowser),
        now,
        out,
        err,
        verbose,
        store: (a) => store(a, db, tokensPath, now),
      });
    }
    if (values.code !== undefined) store(authorization, db, tokensPath, now);
    report(authorization, scope, db ? dbPath : undefined, dbPath, tokensPath, out, err);
    return 0;
  } finally {
    db?.close();
  }
}

/** --code: no server; the state cannot be checked (the run that made it is gone). */
async function finishWithCode(
  value: string,
  port: number,
  oauthConfig: Parameters<typeof exchangeCode>[0],
  now: () => number,
): Promise<Authorization> {
  const result = validateCallback(oauthConfig.oauthUrl, oauthConfig.clientId, codeQuery(value), undefined);
  if (result.kind === "error") throw deniedError(result.error);
  if (result.kind === "invalid") throw new UsageError(`--code: ${result.reason}`);
  const redirectUri = `http://localhost:${port || DEFAULT_PORT}/callback`;
  try {
    return { tokens: await exchangeCode(oauthConfig, result.params, redirectUri, now), scope: result.scope };
  } catch (e) {
    throw exchangeError(e);
  }
}

interface FlowOptions {
  oauthConfig: Parameters<typeof exchangeCode>[0];
  port: number;
  scope: string;
  timeoutMs: number;
  openBrowser?: (url: string) => Promise<boolean>;
  now: () => number;
  out: (line: string) => void;
  err: (line: string) => void;
  verbose: (line: string) => void;
  /** Persists the tokens; runs before the success page is shown. */
  store: (authorization: Authorization) => void;
}

/** The browser flow: callback server, authorize URL, wait for the one redirect carrying our state. */
async function browserFlow(o: FlowOptions): Promise<Authorization> {
  const state = randomState();
  let settle!: { resolve: (a: Authorization) => void; reject: (e: unknown) => void };
  const outcome = new Promise<Authorization>((resolve, reject) => settle = { resolve, reject });
  let done = false;
  let exchanging = false;
  let redirectUri = "";

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname !== "/callback") return page(404, "Not found", "This server only answers Strava's redirect.");
    if (done) return page(410, "Already finished", "This setup_auth.ts run has finished; you can close this tab.");
    const result = validateCallback(o.oauthConfig.oauthUrl, o.oauthConfig.clientId, url.searchParams, state);
    if (result.kind === "invalid") {
      // Not from the authorization this run started (forged, or a stale tab): no exchange, keep waiting.
      o.err(`ignored a request to the callback that does not belong to this run (${result.reason})`);
      return page(
        400,
        "Not this authorization",
        "This address does not match the authorization setup_auth.ts is waiting for. Open the URL it printed.",
      );
    }
    if (result.kind === "error") {
      done = true;
      settle.reject(deniedError(result.error));
      return page(
        403,
        "Authorization denied",
        "strava-backfill was not authorized. Run setup_auth.ts again to retry; you can close this tab.",
      );
    }
    if (exchanging) return page(409, "In progress", "This authorization is already being completed.");
    exchanging = true;
    o.verbose("received the authorization code; exchanging it for tokens");
    try {
      const tokens = await exchangeCode(o.oauthConfig, result.params, redirectUri, o.now);
      const authorization = { tokens, scope: result.scope };
      o.store(authorization);
      done = true;
      settle.resolve(authorization);
      return page(200, "strava-backfill is authorized", "The tokens are saved. You can close this tab.");
    } catch (e) {
      done = true;
      settle.reject(exchangeError(e));
      return page(502, "Authorization failed", "setup_auth.ts could not complete the authorization; see its output.");
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
      oauthUrl: o.oauthConfig.oauthUrl,
      clientId: o.oauthConfig.clientId,
      redirectUri,
      scope: o.scope,
      state,
    }).href;
    o.verbose(`callback server listening on 127.0.0.1:${server.addr.port}`);
    o.out("Open this URL in your browser and authorize strava-backfill:");
    o.out("");
    o.out(`  ${authorizeUrl}`);
    o.out("");
    o.out(`Waiting for Strava to redirect to ${redirectUri} (up to ${describeDuration(o.timeoutMs)})...`);
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
            `no authorization arrived within ${describeDuration(o.timeoutMs)}; run setup_auth.ts again ` +
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

function describeDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? "" : "s"}`;
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

/** Saves the pair in the database (when there is one) and tokens.json; reports what could not be saved. */
function store(authorization: Authorization, db: Database | undefined, tokensPath: string, now: () => number): void {
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

function report(
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

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
