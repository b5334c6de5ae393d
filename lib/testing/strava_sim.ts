/**
 * The project's own Strava: an HTTP server on 127.0.0.1 (and the same handler as an in-process
 * `fetch`) with the endpoints the backfill uses, Strava's OAuth flow, its rate limits and its
 * error bodies, plus fault injection and a request log. Every end-to-end test, benchmark and
 * `deno task demo` runs against it, so its behaviour follows the recorded responses in
 * tests/fixtures/strava wherever they say something (tests/sim_shape_test.ts compares the shapes), and
 * documents its choice where not:
 *
 * - Rate limits count every API request (under /api/v3, or at the root as on the new host), including ones refused with 429 (Strava counts
 *   them, so usage can pass the limit); /oauth requests are not counted but carry the headers.
 * - Endpoints and their answers: sim_api.ts (API), sim_oauth.ts (OAuth), sim_errors.ts (error
 *   bodies); the athlete's data: sim_generator.ts and sim_truth.ts; faults: sim_faults.ts.
 */
import { apiRoute, type ApiWorld, routeApi } from "./sim_api.ts";
import { ENVOY_503, RATE_LIMITED, RESOURCE_NOT_FOUND, SERVER_ERROR } from "./sim_errors.ts";
import { type Fault, FaultQueue, growBody, halveList, SimulatedDrop } from "./sim_faults.ts";
import { SimGenerator } from "./sim_generator.ts";
import { type RequestLogEntry, scrubQuery, type SimAnswer, toJsonText } from "./sim_http.ts";
import { type Consent, type OAuthApp, routeOAuth, tokenBody, type TokenResponse } from "./sim_oauth.ts";
import { type SimLimits, SimRateLimits, type SimUsage } from "./sim_rate.ts";
import { SimTokens } from "./sim_tokens.ts";
import { DEFAULT_SCOPE, type SimActivity, type SimTruth } from "./sim_truth.ts";

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
} from "./sim_truth.ts";
export { DEFAULT_LIMITS, type SimLimits, type SimUsage } from "./sim_rate.ts";
export { EFFORTS_WITHOUT_INCLUDE_ALL } from "./sim_api.ts";
export type { Fault, FaultKind } from "./sim_faults.ts";
export { type RequestLogEntry, toJsonText } from "./sim_http.ts";
export type { Consent, TokenResponse } from "./sim_oauth.ts";

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

/** How a request reached the simulator. */
type Transport = "socket" | "inprocess";

/** A fault as the queue hands it out. */
type QueuedFault = NonNullable<ReturnType<FaultQueue["take"]>>;

/** A simulated Strava for one athlete and one API application. */
export class StravaSimulator {
  /** Every request, in arrival order. */
  readonly requests: RequestLogEntry[] = [];
  /** In-process fetch (no sockets) into the same handler; for URLs of other origins it rejects like a network error. */
  readonly fetch: typeof fetch;
  readonly #options: SimOptions;
  readonly #now: () => number;
  #skew: number;
  readonly #generator: SimGenerator;
  readonly #byId = new Map<bigint, SimActivity>();
  readonly #rate: SimRateLimits;
  readonly #tokens: SimTokens;
  readonly #faults = new FaultQueue();
  readonly #api: ApiWorld;
  readonly #oauth: OAuthApp;
  readonly #closing = new AbortController();
  #consent: Consent = {};
  #moved: { status: 301 | 308; to: string } | null = null;
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #origin = "http://sim.invalid";
  #closed: Promise<void> | null = null;

