/**
 * The project's own Strava: an HTTP server on 127.0.0.1 (and the same handler as an in-process
 * `fetch`) with the endpoints the backfill uses, Strava's OAuth flow, its rate limits and its
 * error bodies, plus fault injection and a request log. Every end-to-end test, benchmark and
 * `deno task demo` runs against it, so its behaviour follows the recorded responses in
 * /work/shared/fixtures/strava wherever they say something, and documents its choice where not:
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
 * - Rate limits count every /api/v3 request, including ones refused with 429 (Strava counts
 *   them, so usage can pass the limit); /oauth requests are not counted but carry the headers.
 * - POST /oauth/token: wrong client_id answers the recorded 400; a wrong client_secret answers
 *   400 with field "client_secret" (not recorded); a used or unknown code the recorded 400
 *   RequestToken/code/invalid; a dead refresh token 400 RefreshToken/refresh_token/invalid.
 *   Every refresh issues a new refresh token and the old one stops working at once.
 * - A missing Authorization header answers the recorded 401 (resource Application); an unknown,
 *   expired or revoked access token 401 {"resource":"Athlete","field":"access_token","code":"invalid"}.
 */
import { stringify as losslessStringify } from "lossless-json";
import {
  canReadActivities,
  canReadPrivateActivities,
  DEFAULT_SCOPE,
  type Json,
  segmentOutcome,
  type SimActivity,
  SimGenerator,
  type SimTruth,
} from "./sim_data.ts";
import { type SimLimits, SimRateLimits, type SimUsage } from "./sim_rate.ts";
import { type IssuedTokens, SimTokens } from "./sim_tokens.ts";

export {
  DEFAULT_SCOPE,
  EFFORT_ID_BASE,
  type ExpectedBackfill,
  expectedBackfill,
  GENERATION_END,
  type Json,
  type SegmentOutcome,
  segmentOutcome,
  type SimActivity,
  type SimTruth,
} from "./sim_data.ts";
export { DEFAULT_LIMITS, type SimLimits, type SimUsage } from "./sim_rate.ts";

/** Options of the simulator. */
export interface SimOptions {
  /** Deterministic generation (default 1). */
  seed?: number;
  /** Number of activities (default 60). */
  activities?: number;
  /** Size of the segment pool shared between activities (default 40). */
  segments?: number;
  /** Clock for rate windows and token expiry (default Date.now). */
  now?: () => number;
  /** Default 100/1000/200/2000. */
  limits?: { read15?: number; readDay?: number; all15?: number; allDay?: number };
  /** Starting usage in the current window/day (default 0). */
  usage?: { read15?: number; readDay?: number; all15?: number; allDay?: number };
  /** Default "12345" / "sim-secret". */
  clientId?: string;
  clientSecret?: string;
  /** Default 21600 (six hours, like Strava). */
  accessTokenTtlSeconds?: number;
  /**
   * Scope the user lets through at /oauth/authorize (unticking the others). Unset: whatever
   * is requested is granted. `read` is always granted when requested (Strava's form cannot untick it).
   * Also the default scope of issueTokens() (then "read,activity:read_all" when unset).
   */
  scope?: string;
  /**
   * How far Strava's clock is ahead of `now` (ms, may be negative; default 0). Rate windows,
   * token expiry and the Date header follow Strava's clock, as the real server's do.
   */
  clockSkewMs?: number;
  /** Authorization Callback Domain of the app; localhost and 127.0.0.1 are always accepted (default "localhost"). */
  callbackDomain?: string;
}

/** One request as the simulator saw it. Tokens, codes and secrets never appear in it. */
export interface RequestLogEntry {
  method: string;
  /** e.g. "/api/v3/activities/123" */
  path: string;
  /** raw query string without "?", secrets (client_secret, code, refresh_token, access_token) redacted */
  query: string;
  /** status sent; 0 when the connection was dropped or the client gave up first */
  status: number;
  /** when the request arrived (ms, Strava's clock: options.now() + clockSkewMs) */
  at: number;
  /** "token#N" (N-th token pair issued), with ":expired"/":revoked", "token?" for an unknown token, "none" */
  auth?: string;
  /** the injected fault, if any */
  fault?: FaultKind;
}

