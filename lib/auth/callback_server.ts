/**
 * The loopback callback server of the authorization code flow: it listens on 127.0.0.1, prints
 * the authorize URL, waits for the one redirect carrying this run's state, exchanges the code,
 * and shows the browser a page saying how it went. Also maps Strava's refusals (a denied
 * authorization, a used or expired code) to errors the user can act on.
 *
 * Nothing here logs or prints a token, secret or authorization code.
 */
import { AuthError, UsageError } from "../errors.ts";
import {
  buildAuthorizeUrl,
  exchangeCode,
  GrantRejectedError,
  type IssuedTokens,
  randomState,
  validateCallback,
} from "../strava/oauth.ts";

/** The client settings the code exchange needs. */
export type OAuthClient = Parameters<typeof exchangeCode>[0];

/** The outcome of the authorization: tokens and the scope the redirect said was granted. */
export interface Authorization {
  tokens: IssuedTokens;
  /** Granted scopes from the redirect; null when unknown (--code with a bare code). */
  scope: string | null;
}

/** A small HTML page for the browser tab, never cached and never leaking the address as a referrer. */
function callbackPage(status: number, title: string, text: string): Response {
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

/** Options of `browserFlow`. */
interface BrowserFlowOptions {
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

/** Where one wait for the redirect stands; shared by the request handler and the timeout. */
interface Waiting {
  state: string;
  redirectUri: string;
  /** Set once the outcome is settled: later requests get "already finished". */
  done: boolean;
  /** Set while a code is being exchanged: the timeout leaves the outcome to the exchange. */
  exchanging: boolean;
  resolve: (a: Authorization) => void;
  reject: (e: unknown) => void;
}

/** The browser flow: callback server, authorize URL, wait for the one redirect carrying our state. */
export async function browserFlow(o: BrowserFlowOptions): Promise<Authorization> {
  let w!: Waiting;
  const outcome = new Promise<Authorization>((resolve, reject) => {
    w = { state: randomState(), redirectUri: "", done: false, exchanging: false, resolve, reject };
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port: o.port, onListen: () => {} }, (r) => answer(r, o, w));
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${o.port} is already in use; pass --port with a free port`);
    }
    throw e;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    w.redirectUri = `http://localhost:${server.addr.port}/callback`;
    const authorizeUrl = buildAuthorizeUrl({
      oauthUrl: o.client.oauthUrl,
      clientId: o.client.clientId,
      redirectUri: w.redirectUri,
      scope: o.scope,
      state: w.state,
    }).href;
    o.verbose(`callback server listening on 127.0.0.1:${server.addr.port}`);
    printInstructions(o, authorizeUrl, w.redirectUri);
    if (o.openBrowser) {
      const opened = await o.openBrowser(authorizeUrl);
      if (!opened) o.err("could not open a browser; open the URL above yourself");
    }
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A code exchange under way has its own time limit and settles the outcome itself.
        if (w.exchanging) return;
        w.done = true;
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

function printInstructions(o: BrowserFlowOptions, authorizeUrl: string, redirectUri: string): void {
  o.out("Open this URL in your browser and authorize strava-backfill:");
  o.out("");
  o.out(`  ${authorizeUrl}`);
  o.out("");
  o.out(`Waiting for Strava to redirect to ${redirectUri} (up to ${describeWait(o.timeoutMs)})...`);
  o.out(
    "If the browser runs on another machine, the redirect will fail to load there: copy the address it " +
      "ended on and run setup_auth.ts --code 'ADDRESS'.",
  );
}

/** Answers one request to the callback server, settling the wait when it is the redirect. */
async function answer(request: Request, o: BrowserFlowOptions, w: Waiting): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname !== "/callback") {
    return callbackPage(404, "Not found", "This server only answers Strava's redirect.");
  }
  if (w.done) {
    return callbackPage(410, "Already finished", "This setup_auth.ts run has finished; you can close this tab.");
  }
  const result = validateCallback(o.client.oauthUrl, o.client.clientId, url.searchParams, w.state);
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
    w.done = true;
    w.reject(deniedError(result.error));
    return callbackPage(
      403,
      "Authorization denied",
      "strava-backfill was not authorized. Run setup_auth.ts again to retry; you can close this tab.",
    );
  }
  if (w.exchanging) return callbackPage(409, "In progress", "This authorization is already being completed.");
  w.exchanging = true;
  o.verbose("received the authorization code; exchanging it for tokens");
  try {
    const tokens = await exchangeCode(o.client, result.params, w.redirectUri, o.now);
    const authorization = { tokens, scope: result.scope };
    o.store(authorization);
    w.done = true;
    w.resolve(authorization);
    return callbackPage(200, "strava-backfill is authorized", "The tokens are saved. You can close this tab.");
  } catch (e) {
    w.done = true;
    w.reject(exchangeError(e));
    return callbackPage(
      502,
      "Authorization failed",
      "setup_auth.ts could not complete the authorization; see its output.",
    );
  }
}

/**
 * "5 minutes", "1 second": the --timeout as the user typed it, in words. Not formatDuration
 * (lib/time_format.ts), whose "5m 00s" suits a progress line, not a sentence.
 */
function describeWait(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? "" : "s"}`;
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}
