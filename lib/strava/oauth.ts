/**
 * Strava's OAuth 2.0 endpoints through oauth4webapi: the authorize URL, the authorization-code
 * exchange, the refresh-token grant and the revocation of a grant (oauth/revoke).
 *
 * Strava is not OpenID Connect (no discovery document, no id_token), so the authorization server
 * is described by hand. Its token endpoint authenticates clients with client_secret_post, its
 * revocation endpoint with HTTP Basic (client_secret_basic); it separates scopes with commas,
 * answers the code exchange with an extra `athlete` object and the refresh grant without one.
 *
 * Every error thrown here is one of ours (AuthError, RuntimeError, UsageError) with a message that
 * never contains a token, a secret or an authorization code: oauth4webapi's own errors carry the
 * response body (tokens included) in their `cause`, so they are never passed on.
 */
import * as oauth from "oauth4webapi";
import { checkServiceUrl } from "../config.ts";
import { AuthError, InterruptedError, RuntimeError, UsageError } from "../errors.ts";

/** Where Strava's client id and secret come from (shown in error messages). */
export const STRAVA_API_SETTINGS_URL = "https://www.strava.com/settings/api";

/** Default scopes requested by setup_auth (docs/contract.md). */
export const DEFAULT_SCOPE = "read,activity:read_all";

/** Default time limit of one request to the token endpoint. */
const DEFAULT_OAUTH_TIMEOUT_MS = 30_000;

/** The application's credentials and the OAuth base URL (STRAVA_OAUTH_URL). */
interface OAuthClientConfig {
  oauthUrl: string;
  clientId: string;
  clientSecret: string;
  /** Injected fetch (tests); default the global fetch. */
  fetch?: typeof fetch;
  /** Per-request time limit in ms (default 30 s). */
  timeoutMs?: number;
  /** SIGINT/SIGTERM: aborts the token request; the grant then rejects with InterruptedError. */
  signal?: AbortSignal;
}

/** A token pair as Strava issues it. `athleteId` only comes with the code exchange. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Access token expiry, Unix seconds. */
  expiresAt: number;
  athleteId?: bigint;
  /** The athlete's display name when Strava sent it (code exchange only). */
  athleteName?: string;
}

/**
 * The token endpoint refused (HTTP 400/401). `rejected` says what it refused: the grant (a bad,
 * used or expired code; a revoked or already rotated refresh token) or the client (wrong
 * STRAVA_CLIENT_ID / STRAVA_CLIENT_SECRET), as told by the `errors[].field` of Strava's body.
 */
export class GrantRejectedError extends AuthError {
  override name = "GrantRejectedError";
  /** `status`: HTTP status of the refusal; `rejected`: what was refused. */
  constructor(message: string, readonly status: number, readonly rejected: "grant" | "client") {
    super(message);
  }
}

/** The `errors[]` entries (Strava) and `error` (RFC 6749) of a 400/401 body; nothing when it is not JSON. */
function errorsOf(body: string): { error?: unknown; errors: { resource?: unknown; field?: unknown }[] } {
  try {
    const json = JSON.parse(body);
    const errors = Array.isArray(json?.errors) ? json.errors : [];
    return { error: json?.error, errors: errors.filter((e: unknown) => e !== null && typeof e === "object") };
  } catch {
    return { errors: [] };
  }
}

/** Whether a 400/401 body of Strava blames the application (client_id/client_secret), not the grant. */
export function blamesClient(body: string): boolean {
  return errorsOf(body).errors.some((e) => /^client_(id|secret)$/.test(String(e.field ?? "")));
}

/**
 * Whether a 400/401 body says the token is the problem: Strava's `errors[].field` "token" (or a
 * Token resource), or an RFC 6749 error `invalid_token` / `invalid_grant`.
 */
function blamesToken(body: string): boolean {
  const { error, errors } = errorsOf(body);
  if (error === "invalid_token" || error === "invalid_grant") return true;
  return errors.some((e) => e.field === "token" || /Token$/.test(String(e.resource ?? "")));
}