/** Kinds of injected faults. */
export type FaultKind = "500" | "503" | "slow" | "drop" | "malformed" | "429";

/** A queued fault: the next `times` requests whose path matches get it. */
export interface Fault {
  /** Tested against the path (e.g. /\/segments\//); unset: any request, OAuth included. */
  path?: RegExp;
  /**
   * "500"/"503": that status ("503" with the text body Strava's envoy proxy sends);
   * "slow": the real answer after `delayMs` (abortable by the client; default 60000);
   * "drop": the connection breaks (socket: headers then a body that errors; in-process: fetch
   * rejects with TypeError); "malformed": the real status with the body cut in half;
   * "429": the rest of the 15-minute window is spent (usage jumps past the limit), then 429.
   */
  kind: FaultKind;
  /** default 1 */
  times?: number;
  delayMs?: number;
}

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

/** GET /activities/{id} without include_all_efforts=true returns only this many efforts. */
export const EFFORTS_WITHOUT_INCLUDE_ALL = 3;

const KNOWN_SCOPES = new Set([
  "read",
  "read_all",
  "profile:read_all",
  "profile:write",
  "activity:read",
  "activity:read_all",
  "activity:write",
]);
const SECRET_PARAMS = new Set(["client_secret", "code", "refresh_token", "access_token"]);

const fault = (message: string, resource: string, field: string, code: string): Json => ({
  message,
  errors: [{ resource, field, code }],
});
/** Recorded 401 for a request without a token (error_responses.json 401_authorization_error). */
const AUTH_MISSING = fault("Authorization Error", "Application", "", "invalid");
const TOKEN_INVALID = fault("Authorization Error", "Athlete", "access_token", "invalid");
/** Recorded 401 for a token without activity:read (error_responses.json 401_missing_scope). */
const SCOPE_MISSING = fault("Authorization Error", "AccessToken", "activity:read_permission", "missing");
/** Recorded 429 body (error_responses.json 429_rate_limit_exceeded). */
const RATE_LIMITED = fault("Rate Limit Exceeded", "Application", "rate limit", "exceeded");
const notFound = (resource: string) => fault("Record Not Found", resource, "id", "invalid");
const badRequest = (resource: string, field: string) => fault("Bad Request", resource, field, "invalid");
const SERVER_ERROR: Json = { message: "Internal Server Error", errors: [] };
const ENVOY_503 = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

/** JSON text with bigint written as exact integers (JSON.stringify cannot). */
export function toJsonText(value: unknown): string {
  if (rawJSON) return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? rawJSON(v.toString()) : v);
  return losslessStringify(value) ?? "null";
}

class SimulatedDrop extends Error {
  override name = "SimulatedDrop";
}

/** A simulated Strava for one athlete and one API application. */
export class StravaSimulator {
  /** Every request, in arrival order. */
  readonly requests: RequestLogEntry[] = [];
  /** In-process fetch (no sockets) into the same handler; for URLs of other origins it rejects like a network error. */
  readonly fetch: typeof fetch;
  readonly #options: SimOptions;
  readonly #now: () => number;
  readonly #generator: SimGenerator;
  readonly #byId = new Map<bigint, SimActivity>();
  readonly #rate: SimRateLimits;
  readonly #tokens: SimTokens;
  readonly #faults: { path?: RegExp; kind: FaultKind; remaining: number; delayMs: number }[] = [];
  readonly #closing = new AbortController();
  #consent: Consent = {};
  #pendingDelays = 0;
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #origin = "http://sim.invalid";
  #closed: Promise<void> | null = null;

