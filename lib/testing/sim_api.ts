/**
 * The API endpoints the backfill uses, as the simulated Strava answers them:
 *
 * - GET /api/v3/athlete/activities lists ascending by start date when only `after` is given
 *   (what clients observe from Strava), otherwise newest first (as the recorded after+before
 *   listing shows). `after`/`before` are exclusive epoch seconds; per_page defaults to 30 and is
 *   capped at 200. Deleted activities are never listed; "Only Me" ones only with activity:read_all.
 * - GET /api/v3/activities/{id} of an "Only Me" activity without activity:read_all answers 404
 *   Record Not Found: Strava hides such activities from the token rather than admitting they
 *   exist. A token without activity:read at all gets the recorded 401 with field
 *   "activity:read_permission" code "missing". Without include_all_efforts=true only the first
 *   EFFORTS_WITHOUT_INCLUDE_ALL efforts are returned, so a client that forgets the flag is caught.
 * - GET /api/v3/segments/{id}: removed segments answer 404 Record Not Found; private segments
 *   answer 403 Forbidden unless the token has scope `read_all` (the 403 body is not recorded).
 * - A missing Authorization header answers the recorded 401 (resource Application); an unknown,
 *   expired or revoked access token 401 {"resource":"Athlete","field":"access_token","code":"invalid"}.
 *   An access token as a query or form parameter answers 401 (TOKEN_NOT_IN_HEADER) even with a
 *   valid header beside it, as Strava will from 2027; the log entry says where it was.
 * - The same routes answer under /api/v3 (www.strava.com) and at the root (api-v3.strava.com).
 */
import {
  AUTH_MISSING,
  badRequest,
  forbidden,
  notFound,
  RESOURCE_NOT_FOUND,
  SCOPE_MISSING,
  TOKEN_INVALID,
  TOKEN_NOT_IN_HEADER,
} from "./sim_errors.ts";
import { bearerToken, type RequestLogEntry, type SimAnswer, tokenOutsideHeader } from "./sim_http.ts";
import type { SimTokens } from "./sim_tokens.ts";
import {
  canReadActivities,
  canReadPrivateActivities,
  type Json,
  segmentOutcome,
  type SimActivity,
  type SimTruth,
} from "./sim_truth.ts";

/** GET /activities/{id} without include_all_efforts=true returns only this many efforts. */
export const EFFORTS_WITHOUT_INCLUDE_ALL = 3;

/** What the API routes read: the athlete's data and the tokens issued. */
export interface ApiWorld {
  tokens: SimTokens;
  truth: SimTruth;
  /** Every activity by id (deleted ones included). */
  byId: Map<bigint, SimActivity>;
}

/** The API route of a path: under /api/v3 (the old host's layout) or at the root (the new host's); else null. */
export function apiRoute(path: string): string | null {
  if (path === "/api/v3" || path.startsWith("/api/v3/")) return path.slice("/api/v3".length);
  return /^\/(athlete|activities|segments)(\/|$)/.test(path) ? path : null;
}

/** Answers the API request for `route` (apiRoute of its path; the rate limits were counted before). */
export async function routeApi(
  world: ApiWorld,
  req: Request,
  url: URL,
  route: string,
  entry: RequestLogEntry,
): Promise<SimAnswer> {
  const outside = await tokenOutsideHeader(req, url);
  if (outside) {
    entry.tokenOutsideHeader = outside;
    entry.auth = "none";
    return { status: 401, body: TOKEN_NOT_IN_HEADER };
  }
  const token = bearerToken(req);
  if (!token) {
    entry.auth = "none";
    return { status: 401, body: AUTH_MISSING };
  }
  const check = world.tokens.check(token);
  entry.auth = check.marker;
  if (check.status !== "ok") return { status: 401, body: TOKEN_INVALID };
  const scope = check.scope;

  if (req.method !== "GET" && req.method !== "HEAD") return { status: 404, body: RESOURCE_NOT_FOUND };
  if (route === "/athlete") {
    const detailed = scope.split(/[\s,]+/).includes("profile:read_all");
    return { status: 200, body: detailed ? world.truth.athlete : world.truth.athleteSummary };
  }
  if (route === "/athlete/activities") return listActivities(world.truth, url, scope);
  let m = route.match(/^\/activities\/([^/]+)$/);
  if (m) return getActivity(world.byId, m[1], url, scope);
  m = route.match(/^\/segments\/([^/]+)$/);
  if (m) return getSegment(world.truth, m[1], scope);
  return { status: 404, body: RESOURCE_NOT_FOUND };
}

function listActivities(truth: SimTruth, url: URL, scope: string): SimAnswer {
  if (!canReadActivities(scope)) return { status: 401, body: SCOPE_MISSING };
  const q = url.searchParams;
  const params: Record<string, number | undefined> = {};
  for (const name of ["after", "before", "page", "per_page"]) {
    const text = q.get(name);
    if (text === null || text === "") continue;
    const value = Number(text);
    if (!Number.isFinite(value)) return { status: 400, body: badRequest("Application", name) };
    params[name] = value;
  }
  const page = Math.max(1, Math.floor(params.page ?? 1));
  const perPage = Math.min(200, Math.max(1, Math.floor(params.per_page ?? 30)));
  const { after, before } = params;
  const readPrivate = canReadPrivateActivities(scope);
  const visible = truth.activities.filter((a) =>
    !a.deleted && (readPrivate || !a.private) &&
    (after === undefined || a.startEpoch > after) && (before === undefined || a.startEpoch < before)
  );
  // truth.activities ascend by start date; Strava answers oldest first only for after-only queries.
  if (!(after !== undefined && before === undefined)) visible.reverse();
  return { status: 200, body: visible.slice((page - 1) * perPage, page * perPage).map((a) => a.summary) };
}

function getActivity(byId: Map<bigint, SimActivity>, idText: string, url: URL, scope: string): SimAnswer {
  if (!canReadActivities(scope)) return { status: 401, body: SCOPE_MISSING };
  const activity = /^\d{1,19}$/.test(idText) ? byId.get(BigInt(idText)) : undefined;
  if (!activity || activity.deleted || (activity.private && !canReadPrivateActivities(scope))) {
    return { status: 404, body: notFound("Activity") };
  }
  const all = /^(true|t|1)$/i.test(url.searchParams.get("include_all_efforts") ?? "");
  const efforts = activity.detail.segment_efforts as Json[];
  const body = all || efforts.length <= EFFORTS_WITHOUT_INCLUDE_ALL
    ? activity.detail
    : { ...activity.detail, segment_efforts: efforts.slice(0, EFFORTS_WITHOUT_INCLUDE_ALL) };
  return { status: 200, body };
}

function getSegment(truth: SimTruth, idText: string, scope: string): SimAnswer {
  const id = /^\d{1,19}$/.test(idText) ? BigInt(idText) : -1n;
  const outcome = segmentOutcome(truth, id, scope);
  if (outcome === "ok") return { status: 200, body: truth.segments.get(id) };
  if (outcome === "forbidden") return { status: 403, body: forbidden("Segment") };
  return { status: 404, body: notFound("Segment") };
}