  private constructor(options: SimOptions) {
    this.#options = options;
    const now = options.now ?? Date.now;
    this.#skew = options.clockSkewMs ?? 0;
    this.#now = () => now() + this.#skew;
    const seed = options.seed ?? 1;
    this.#generator = new SimGenerator({
      seed,
      activities: options.activities ?? 60,
      segments: options.segments ?? 40,
    });
    for (const a of this.#generator.truth.activities) this.#byId.set(a.id, a);
    this.#rate = new SimRateLimits(this.#now, dropUndefined(options.limits), dropUndefined(options.usage));
    this.#tokens = new SimTokens(this.#now, seed, options.accessTokenTtlSeconds ?? 21600);
    this.#api = { tokens: this.#tokens, truth: this.#generator.truth, byId: this.#byId };
    this.#oauth = {
      tokens: this.#tokens,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      callbackDomain: options.callbackDomain,
      scope: options.scope,
      consent: () => this.#consent,
      athleteSummary: () => this.truth.athleteSummary,
    };
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
    this.#faults.add(fault);
  }

  /** Faults queued but not yet delivered. */
  pendingFaults(): number {
    return this.#faults.pending();
  }

  /** Slow answers still waiting (their timers are cleared when the client gives up or the simulator closes). */
  pendingDelays(): number {
    return this.#faults.pendingDelays();
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

  /**
   * The old API base moves: from now on every request under /api/v3 answers `status` with
   * Location `to` + the rest of the path and the query (not counted against the rate limits).
   * The simulator itself serves the API at its root too, so `to` = its origin is a working base.
   */
  moveApi(status: 301 | 308, to: string): void {
    this.#moved = { status, to: to.replace(/\/+$/, "") };
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

  /** Strava changes its limits (headers and enforcement follow at once). */
  setRateLimits(limits: Partial<SimLimits>): void {
    this.#rate.setLimits(limits);
  }

  /** Strava's clock is now `ms` ahead of `now` (negative: behind); Date headers, windows and token expiry follow. */
  setClockSkew(ms: number): void {
    this.#skew = ms;
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

  async #dispatch(req: Request, transport: Transport): Promise<Response> {
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

  async #serve(req: Request, url: URL, entry: RequestLogEntry, transport: Transport): Promise<Response> {
    const route = apiRoute(url.pathname);
    const read = req.method === "GET" || req.method === "HEAD";
    if (this.#moved && route !== null && url.pathname.startsWith("/api/v3")) {
      entry.status = this.#moved.status;
      const location = `${this.#moved.to}${route}${url.search}`;
      return new Response(null, { status: entry.status, headers: { Location: location, ...this.#headers() } });
    }
    if (route !== null && this.#rate.count(read)) return this.#json(entry, 429, RATE_LIMITED);
    const f = this.#faults.take(url.pathname);
    if (!f) return await this.#route(req, url, entry);
    entry.fault = f.kind;
    return this.#failInstead(f, entry, transport, read) ?? await this.#alterAnswer(f, req, url, entry, transport);
  }

  /** A fault that replaces the answer (an error status, a 429, a dropped connection); null for the others. */
  #failInstead(f: QueuedFault, entry: RequestLogEntry, transport: Transport, read: boolean): Response | null {
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
    }
    return null;
  }

  /** A fault that delays or damages the real answer. */
  async #alterAnswer(
    f: QueuedFault,
    req: Request,
    url: URL,
    entry: RequestLogEntry,
    transport: Transport,
  ): Promise<Response> {
    switch (f.kind) {
      case "slow": {
        // req.signal is the only way to see a socket client give up. deno.json opts in to Deno's
        // abort behaviour without the legacy part ("unstable": ["no-legacy-abort"]): the signal
        // aborts only when the client leaves, not after every answer, and Deno prints no notice.
        const outcome = await this.#faults.delay(f.delayMs, [req.signal, this.#closing.signal]);
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
      case "rewrite": {
        const real = await this.#route(req, url, entry);
        return new Response(f.rewrite!(await real.text()), { status: real.status, headers: real.headers });
      }
      case "huge": {
        const real = await this.#route(req, url, entry);
        if (real.status !== 200) return real;
        return new Response(growBody(await real.text(), f.bytes), { status: 200, headers: real.headers });
      }
      case "empty": {
        const real = await this.#route(req, url, entry);
        await real.body?.cancel();
        return new Response("[]", { status: real.status, headers: real.headers });
      }
      case "truncate": {
        const real = await this.#route(req, url, entry);
        return new Response(halveList(await real.text()), { status: real.status, headers: real.headers });
      }
      case "race": {
        const real = await this.#route(req, url, entry);
        f.race!();
        return real;
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
    return await this.#route(req, url, entry);
  }

  /** Headers of every answer: Strava's clock (clients align rate windows with it) and the rate figures. */
  #headers(): Record<string, string> {
    return { Date: new Date(this.#now()).toUTCString(), ...this.#rate.headers() };
  }

  /** A JSON answer with the headers of every answer; records the status in the log entry. */
  #json(entry: RequestLogEntry, status: number, body: unknown): Response {
    entry.status = status;
    return new Response(toJsonText(body), {
      status,
      headers: { "Content-Type": "application/json; charset=utf-8", ...this.#headers() },
    });
  }

  async #route(req: Request, url: URL, entry: RequestLogEntry): Promise<Response> {
    const path = url.pathname;
    let answer: SimAnswer;
    const route = apiRoute(path);
    if (path.startsWith("/oauth/")) answer = await routeOAuth(this.#oauth, req, url, entry);
    else if (route !== null) answer = await routeApi(this.#api, req, url, route, entry);
    else answer = { status: 404, body: RESOURCE_NOT_FOUND };
    if ("location" in answer) {
      entry.status = answer.status;
      return new Response(null, { status: answer.status, headers: { Location: answer.location, ...this.#headers() } });
    }
    return this.#json(entry, answer.status, answer.body);
  }
}

function dropUndefined<T extends object>(value: T | undefined): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value ?? {})) if (v !== undefined) out[k] = v;
  return out as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