  private constructor(options: SimOptions) {
    this.#options = options;
    const now = options.now ?? Date.now;
    const skew = options.clockSkewMs ?? 0;
    this.#now = skew === 0 ? now : () => now() + skew;
    const seed = options.seed ?? 1;
    this.#generator = new SimGenerator({
      seed,
      activities: options.activities ?? 60,
      segments: options.segments ?? 40,
    });
    for (const a of this.#generator.truth.activities) this.#byId.set(a.id, a);
    this.#rate = new SimRateLimits(this.#now, dropUndefined(options.limits), dropUndefined(options.usage));
    this.#tokens = new SimTokens(this.#now, seed, options.accessTokenTtlSeconds ?? 21600);
    this.fetch = ((input: RequestInfo | URL, init?: RequestInit) => this.#inProcessFetch(input, init)) as typeof fetch;
  }

  /** Starts the simulator with an HTTP server on 127.0.0.1 at a free port. */
  static start(options: SimOptions = {}): Promise<StravaSimulator> {
    const sim = new StravaSimulator(options);
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError(err) {
        // A simulated drop errors the body stream on purpose; anything else is a simulator bug.
        if (!(err instanceof SimulatedDrop)) console.error("strava simulator:", err);
        return new Response(null, { status: 500 });
      },
    }, (req) => sim.#dispatch(req, "socket"));
    sim.#server = server;
    sim.#origin = `http://127.0.0.1:${server.addr.port}`;
    return Promise.resolve(sim);
  }

  /** A simulator without any socket (origin http://sim.invalid): only `fetch`/`handle` reach it. */
  static inProcess(options: SimOptions = {}): StravaSimulator {
    return new StravaSimulator(options);
  }

  /** Listening port (0 for an in-process simulator). */
  get port(): number {
    return this.#server?.addr.port ?? 0;
  }
  /** "127.0.0.1:PORT", for --allow-net. */
  get host(): string {
    return new URL(this.#origin).host;
  }
  /** http://127.0.0.1:PORT/api/v3 */
  get apiUrl(): string {
    return `${this.#origin}/api/v3`;
  }
  /** http://127.0.0.1:PORT/oauth */
  get oauthUrl(): string {
    return `${this.#origin}/oauth`;
  }
  /** The athlete's data (live: addActivities/deleteActivity change it). */
  get truth(): SimTruth {
    return this.#generator.truth;
  }

  /** Handles one request as the in-process transport does (a dropped connection rejects with TypeError). */
  handle(request: Request): Promise<Response> {
    return this.#dispatch(request, "inprocess");
  }

  /** Issues a token pair directly, as if setup_auth had run (scope default: options.scope or DEFAULT_SCOPE). */
  issueTokens(scope?: string): TokenResponse {
    const issued = this.#tokens.issue(scope ?? this.#options.scope ?? DEFAULT_SCOPE);
    return { ...tokenBody(issued), athlete: this.truth.athleteSummary };
  }

  /** Queues a fault for the next `times` (default 1) requests whose path matches. */
  addFault(fault: Fault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new RangeError("fault times must be a positive integer");
    this.#faults.push({ path: fault.path, kind: fault.kind, remaining: times, delayMs: fault.delayMs ?? 60_000 });
  }

  /** Faults queued but not yet delivered. */
  pendingFaults(): number {
    return this.#faults.reduce((n, f) => n + f.remaining, 0);
  }

  /** Slow answers still waiting (their timers are cleared when the client gives up or the simulator closes). */
  pendingDelays(): number {
    return this.#pendingDelays;
  }

  /** All refresh tokens now answer 400 invalid (the user revoked the app, or Strava reset it). */
  revokeRefreshTokens(): void {
    this.#tokens.revokeRefreshTokens();
  }

  /** All access tokens issued so far now answer 401. */
  revokeAccessTokens(): void {
    this.#tokens.revokeAccessTokens();
  }

  /** Number of refresh tokens that would still be accepted (rotation leaves exactly one per grant chain). */
  validRefreshTokens(): number {
    return this.#tokens.validRefreshTokens();
  }

  /** How the user answers the next authorizations (sticky until changed). */
  setConsent(consent: Consent): void {
    this.#consent = { ...consent };
  }

  /** Rate usage in the current window/day. */
  rateUsage(): SimUsage {
    return this.#rate.usage();
  }

  /** Rate limits in force. */
  rateLimits(): SimLimits {
    return { ...this.#rate.limits };
  }

  /** Overrides usage figures of the current window/day (e.g. another process spent budget). */
  setRateUsage(usage: Partial<SimUsage>): void {
    this.#rate.setUsage(usage);
  }

  /** The athlete uploads `count` newer activities; returns them. */
  addActivities(count: number): SimActivity[] {
    const added = this.#generator.addActivities(count);
    for (const a of added) this.#byId.set(a.id, a);
    return added;
  }

  /** The athlete deletes an activity: 404 from now on, no longer listed. */
  deleteActivity(id: bigint): SimActivity {
    return this.#generator.deleteActivity(id);
  }

  /** Stops the server (pending slow answers are abandoned). Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closing.abort(new Error("simulator closed"));
      this.#closed = this.#server ? this.#server.shutdown() : Promise.resolve();
    }
    return this.#closed;
  }

  /** `await using sim = await StravaSimulator.start()` */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #inProcessFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    request.signal.throwIfAborted();
    if (this.#closing.signal.aborted) {
      throw new TypeError("error sending request: connection refused (simulator closed)");
    }
    const url = new URL(request.url);
    if (url.origin !== this.#origin) {
      throw new TypeError(
        `error sending request for url (${url.origin}): the in-process simulator serves only ${this.#origin}`,
      );
    }
    const response = await this.#dispatch(request, "inprocess");
    const location = response.headers.get("location");
    if (location && response.status >= 300 && response.status < 400 && request.redirect !== "manual") {
      if (request.redirect === "error") throw new TypeError("fetch failed: redirect mode is 'error'");
      // Follow like fetch does: another origin (a callback server) is reached over the network.
      const next = new URL(location, url);
      return next.origin === this.#origin
        ? this.#inProcessFetch(next, { signal: request.signal })
        : fetch(next, { signal: request.signal });
    }
    return response;
  }

  async #dispatch(req: Request, transport: "socket" | "inprocess"): Promise<Response> {
    const url = new URL(req.url);
    const entry: RequestLogEntry = {
      method: req.method,
      path: url.pathname,
      query: scrubQuery(url.search),
      status: 0,
      at: this.#now(),
    };
    this.requests.push(entry);
    try {
      return await this.#serve(req, url, entry, transport);
    } catch (err) {
      if (err instanceof SimulatedDrop || transport === "inprocess") throw err;
      console.error("strava simulator:", err);
      entry.status = 500;
      return new Response("simulator error", { status: 500 });
    }
  }

  async #serve(req: Request, url: URL, entry: RequestLogEntry, transport: "socket" | "inprocess"): Promise<Response> {
    const api = url.pathname === "/api/v3" || url.pathname.startsWith("/api/v3/");
    const read = req.method === "GET" || req.method === "HEAD";
    if (api && this.#rate.count(read)) return this.#json(entry, 429, RATE_LIMITED);

    const f = this.#takeFault(url.pathname);
    if (f) {
      entry.fault = f.kind;
      switch (f.kind) {
        case "500":
          return this.#json(entry, 500, SERVER_ERROR);
        case "503":
          entry.status = 503;
          return new Response(ENVOY_503, {
            status: 503,
            headers: { "Content-Type": "text/plain", Server: "envoy", ...this.#headers() },
          });
        case "429":
          this.#rate.exhaustWindow(read);
          return this.#json(entry, 429, RATE_LIMITED);
        case "drop":
          entry.status = 0;
          if (transport === "inprocess") {
            throw new TypeError("error sending request: connection closed before message completed");
          }
          return new Response(
            new ReadableStream({
              start(controller) {
                controller.error(new SimulatedDrop("connection dropped by fault injection"));
              },
            }),
            { status: 200, headers: { "Content-Type": "application/json; charset=utf-8", ...this.#headers() } },
          );
        case "slow": {
          // Reading req.signal of a served request makes Deno print a one-time notice about its
          // legacy abort behaviour; it is the only way to see the client give up, so only slow faults read it.
          const outcome = await this.#delay(f.delayMs, [req.signal, this.#closing.signal]);
          if (outcome === "aborted") {
            entry.status = 0;
            if (transport === "inprocess") {
              if (req.signal.aborted) throw req.signal.reason;
              throw new TypeError("error sending request: connection closed before message completed");
            }
            return new Response(null, { status: 503 });
          }
          return await this.#route(req, url, entry);
        }
        case "malformed": {
          const real = await this.#route(req, url, entry);
          const text = await real.text();
          return new Response(text.slice(0, Math.floor(text.length / 2)), {
            status: real.status,
            headers: real.headers,
          });
        }
      }
    }
    return await this.#route(req, url, entry);
  }

  #takeFault(path: string): { kind: FaultKind; delayMs: number } | null {
    for (const f of this.#faults) {
      if (f.remaining <= 0) continue;
      if (f.path) {
        f.path.lastIndex = 0;
        if (!f.path.test(path)) continue;
      }
      f.remaining--;
      return f;
    }
    return null;
  }

  #delay(ms: number, signals: AbortSignal[]): Promise<"done" | "aborted"> {
    return new Promise((resolve) => {
      if (signals.some((s) => s.aborted)) return resolve("aborted");
      this.#pendingDelays++;
      const cleanup = () => {
        this.#pendingDelays--;
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        cleanup();
        resolve("aborted");
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve("done");
      }, ms);
      for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Headers of every answer: Strava's clock (clients align rate windows with it) and the rate figures. */
  #headers(): Record<string, string> {
    return { Date: new Date(this.#now()).toUTCString(), ...this.#rate.headers() };
  }

  #json(entry: RequestLogEntry, status: number, body: unknown): Response {
    entry.status = status;
    return new Response(toJsonText(body), {
      status,
      headers: { "Content-Type": "application/json; charset=utf-8", ...this.#headers() },
    });
  }

  async #route(req: Request, url: URL, entry: RequestLogEntry): Promise<Response> {
    const path = url.pathname;
    if (path.startsWith("/oauth/")) return await this.#routeOAuth(req, url, entry);
    if (!path.startsWith("/api/v3/")) return this.#json(entry, 404, { message: "Resource Not Found", errors: [] });

    const header = req.headers.get("authorization");
    const token = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ?? url.searchParams.get("access_token");
    if (!token) {
      entry.auth = "none";
      return this.#json(entry, 401, AUTH_MISSING);
    }
    const check = this.#tokens.check(token);
    entry.auth = check.marker;
    if (check.status !== "ok") return this.#json(entry, 401, TOKEN_INVALID);
    const scope = check.scope;

    const route = path.slice("/api/v3".length);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return this.#json(entry, 404, { message: "Resource Not Found", errors: [] });
    }
    if (route === "/athlete") {
      const detailed = scope.split(/[\s,]+/).includes("profile:read_all");
      return this.#json(entry, 200, detailed ? this.truth.athlete : this.truth.athleteSummary);
    }
    if (route === "/athlete/activities") return this.#listActivities(url, entry, scope);
    let m = route.match(/^\/activities\/([^/]+)$/);
    if (m) return this.#getActivity(m[1], url, entry, scope);
    m = route.match(/^\/segments\/([^/]+)$/);
    if (m) return this.#getSegment(m[1], entry, scope);
    return this.#json(entry, 404, { message: "Resource Not Found", errors: [] });
  }

  #listActivities(url: URL, entry: RequestLogEntry, scope: string): Response {
    if (!canReadActivities(scope)) return this.#json(entry, 401, SCOPE_MISSING);
    const q = url.searchParams;
    const params: Record<string, number | undefined> = {};
    for (const name of ["after", "before", "page", "per_page"]) {
      const text = q.get(name);
      if (text === null || text === "") continue;
      const value = Number(text);
      if (!Number.isFinite(value)) return this.#json(entry, 400, badRequest("Application", name));
      params[name] = value;
    }
    const page = Math.max(1, Math.floor(params.page ?? 1));
    const perPage = Math.min(200, Math.max(1, Math.floor(params.per_page ?? 30)));
    const { after, before } = params;
    const readPrivate = canReadPrivateActivities(scope);
    const visible = this.truth.activities.filter((a) =>
      !a.deleted && (readPrivate || !a.private) &&
      (after === undefined || a.startEpoch > after) && (before === undefined || a.startEpoch < before)
    );
    // truth.activities ascend by start date; Strava answers oldest first only for after-only queries.
    if (!(after !== undefined && before === undefined)) visible.reverse();
    const pageItems = visible.slice((page - 1) * perPage, page * perPage).map((a) => a.summary);
    return this.#json(entry, 200, pageItems);
  }

  #getActivity(idText: string, url: URL, entry: RequestLogEntry, scope: string): Response {
    if (!canReadActivities(scope)) return this.#json(entry, 401, SCOPE_MISSING);
    const activity = /^\d{1,19}$/.test(idText) ? this.#byId.get(BigInt(idText)) : undefined;
    if (!activity || activity.deleted || (activity.private && !canReadPrivateActivities(scope))) {
      return this.#json(entry, 404, notFound("Activity"));
    }
    const all = /^(true|t|1)$/i.test(url.searchParams.get("include_all_efforts") ?? "");
    const efforts = activity.detail.segment_efforts as Json[];
    const body = all || efforts.length <= EFFORTS_WITHOUT_INCLUDE_ALL
      ? activity.detail
      : { ...activity.detail, segment_efforts: efforts.slice(0, EFFORTS_WITHOUT_INCLUDE_ALL) };
    return this.#json(entry, 200, body);
  }

  #getSegment(idText: string, entry: RequestLogEntry, scope: string): Response {
    const id = /^\d{1,19}$/.test(idText) ? BigInt(idText) : -1n;
    const outcome = segmentOutcome(this.truth, id, scope);
    if (outcome === "ok") return this.#json(entry, 200, this.truth.segments.get(id));
    if (outcome === "forbidden") return this.#json(entry, 403, fault("Forbidden", "Segment", "id", "forbidden"));
    return this.#json(entry, 404, notFound("Segment"));
  }

  async #routeOAuth(req: Request, url: URL, entry: RequestLogEntry): Promise<Response> {
    const route = url.pathname.slice("/oauth".length);
    if (route === "/authorize" && req.method === "GET") return this.#authorize(url, entry);
    if (route === "/token" && req.method === "POST") return this.#token(await formParams(req, url), entry);
    if (route === "/deauthorize" && req.method === "POST") {
      const params = await formParams(req, url);
      const token = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)\s*$/i)?.[1] ?? params.get("access_token");
      const check = token ? this.#tokens.check(token) : null;
      entry.auth = check?.marker ?? "none";
      if (!token || check?.status !== "ok") return this.#json(entry, 401, TOKEN_INVALID);
      this.#tokens.revokeAccessTokens();
      this.#tokens.revokeRefreshTokens();
      return this.#json(entry, 200, { access_token: token });
    }
    return this.#json(entry, 404, { message: "Resource Not Found", errors: [] });
  }

  #authorize(url: URL, entry: RequestLogEntry): Response {
    const q = url.searchParams;
    if (q.get("client_id") !== (this.#options.clientId ?? "12345")) {
      return this.#json(entry, 400, badRequest("Application", "client_id"));
    }
    const redirect = parseUrl(q.get("redirect_uri"));
    const domain = this.#options.callbackDomain ?? "localhost";
    const hostOk = redirect !== null &&
      (redirect.hostname === "localhost" || redirect.hostname === "127.0.0.1" || redirect.hostname === domain ||
        redirect.hostname.endsWith(`.${domain}`));
    if (!redirect || !hostOk) return this.#json(entry, 400, badRequest("Application", "redirect_uri"));
    if (q.get("response_type") !== "code") return this.#json(entry, 400, badRequest("Authorize", "response_type"));
    const requested = (q.get("scope") ?? "read").split(/[\s,]+/).filter((s) => s !== "");
    if (requested.length === 0 || requested.some((s) => !KNOWN_SCOPES.has(s))) {
      return this.#json(entry, 400, badRequest("Authorize", "scope"));
    }
    const state = q.get("state") ?? "";
    let query = `state=${encodeURIComponent(state)}`;
    if (this.#consent.deny) {
      query += "&error=access_denied";
    } else {
      const allowed = this.#consent.scope ?? this.#options.scope;
      const allowedSet = allowed === undefined ? null : new Set(allowed.split(/[\s,]+/));
      const granted = [...new Set(requested)].filter((s) => s === "read" || !allowedSet || allowedSet.has(s));
      const scope = granted.join(",");
      // Strava writes the scope list raw (commas and colons are legal in a query).
      query += `&code=${this.#tokens.createCode(scope)}&scope=${scope}`;
    }
    const sep = redirect.search ? "&" : "?";
    entry.status = 302;
    return new Response(null, {
      status: 302,
      headers: { Location: `${redirect.href.replace(/#.*$/, "")}${sep}${query}`, ...this.#headers() },
    });
  }

  #token(params: URLSearchParams, entry: RequestLogEntry): Response {
    if (params.get("client_id") !== (this.#options.clientId ?? "12345")) {
      return this.#json(entry, 400, badRequest("Application", "client_id"));
    }
    if (params.get("client_secret") !== (this.#options.clientSecret ?? "sim-secret")) {
      return this.#json(entry, 400, badRequest("Application", "client_secret"));
    }
    const grant = params.get("grant_type");
    if (grant === "authorization_code") {
      const scope = this.#tokens.redeemCode(params.get("code") ?? "");
      if (scope === null) return this.#json(entry, 400, badRequest("RequestToken", "code"));
      const issued = this.#tokens.issue(scope);
      entry.auth = `token#${issued.seq}`;
      return this.#json(entry, 200, { ...tokenBody(issued), athlete: this.truth.athleteSummary });
    }
    if (grant === "refresh_token") {
      const issued = this.#tokens.refresh(params.get("refresh_token") ?? "");
      if (!issued) return this.#json(entry, 400, badRequest("RefreshToken", "refresh_token"));
      entry.auth = `token#${issued.seq}`;
      return this.#json(entry, 200, tokenBody(issued));
    }
    return this.#json(entry, 400, badRequest("Application", "grant_type"));
  }
}

function tokenBody(issued: IssuedTokens): TokenResponse {
  // Key order of the recorded responses.
  return {
    token_type: "Bearer",
    expires_at: issued.expiresAt,
    expires_in: issued.expiresIn,
    refresh_token: issued.refreshToken,
    access_token: issued.accessToken,
  };
}

function dropUndefined<T extends object>(value: T | undefined): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value ?? {})) if (v !== undefined) out[k] = v;
  return out as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
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

/** The raw query without "?", with the values of secret parameters replaced by "[redacted]". */
function scrubQuery(search: string): string {
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

/** OAuth parameters from the query and a form-encoded, multipart or JSON body (Strava takes all). */
async function formParams(req: Request, url: URL): Promise<URLSearchParams> {
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