/** Checks STRAVA_OAUTH_URL as every service URL is checked: https anywhere, http only on loopback. */
export function checkOAuthUrl(oauthUrl: string): URL {
  return new URL(checkServiceUrl("STRAVA_OAUTH_URL", oauthUrl));
}

/** The hand-built authorization server description of Strava (no discovery). */
function stravaAuthorizationServer(oauthUrl: string): oauth.AuthorizationServer {
  const base = oauthUrl.replace(/\/+$/, "");
  return {
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    revocation_endpoint: `${base}/revoke`,
  };
}

/** Parameters of the authorize URL. */
interface AuthorizeUrlParams {
  oauthUrl: string;
  clientId: string;
  redirectUri: string;
  /** Comma-separated Strava scopes. */
  scope: string;
  state: string;
}

/** The URL the user opens to grant access (`approval_prompt=auto` skips the prompt when already granted). */
export function buildAuthorizeUrl(params: AuthorizeUrlParams): URL {
  const url = new URL(stravaAuthorizationServer(params.oauthUrl).authorization_endpoint!);
  url.searchParams.set("client_id", params.clientId);
  url.searchParams.set("redirect_uri", params.redirectUri);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("approval_prompt", "auto");
  url.searchParams.set("scope", params.scope);
  url.searchParams.set("state", params.state);
  return url;
}

/** A fresh random `state` for one authorization attempt. */
export function randomState(): string {
  return oauth.generateRandomState();
}

/** Normalises a scope list: trims, drops empties and duplicates, joins with commas (Strava's separator). */
export function normalizeScope(scope: string): string {
  const parts = scope.split(/[,\s]+/).map((s) => s.trim()).filter((s) => s !== "");
  return [...new Set(parts)].join(",");
}

/** The scopes of a comma- (or space-) separated list. */
export function scopeSet(scope: string | null | undefined): Set<string> {
  return new Set(normalizeScope(scope ?? "").split(",").filter((s) => s !== ""));
}

/** What the redirect to the callback carried, once its state has been checked. */
type CallbackResult =
  | { kind: "code"; params: URLSearchParams; scope: string | null }
  | { kind: "error"; error: string; description?: string }
  | { kind: "invalid"; reason: string };

/**
 * Validates the redirect's query (`expectedState` undefined skips the state check, for --code).
 * A missing or wrong state is "invalid": the caller must not exchange anything.
 */
export function validateCallback(
  oauthUrl: string,
  clientId: string,
  query: URLSearchParams,
  expectedState: string | undefined,
): CallbackResult {
  const as = stravaAuthorizationServer(oauthUrl);
  try {
    const params = oauth.validateAuthResponse(
      as,
      { client_id: clientId },
      query,
      expectedState ?? oauth.skipStateCheck,
    );
    if (!params.get("code")) return { kind: "invalid", reason: "no authorization code" };
    return { kind: "code", params, scope: query.get("scope") };
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      return { kind: "error", error: err.error, description: err.error_description };
    }
    if (err instanceof oauth.OperationProcessingError) {
      // The library's messages name the failed check ("state" missing/unexpected), never its values.
      return { kind: "invalid", reason: err.message };
    }
    throw err;
  }
}

function requestOptions(config: OAuthClientConfig, signal: AbortSignal): oauth.TokenEndpointRequestOptions {
  const options: oauth.TokenEndpointRequestOptions = { signal };
  const fetchImpl = config.fetch;
  if (fetchImpl) {
    options[oauth.customFetch] = (url, init) => fetchImpl(url, init as RequestInit);
    // An injected transport (the in-process simulator) never touches the network.
    if (new URL(config.oauthUrl).protocol === "http:") options[oauth.allowInsecureRequests] = true;
  } else if (checkOAuthUrl(config.oauthUrl).protocol === "http:") {
    options[oauth.allowInsecureRequests] = true;
  }
  return options;
}

