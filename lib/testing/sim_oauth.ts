/**
 * Strava's OAuth endpoints in the simulator: /oauth/authorize (consent, redirect with a code),
 * /oauth/token (code grant and refresh rotation), /oauth/revoke and /oauth/deauthorize.
 *
 * POST /oauth/token: wrong client_id answers the recorded 400; a wrong client_secret answers 400
 * with field "client_secret" (not recorded); a used or unknown code the recorded 400
 * RequestToken/code/invalid; a dead refresh token 400 RefreshToken/refresh_token/invalid. Every
 * refresh issues a new refresh token and the old one stops working at once.
 *
 * POST /oauth/revoke (Strava's interface of June 2026): the client id and secret in an
 * `Authorization: Basic` header, else 401 (CLIENT_UNAUTHORIZED); form field `token`, an access
 * or a refresh token, and an optional `token_type_hint`. Revoking either token of a pair revokes
 * the other: 200 `{}`. An unknown, expired or already revoked token answers 400
 * Token/token/invalid (Strava's answer to that is not recorded; RFC 7009 would say 200, and the
 * tool reads both as "already invalid"). A token in the query string is refused with 400.
 * POST /oauth/deauthorize (retired 1 June 2027) takes the access token in the header only.
 */
import {
  badRequest,
  CLIENT_UNAUTHORIZED,
  RESOURCE_NOT_FOUND,
  TOKEN_INVALID,
  TOKEN_NOT_IN_HEADER,
} from "./sim_errors.ts";
import {
  basicCredentials,
  bearerToken,
  formParams,
  type RequestLogEntry,
  type SimAnswer,
  tokenOutsideHeader,
} from "./sim_http.ts";
import type { IssuedTokens, SimTokens } from "./sim_tokens.ts";
import type { Json } from "./sim_truth.ts";

/** A token response, shaped like Strava's (the refresh answer has no athlete). */
export interface TokenResponse {
  token_type: "Bearer";
  access_token: string;
  refresh_token: string;
  expires_at: number;
  expires_in: number;
  athlete?: Json;
}

/** How the next /oauth/authorize consent goes. */
export interface Consent {
  /** Scopes the user leaves ticked (unset: all requested). */
  scope?: string;
  /** The user clicks "Cancel": redirect with error=access_denied. */
  deny?: boolean;
}

/** The API application and the user's answers, as the OAuth routes see them. */
export interface OAuthApp {
  tokens: SimTokens;
  /** Default "12345" / "sim-secret". */
  clientId?: string;
  clientSecret?: string;
  /** Authorization Callback Domain; localhost and 127.0.0.1 are always accepted (default "localhost"). */
  callbackDomain?: string;
  /** Scope the user lets through when no consent says otherwise (unset: all requested). */
  scope?: string;
  consent(): Consent;
  athleteSummary(): Json;
}

const KNOWN_SCOPES = new Set([
  "read",
  "read_all",
  "profile:read_all",
  "profile:write",
  "activity:read",
  "activity:read_all",
  "activity:write",
]);

/** The body of a token response for `issued`, keys in the recorded order. */
export function tokenBody(issued: IssuedTokens): TokenResponse {
  return {
    token_type: "Bearer",
    expires_at: issued.expiresAt,
    expires_in: issued.expiresIn,
    refresh_token: issued.refreshToken,
    access_token: issued.accessToken,
  };
}

/** Answers a request under /oauth/. */
export async function routeOAuth(app: OAuthApp, req: Request, url: URL, entry: RequestLogEntry): Promise<SimAnswer> {
  const route = url.pathname.slice("/oauth".length);
  if (route === "/authorize" && req.method === "GET") return authorize(app, url);
  if (route === "/token" && req.method === "POST") return token(app, await formParams(req, url), entry);
  if (route === "/revoke" && req.method === "POST") return revoke(app, req, url, entry);
  if (route === "/deauthorize" && req.method === "POST") {
    const outside = await tokenOutsideHeader(req, url);
    if (outside) {
      entry.tokenOutsideHeader = outside;
      return { status: 401, body: TOKEN_NOT_IN_HEADER };
    }
    const token = bearerToken(req);
    const check = token ? app.tokens.check(token) : null;
    entry.auth = check?.marker ?? "none";
    if (!token || check?.status !== "ok") return { status: 401, body: TOKEN_INVALID };
    app.tokens.revokeAccessTokens();
    app.tokens.revokeRefreshTokens();
    return { status: 200, body: { access_token: token } };
  }
  return { status: 404, body: RESOURCE_NOT_FOUND };
}

