/**
 * Error bodies of the simulated Strava, as recorded in tests/fixtures/strava/error_responses.json
 * where a recording exists (the others follow the same shape and say so).
 */
import type { Json } from "./sim_truth.ts";

/** Strava's error shape: a message and one `{resource, field, code}` entry. */
export function errorBody(message: string, resource: string, field: string, code: string): Json {
  return { message, errors: [{ resource, field, code }] };
}

/** Recorded 401 for a request without a token (401_authorization_error). */
export const AUTH_MISSING = errorBody("Authorization Error", "Application", "", "invalid");
/** 401 for an unknown, expired or revoked access token. */
export const TOKEN_INVALID = errorBody("Authorization Error", "Athlete", "access_token", "invalid");
/**
 * 401 for an access token sent as a query or form parameter: from 2027 Strava takes tokens only
 * in the Authorization header (not recorded; the shape of the other 401s).
 */
export const TOKEN_NOT_IN_HEADER = errorBody("Authorization Error", "Application", "access_token", "not_in_header");
/** 401 of oauth/revoke without valid client credentials in an `Authorization: Basic` header (not recorded). */
export const CLIENT_UNAUTHORIZED = errorBody("Authorization Error", "Application", "client_id", "invalid");
/** Recorded 401 for a token without activity:read (401_missing_scope). */
export const SCOPE_MISSING = errorBody("Authorization Error", "AccessToken", "activity:read_permission", "missing");
/** Recorded 429 body (429_rate_limit_exceeded). */
export const RATE_LIMITED = errorBody("Rate Limit Exceeded", "Application", "rate limit", "exceeded");
/** 404 of a path the API does not have. */
export const RESOURCE_NOT_FOUND: Json = { message: "Resource Not Found", errors: [] };
/** 500 as Strava's application answers it. */
export const SERVER_ERROR: Json = { message: "Internal Server Error", errors: [] };
/** Text body of a 503 from Strava's envoy proxy. */
export const ENVOY_503 =
  "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/** Recorded 404 Record Not Found of an activity or segment. */
export function notFound(resource: string): Json {
  return errorBody("Record Not Found", resource, "id", "invalid");
}

/** 400 Bad Request naming the resource and field (recorded for client_id and code). */
export function badRequest(resource: string, field: string): Json {
  return errorBody("Bad Request", resource, field, "invalid");
}

/** 403 of a private segment (not recorded). */
export function forbidden(resource: string): Json {
  return errorBody("Forbidden", resource, "id", "forbidden");
}