/** Reads the Strava-specific fields oauth4webapi leaves alone. */
function toIssued(body: oauth.TokenEndpointResponse, now: () => number): IssuedTokens {
  if (typeof body.refresh_token !== "string" || body.refresh_token === "") {
    throw new RuntimeError("Strava's token endpoint answered without a refresh token; try again later");
  }
  const expiresAt = typeof body.expires_at === "number"
    ? body.expires_at
    : typeof body.expires_in === "number"
    ? Math.floor(now() / 1000) + body.expires_in
    : NaN;
  if (!Number.isFinite(expiresAt)) {
    throw new RuntimeError("Strava's token endpoint answered without an expiry (expires_at); try again later");
  }
  const issued: IssuedTokens = { accessToken: body.access_token, refreshToken: body.refresh_token, expiresAt };
  const athlete = body.athlete as Record<string, unknown> | undefined;
  if (athlete && (typeof athlete.id === "number" || typeof athlete.id === "string" || typeof athlete.id === "bigint")) {
    try {
      issued.athleteId = BigInt(athlete.id);
    } catch {
      // a malformed id is not worth failing the authorization for; it is only informative
    }
    const name = [athlete.firstname, athlete.lastname].filter((s) => typeof s === "string" && s !== "").join(" ");
    if (name) issued.athleteName = name;
  }
  return issued;
}

/**
 * Sends one grant (`send`, with oauth4webapi's request options) and interprets the answer
 * (`process`, oauth4webapi's checks). `what` names the grant in messages ("authorization code",
 * "refresh token"); 400/401 become GrantRejectedError.
 */
async function grant(
  config: OAuthClientConfig,
  what: string,
  now: () => number,
  send: (options: oauth.TokenEndpointRequestOptions) => Promise<Response>,
  process: (response: Response) => Promise<oauth.TokenEndpointResponse>,
): Promise<IssuedTokens> {
  return await callEndpoint(config, "token", (signal) => send(requestOptions(config, signal)), async (response) => {
    const status = response.status;
    if (status === 400 || status === 401) {
      const body = await response.text().catch(() => "");
      if (blamesClient(body)) throw clientRejected(status);
      throw new GrantRejectedError(`Strava rejected the ${what} (HTTP ${status})`, status, "grant");
    }
    if (status !== 200) {
      throw new RuntimeError(`Strava's token endpoint answered HTTP ${status} to the ${what}; try again later`);
    }
    try {
      return toIssued(await process(response), now);
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      // oauth4webapi's message says which check failed; its cause (the body, with tokens) is dropped.
      const why = err instanceof Error ? err.message : String(err);
      throw new RuntimeError(`Strava's token endpoint sent an unexpected answer to the ${what}: ${why}`);
    }
  });
}

/**
 * One request to an OAuth endpoint (`endpoint`: "token", "revoke") with its timeout and the
 * caller's signal; `handle` reads the answer, whose body is released afterwards either way.
 * No answer is a RuntimeError naming the host; a signal is an InterruptedError.
 */
async function callEndpoint<T>(
  config: OAuthClientConfig,
  endpoint: string,
  send: (signal: AbortSignal) => Promise<Response>,
  handle: (response: Response) => Promise<T>,
): Promise<T> {
  const host = new URL(config.oauthUrl).host;
  const controller = new AbortController();
  const timeoutMs = config.timeoutMs ?? DEFAULT_OAUTH_TIMEOUT_MS;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const signal = config.signal ? AbortSignal.any([controller.signal, config.signal]) : controller.signal;
  let response: Response | undefined;
  try {
    if (config.signal?.aborted) throw new InterruptedError();
    try {
      response = await send(signal);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (config.signal?.aborted) throw new InterruptedError();
      const why = controller.signal.aborted ? `no answer within ${Math.round(timeoutMs / 1000)} s` : describe(err);
      throw new RuntimeError(`could not reach Strava's ${endpoint} endpoint at ${host} (${why}); try again later`);
    }
    return await handle(response);
  } finally {
    clearTimeout(timer);
    if (response && !response.bodyUsed) await response.body?.cancel().catch(() => {});
  }
}