async function revoke(app: OAuthApp, req: Request, url: URL, entry: RequestLogEntry): Promise<SimAnswer> {
  const client = basicCredentials(req);
  if (!client || client.id !== (app.clientId ?? "12345") || client.secret !== (app.clientSecret ?? "sim-secret")) {
    entry.auth = client ? "basic?" : "none";
    return { status: 401, body: CLIENT_UNAUTHORIZED };
  }
  entry.auth = "basic";
  if (url.searchParams.has("token")) return { status: 400, body: badRequest("Token", "token") };
  const params = await formParams(req, new URL("http://body.invalid/"));
  const token = params.get("token");
  if (!token) {
    return {
      status: 400,
      body: { message: "Bad Request", errors: [{ resource: "Token", field: "token", code: "missing" }] },
    };
  }
  const hint = params.get("token_type_hint");
  if (hint !== null && hint !== "access_token" && hint !== "refresh_token") {
    return { status: 400, body: badRequest("Token", "token_type_hint") };
  }
  const result = app.tokens.revoke(token);
  if (result.status === "invalid") return { status: 400, body: badRequest("Token", "token") };
  entry.auth = `basic:token#${result.seq}`;
  return { status: 200, body: {} };
}

function authorize(app: OAuthApp, url: URL): SimAnswer {
  const q = url.searchParams;
  if (q.get("client_id") !== (app.clientId ?? "12345")) {
    return { status: 400, body: badRequest("Application", "client_id") };
  }
  const redirect = parseUrl(q.get("redirect_uri"));
  const domain = app.callbackDomain ?? "localhost";
  const hostOk = redirect !== null &&
    (redirect.hostname === "localhost" || redirect.hostname === "127.0.0.1" || redirect.hostname === domain ||
      redirect.hostname.endsWith(`.${domain}`));
  if (!redirect || !hostOk) return { status: 400, body: badRequest("Application", "redirect_uri") };
  if (q.get("response_type") !== "code") return { status: 400, body: badRequest("Authorize", "response_type") };
  const requested = (q.get("scope") ?? "read").split(/[\s,]+/).filter((s) => s !== "");
  if (requested.length === 0 || requested.some((s) => !KNOWN_SCOPES.has(s))) {
    return { status: 400, body: badRequest("Authorize", "scope") };
  }
  const state = q.get("state") ?? "";
  let query = `state=${encodeURIComponent(state)}`;
  const consent = app.consent();
  if (consent.deny) {
    query += "&error=access_denied";
  } else {
    const allowed = consent.scope ?? app.scope;
    const allowedSet = allowed === undefined ? null : new Set(allowed.split(/[\s,]+/));
    const granted = [...new Set(requested)].filter((s) => s === "read" || !allowedSet || allowedSet.has(s));
    const scope = granted.join(",");
    // Strava writes the scope list raw (commas and colons are legal in a query).
    query += `&code=${app.tokens.createCode(scope)}&scope=${scope}`;
  }
  const sep = redirect.search ? "&" : "?";
  return { status: 302, location: `${redirect.href.replace(/#.*$/, "")}${sep}${query}` };
}

function token(app: OAuthApp, params: URLSearchParams, entry: RequestLogEntry): SimAnswer {
  if (params.get("client_id") !== (app.clientId ?? "12345")) {
    return { status: 400, body: badRequest("Application", "client_id") };
  }
  if (params.get("client_secret") !== (app.clientSecret ?? "sim-secret")) {
    return { status: 400, body: badRequest("Application", "client_secret") };
  }
  const grant = params.get("grant_type");
  if (grant === "authorization_code") {
    const scope = app.tokens.redeemCode(params.get("code") ?? "");
    if (scope === null) return { status: 400, body: badRequest("RequestToken", "code") };
    const issued = app.tokens.issue(scope);
    entry.auth = `token#${issued.seq}`;
    return { status: 200, body: { ...tokenBody(issued), athlete: app.athleteSummary() } };
  }
  if (grant === "refresh_token") {
    const issued = app.tokens.refresh(params.get("refresh_token") ?? "");
    if (!issued) return { status: 400, body: badRequest("RefreshToken", "refresh_token") };
    entry.auth = `token#${issued.seq}`;
    return { status: 200, body: tokenBody(issued) };
  }
  return { status: 400, body: badRequest("Application", "grant_type") };
}

function parseUrl(text: string | null): URL | null {
  if (!text) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}
