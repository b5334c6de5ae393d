/**
 * HTTP plumbing of the simulator: the request log, what a route answers, JSON text with exact
 * big integers, and OAuth parameters from any body Strava accepts.
 */
import { stringify as losslessStringify } from "lossless-json";
import type { FaultKind } from "./sim_faults.ts";

/** One request as the simulator saw it. Tokens, codes and secrets never appear in it. */
export interface RequestLogEntry {
  method: string;
  /** e.g. "/api/v3/activities/123" */
  path: string;
  /** raw query string without "?", secrets (client_secret, code, refresh_token, access_token, token) redacted */
  query: string;
  /** status sent; 0 when the connection was dropped or the client gave up first */
  status: number;
  /** when the request arrived (ms, Strava's clock: options.now() + clockSkewMs) */
  at: number;
  /** "token#N" (N-th token pair issued), with ":expired"/":revoked", "token?" for an unknown token, "none" */
  auth?: string;
  /** the injected fault, if any */
  fault?: FaultKind;
  /** Set when an access token came as a query or form parameter (Strava refuses those). */
  tokenOutsideHeader?: "query" | "body";
}

/** What a route answers: a JSON body, or a redirect to `location`. The simulator adds the headers. */
export type SimAnswer = { status: number; body: unknown } | { status: 302; location: string };

const SECRET_PARAMS = new Set(["client_secret", "code", "refresh_token", "access_token", "token"]);

const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

/** JSON text with bigint written as exact integers (JSON.stringify cannot). */
export function toJsonText(value: unknown): string {
  if (rawJSON) return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? rawJSON(v.toString()) : v);
  return losslessStringify(value) ?? "null";
}

/** The raw query without "?", with the values of secret parameters replaced by "[redacted]". */
export function scrubQuery(search: string): string {
  if (search.length <= 1) return "";
  return search.slice(1).split("&").map((pair) => {
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    let key = rawKey;
    try {
      key = decodeURIComponent(rawKey.replaceAll("+", " "));
    } catch { /* a malformed escape: keep the raw key */ }
    return SECRET_PARAMS.has(key) ? `${rawKey}=[redacted]` : pair;
  }).join("&");
}

/** The bearer token of an Authorization header, if any. */
export function bearerToken(req: Request): string | undefined {
  return req.headers.get("authorization")?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}

/** The credentials of an `Authorization: Basic` header (RFC 7617), if any. */
export function basicCredentials(req: Request): { id: string; secret: string } | undefined {
  const encoded = req.headers.get("authorization")?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i)?.[1];
  if (!encoded) return undefined;
  let text: string;
  try {
    text = new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  // RFC 6749 2.3.1: the id and secret are form-urlencoded before they are joined.
  const decode = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
  try {
    return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * Where a request carries an access token other than in its Authorization header: a query
 * parameter, or a form field of its body (read from a clone, so the route can still read it).
 */
export async function tokenOutsideHeader(req: Request, url: URL): Promise<"query" | "body" | undefined> {
  if (url.searchParams.has("access_token")) return "query";
  if (!req.body) return undefined;
  const params = await formParams(req.clone(), new URL("http://body.invalid/"));
  return params.has("access_token") ? "body" : undefined;
}

/** OAuth parameters from the query and a form-encoded, multipart or JSON body (Strava takes all). */
export async function formParams(req: Request, url: URL): Promise<URLSearchParams> {
  const params = new URLSearchParams(url.search);
  const type = req.headers.get("content-type") ?? "";
  if (!req.body) return params;
  if (type.includes("multipart/form-data")) {
    for (const [k, v] of await req.formData()) if (typeof v === "string") params.set(k, v);
  } else if (type.includes("application/json")) {
    const text = await req.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body === "object") {
        for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) params.set(k, String(v));
      }
    } catch { /* not JSON: no parameters from the body, the checks below answer 400 */ }
  } else {
    for (const [k, v] of new URLSearchParams(await req.text())) params.set(k, v);
  }
  return params;
}