/** Strava refused the application's own credentials: the user must fix STRAVA_CLIENT_ID/SECRET. */
function clientRejected(status: number): GrantRejectedError {
  return new GrantRejectedError(
    `Strava rejected the application's credentials (HTTP ${status}): check STRAVA_CLIENT_ID and ` +
      `STRAVA_CLIENT_SECRET against ${STRAVA_API_SETTINGS_URL}`,
    status,
    "client",
  );
}

/** A network error's message without any URL query or body (there are none with secrets, but be safe). */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0].slice(0, 200);
}

/**
 * Exchanges an authorization code for tokens. `params` is the validated callback query
 * (from `validateCallback`). 400/401 (bad, used or expired code; wrong client) -> GrantRejectedError.
 */
export function exchangeCode(
  config: OAuthClientConfig,
  params: URLSearchParams,
  redirectUri: string,
  now: () => number = Date.now,
): Promise<IssuedTokens> {
  const as = stravaAuthorizationServer(config.oauthUrl);
  const client = { client_id: config.clientId };
  const secret = oauth.ClientSecretPost(config.clientSecret);
  return grant(
    config,
    "authorization code",
    now,
    (options) => oauth.authorizationCodeGrantRequest(as, client, secret, params, redirectUri, oauth.nopkce, options),
    (response) => oauth.processAuthorizationCodeResponse(as, client, response),
  );
}

/**
 * Trades a refresh token for a new pair. Strava rotates: once this resolves, `refreshToken`
 * is dead, so the caller must persist the answer before anything else.
 * 400/401 (revoked, already used, wrong client) -> GrantRejectedError.
 */
export function refreshTokens(
  config: OAuthClientConfig,
  refreshToken: string,
  now: () => number = Date.now,
): Promise<IssuedTokens> {
  const as = stravaAuthorizationServer(config.oauthUrl);
  const client = { client_id: config.clientId };
  return grant(
    config,
    "refresh token",
    now,
    (options) =>
      oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretPost(config.clientSecret), refreshToken, options),
    (response) => oauth.processRefreshTokenResponse(as, client, response),
  );
}

/** What oauth/revoke said: the grant is revoked now, or the token was already invalid. */
export type RevokeOutcome = "revoked" | "already_invalid";

/**
 * Revokes a grant at oauth/revoke: the client id and secret by HTTP Basic, the token (a refresh
 * token, or an access token when that is all there is) as the form field `token`. Revoking
 * either token of a pair revokes the other. A 400/401 that blames the token (unknown, expired,
 * revoked) is "already_invalid"; one that blames the client is GrantRejectedError("client").
 */
export async function revokeToken(
  config: OAuthClientConfig,
  token: string,
  hint: "refresh_token" | "access_token",
): Promise<RevokeOutcome> {
  const as = stravaAuthorizationServer(config.oauthUrl);
  const send = (signal: AbortSignal) =>
    oauth.revocationRequest(
      as,
      { client_id: config.clientId },
      oauth.ClientSecretBasic(config.clientSecret),
      token,
      { ...requestOptions(config, signal), additionalParameters: { token_type_hint: hint } },
    );
  return await callEndpoint(config, "revoke", send, async (response) => {
    const status = response.status;
    if (status >= 200 && status < 300) return "revoked";
    if (status === 400 || status === 401) {
      const body = await response.text().catch(() => "");
      // Only an answer that names the token says it is dead; anything else keeps the local tokens.
      if (!blamesClient(body) && blamesToken(body)) return "already_invalid";
      if (status === 401 || blamesClient(body)) throw clientRejected(status);
    }
    throw new RuntimeError(`Strava's revoke endpoint answered HTTP ${status}; try again later`);
  });
}
