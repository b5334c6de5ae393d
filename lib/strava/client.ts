/**
 * A typed client for the few Strava reads the tool needs.
 *
 * Every request first asks the rate limiter (a refusal sends nothing), carries a Bearer token
 * from a TokenProvider, has a timeout, and has its body read or cancelled. Failures come back
 * as errors typed by what the caller should do: settle the record (NotFound, Forbidden), stop or
 * wait (RateLimited), try again later (Transient, after bounded retries here), or re-authorize
 * (AuthError). Bodies are parsed losslessly, so ids above 2^53 stay exact (bigint). Redirects
 * are followed by hand, only to Strava's API hosts (api_redirect.ts).
 */
import { getLogger } from "@logtape/logtape";
import { AuthError, InterruptedError, RuntimeError, UsageError } from "../errors.ts";
import { parseJson } from "../json.ts";
import { describeFailure, errorBody, isRecord, type ReadBody, readCapped } from "./response_body.ts";
import { followRedirect, MAX_REDIRECTS, movedLine } from "./api_redirect.ts";
import { netGranted, netRefusal } from "../permissions.ts";
import type { Permit, RateLimiter, RefusalReason } from "./rate_limit.ts";

const log = getLogger(["strava-backfill", "strava"]);

/** Supplies access tokens (lib/strava/tokens.ts implements the refreshing one). */
export interface TokenProvider {
  /** A valid token (refreshing ahead of expiry). */
  accessToken(): Promise<string>;
  /** After a 401: refresh once; resolves a new token, or throws AuthError (exit 3) if impossible. */
  refreshAfterUnauthorized(rejected: string): Promise<string>;
}

/** Message when STRAVA_ACCESS_TOKEN is answered 401. */
export const ACCESS_TOKEN_REJECTED_MESSAGE = "the access token was rejected or expired; run setup_auth";

/** A fixed token (STRAVA_ACCESS_TOKEN): used as is, never refreshed; a 401 is an AuthError. */
export function staticTokenProvider(token: string): TokenProvider {
  return {
    accessToken: () => Promise.resolve(token),
    refreshAfterUnauthorized: () => Promise.reject(new AuthError(ACCESS_TOKEN_REJECTED_MESSAGE)),
  };
}

/** Any failure talking to Strava (exit 1 unless a subclass says otherwise). */
export class StravaError extends RuntimeError {
  override name = "StravaError";
  /** HTTP status, when a response arrived. */
  status?: number;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.status = options.status;
  }
}

/** 404: the record does not exist (or is not visible); settle it as `not_found`. */
export class NotFoundError extends StravaError {
  override name = "NotFoundError";
}

/** 403, or a 401 whose body says a `*_permission` is missing; settle it as `forbidden`. */
export class ForbiddenError extends StravaError {
  override name = "ForbiddenError";
  /** The missing permission Strava named (e.g. "activity:read_permission"), if any. */
  missingScope?: string;
  constructor(message: string, options: { status?: number; missingScope?: string } = {}) {
    super(message, options);
    this.missingScope = options.missingScope;
  }
}

/** The budget is spent: the limiter refused (nothing was sent) or Strava answered 429. Never retried. */
export class RateLimitedError extends StravaError {
  override name = "RateLimitedError";
  /** ms when the budget reopens. */
  until: number;
  /** "window" | "daily" | "rate_limited". */
  reason: string;
  constructor(message: string, options: { until: number; reason: RefusalReason; status?: number }) {
    super(message, { status: options.status });
    this.until = options.until;
    this.reason = options.reason;
  }
}

/** 5xx, network error or timeout, still failing after the bounded retries. */
export class TransientError extends StravaError {
  override name = "TransientError";
}

/**
 * A response body over the client's cap (MAX_BODY_BYTES). Asking again gets the same body, so the
 * record fails at once with this reason instead of exhausting memory or costing more reads.
 */
export class ResponseTooLargeError extends StravaError {
  override name = "ResponseTooLargeError";
}

/** A 2xx whose body is not valid JSON or not the expected shape. */
export class MalformedResponseError extends StravaError {
  override name = "MalformedResponseError";
}

/** Options of `StravaClient`. */
export interface StravaClientOptions {
  /** API base, e.g. https://www.strava.com/api/v3. */
  apiUrl: string;
  tokens: TokenProvider;
  limiter: RateLimiter;
  fetch?: typeof fetch;
  /** Clock, for timing log lines (default Date.now). */
  now?: () => number;
  /** Backoff sleep (default a timer); given `signal`, it should end early when that aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Backoff jitter source in [0, 1) (default Math.random). */
  random?: () => number;
  /** Per request, including reading the body (default 30_000). */
  timeoutMs?: number;
  /** Transient retries after the first attempt (default 4). */
  maxRetries?: number;
  /**
   * SIGINT/SIGTERM: aborts the request in flight (reading its body included), the back-off
   * sleep and the token refresh, and stops any further request; the call then rejects with
   * InterruptedError.
   */
  signal?: AbortSignal;
  /** Largest response body accepted (default MAX_BODY_BYTES). */
  maxBodyBytes?: number;
  /** A line the user should see besides the log (default: stderr, `warning: ` first). */
  warn?: (line: string) => void;
}

/** First backoff delay; doubled on each further retry, with jitter, up to MAX_BACKOFF_MS. */
const BASE_BACKOFF_MS = 1_000;
/** Longest backoff between two attempts. */
const MAX_BACKOFF_MS = 30_000;
/**
 * Largest response body accepted (16 MiB). Strava's biggest activity bodies (an all-day ride with
 * every segment effort) are a few MB; a larger one is refused as that record's failure rather
 * than risking the process's memory.
 */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Rejects with InterruptedError once `signal` is aborted (nothing is sent after a signal). */
function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}

/** A timer sleep that ends at once when `signal` aborts (then the caller checks the signal). */
function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

type Outcome =
  | { kind: "response"; status: number; headers: Headers } & ReadBody
  | { kind: "failed"; error: unknown; timedOut: boolean };

/** What one attempt's outcome means for `#request`: done, refresh the token, or try again. */
type Verdict =
  | { kind: "body"; body: unknown }
  | { kind: "refresh" }
  | { kind: "retry"; problem: string }
  | { kind: "redirect"; url: string; newBase?: string };

/** The Strava API client. */
export class StravaClient {
  #base: string;
  /** The options, with their defaults. */
  readonly #o: Required<Omit<StravaClientOptions, "apiUrl" | "signal">>;
  readonly #signal: AbortSignal | undefined;
  /** Whether Deno's own fetch is used, and its permission for the API host was seen granted. */
  readonly #ownFetch: boolean;
  #hostGranted = false;

  /** A client for `options.apiUrl`. */
  constructor(options: StravaClientOptions) {
    this.#base = options.apiUrl.replace(/\/+$/, "");
    this.#signal = options.signal;
    this.#ownFetch = options.fetch === undefined;
    this.#o = {
      tokens: options.tokens,
      limiter: options.limiter,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      now: options.now ?? Date.now,
      sleep: options.sleep ?? abortableDelay,
      random: options.random ?? Math.random,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 4,
      maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
      warn: options.warn ?? ((line) => console.error(`warning: ${line}`)),
    };
  }

  /** GET /activities/{id}?include_all_efforts=true — a DetailedActivity with every segment effort. */
  async getActivity(id: bigint): Promise<Record<string, unknown>> {
    checkId(id);
    // Without the flag Strava may leave efforts out, and the activity would be stored as done.
    return await this.#record(`/activities/${id}`, { include_all_efforts: "true" }, id);
  }

  /** GET /segments/{id} — a DetailedSegment. */
  async getSegment(id: bigint): Promise<Record<string, unknown>> {
    checkId(id);
    return await this.#record(`/segments/${id}`, {}, id);
  }

  /** GET /athlete — the authenticated athlete. */
  async getAthlete(): Promise<Record<string, unknown>> {
    return await this.#record("/athlete", {}, undefined);
  }

  /**
   * GET /athlete/activities — one page of the athlete's activities (SummaryActivity) that
   * started after `after` and before `before` (epoch seconds, both exclusive): oldest first when
   * only `after` is given, newest first otherwise (as Strava answers). What a short page means is
   * the caller's to judge (lib/backfill/listing.ts).
   */
  async listActivities(
    params: { after?: number; before?: number; page: number; perPage?: number },
  ): Promise<Record<string, unknown>[]> {
    const query: Record<string, string> = {};
    for (const name of ["after", "before"] as const) {
      const value = params[name];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be epoch seconds`);
      query[name] = String(value);
    }
    if (!Number.isSafeInteger(params.page) || params.page < 1) throw new TypeError("page must be a positive integer");
    const perPage = params.perPage ?? 200;
    if (!Number.isSafeInteger(perPage) || perPage < 1 || perPage > 200) throw new TypeError("perPage must be 1..200");
    query.page = String(params.page);
    query.per_page = String(perPage);
    const path = "/athlete/activities";
    const body = await this.#request(path, query);
    if (!Array.isArray(body)) throw new MalformedResponseError(`GET ${path}: expected a JSON array of activities`);
    for (const item of body) {
      if (!isRecord(item) || typeof item.id !== "bigint") {
        throw new MalformedResponseError(`GET ${path}: an activity in the list has no integer id`);
      }
    }
    return body as Record<string, unknown>[];
  }

  async #record(path: string, query: Record<string, string>, id: bigint | undefined) {
    const body = await this.#request(path, query);
    if (!isRecord(body)) throw new MalformedResponseError(`GET ${path}: expected a JSON object`);
    if (typeof body.id !== "bigint") throw new MalformedResponseError(`GET ${path}: the record has no integer id`);
    if (id !== undefined && body.id !== id) {
      throw new MalformedResponseError(`GET ${path}: Strava answered with record ${body.id}`);
    }
    return body;
  }

  /** One logical GET: limiter, token, retries; resolves the parsed 2xx body. */
  async #request(path: string, query: Record<string, string>): Promise<unknown> {
    const search = new URLSearchParams(query).toString();
    let url = `${this.#base}${path}${search ? `?${search}` : ""}`;
    const label = `GET ${path}`;
    let token: string | undefined;
    let refreshed = false;
    let failures = 0;
    let redirects = 0;
    for (;;) {
      // Asked again on every attempt: backoff and timeouts can outlast a token's life; the
      // provider refreshes ahead of expiry. After a 401 refresh the new token is used as is.
      throwIfInterrupted(this.#signal);
      this.#assertHostGranted(url);
      token ??= await this.#o.tokens.accessToken();
      const permit = this.#acquire(label);
      const started = this.#o.now();
      const outcome = await this.#send(url, token, permit);
      // A signal during the request is a stop, not a network failure to retry or to charge.
      throwIfInterrupted(this.#signal);
      const verdict: Verdict = outcome.kind === "failed"
        ? { kind: "retry", problem: describeFailure(outcome.error, outcome.timedOut, this.#o.timeoutMs) }
        : this.#judge(label, outcome, started, url);
      if (verdict.kind === "body") return verdict.body;
      if (verdict.kind === "redirect") {
        if (++redirects > MAX_REDIRECTS) {
          throw new UsageError(
            `${label}: more than ${MAX_REDIRECTS} redirects from ${this.#base}; check STRAVA_API_URL`,
          );
        }
        if (verdict.newBase) this.#moveTo(verdict.newBase, outcome.kind === "response" ? outcome.status : 0);
        url = verdict.url;
        continue;
      }
      if (verdict.kind === "refresh") {
        if (refreshed) {
          throw new AuthError(
            "Strava rejected the access token even after refreshing it (401); run setup_auth to authorize again",
          );
        }
        refreshed = true;
        log.info("{label}: access token rejected (401); refreshing it once", { label });
        token = await this.#o.tokens.refreshAfterUnauthorized(token);
        throwIfInterrupted(this.#signal);
        continue;
      }
      await this.#retryLater(label, verdict.problem, ++failures, outcome);
      token = undefined;
    }
  }

  /** A permanent redirect moved the whole API: later requests go to `base` directly; said once. */
  #moveTo(base: string, status: number): void {
    const line = movedLine(this.#base, base, status);
    log.warn("{line}", { line });
    this.#o.warn(line);
    this.#base = base;
  }

  /**
   * A host Deno's permissions refuse is the user's setting, not an outage: a UsageError (exit 2)
   * before any budget is reserved, never retried. One permission query per client.
   */
  #assertHostGranted(url: string): void {
    if (this.#hostGranted || !this.#ownFetch) return;
    if (!netGranted(url)) throw netRefusal(url);
    this.#hostGranted = true;
  }

  /** A permit for one read, or RateLimitedError when the budget is spent (then nothing is sent). */
  #acquire(label: string): Permit {
    throwIfInterrupted(this.#signal);
    const acquired = this.#o.limiter.tryAcquire("read");
    if (!acquired.ok) {
      throw new RateLimitedError(
        `${label}: rate budget spent (${acquired.reason}); it reopens at ${new Date(acquired.until).toISOString()}`,
        { until: acquired.until, reason: acquired.reason },
      );
    }
    return acquired.permit;
  }

  /**
   * What an answer means: the parsed body of a 2xx, a 401 to refresh the token for, or a problem
   * worth another attempt (5xx, 408, a body cut off); every other answer throws its typed error.
   */
  #judge(label: string, outcome: Extract<Outcome, { kind: "response" }>, started: number, url: string): Verdict {
    const { status, text } = outcome;
    log.debug("{label} -> {status} in {ms} ms", { label, status, ms: this.#o.now() - started });
    const redirect = followRedirect(label, this.#base, url, status, outcome.headers.get("location"));
    if (redirect) return { kind: "redirect", ...redirect };
    if (outcome.tooLarge !== undefined) {
      const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      const over = `over ${mb(outcome.tooLarge)}, more than the ${mb(this.#o.maxBodyBytes)} this tool accepts`;
      throw new ResponseTooLargeError(`${label}: the response is ${over}; not stored`, { status });
    }
    if (status >= 200 && status < 300 && outcome.bodyError === undefined) {
      try {
        return { kind: "body", body: parseJson(text ?? "", { keepSource: true }) };
      } catch (err) {
        throw new MalformedResponseError(`${label}: the response is not valid JSON (${(err as Error).message})`, {
          status,
          cause: err,
        });
      }
    }
    const { message, missing } = errorBody(text);
    const detail = message ? ` ${message}` : "";
    if (status === 401 && missing === undefined) return { kind: "refresh" };
    if (status === 401 || status === 403) {
      const why = missing ? `the authorization lacks ${missing}` : "access forbidden";
      throw new ForbiddenError(`${label}: ${why} (${status}${detail})`, { status, missingScope: missing });
    }
    if (status === 404) throw new NotFoundError(`${label}: not found (404${detail})`, { status });
    if (status === 429) {
      const until = this.#o.limiter.reopensAt("read");
      throw new RateLimitedError(
        `${label}: Strava's rate limit is exceeded (429); no request before ${new Date(until).toISOString()}`,
        { until, reason: "rate_limited", status },
      );
    }
    if (status < 500 && status !== 408 && outcome.bodyError === undefined) {
      throw new StravaError(`${label}: unexpected answer ${status}${detail}`, { status });
    }
    return {
      kind: "retry",
      problem: outcome.bodyError === undefined
        ? `HTTP ${status}${detail}`
        : `${describeFailure(outcome.bodyError, false, this.#o.timeoutMs)} while reading a ${status} response`,
    };
  }

  /** After the `failures`th failed attempt: waits out the back-off, or throws TransientError when retries are spent. */
  async #retryLater(label: string, problem: string, failures: number, outcome: Outcome): Promise<void> {
    if (failures > this.#o.maxRetries) {
      throw new TransientError(`${label}: ${problem} (gave up after ${failures} attempts)`, {
        status: outcome.kind === "response" ? outcome.status : undefined,
        cause: outcome.kind === "failed" ? outcome.error : outcome.bodyError,
      });
    }
    // Exponential backoff with jitter in [50%, 100%] of the step, so parallel clients spread out.
    const step = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (failures - 1));
    const delay = Math.round(step * (0.5 + this.#o.random() / 2));
    const max = this.#o.maxRetries;
    log.warn("{label}: {problem}; retry {n} of {max} in {delay} ms", { label, problem, n: failures, max, delay });
    try {
      await this.#o.sleep(delay, this.#signal);
    } catch (err) {
      if (!this.#signal?.aborted) throw err;
    }
    throwIfInterrupted(this.#signal);
  }

  /** Sends one request under `permit` and reads the whole body within the timeout. */
  async #send(url: string, token: string, permit: Permit): Promise<Outcome> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("request timed out", "TimeoutError")),
      this.#o.timeoutMs,
    );
    const signal = this.#signal ? AbortSignal.any([controller.signal, this.#signal]) : controller.signal;
    let response: Response;
    try {
      response = await this.#o.fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
        // Followed by hand: fetch would drop the token on a move to another of Strava's hosts.
        redirect: "manual",
        signal,
      });
    } catch (error) {
      clearTimeout(timer);
      permit.fail();
      // Refused by Deno's permissions (an injected fetch, or a redirect elsewhere): usage, not retried.
      if (error instanceof Deno.errors.NotCapable) {
        const refused = /"([^"]+)"/.exec(error.message)?.[1];
        throw netRefusal(refused ? `http://${refused}` : url);
      }
      return { kind: "failed", error, timedOut: controller.signal.aborted };
    }
    const body = await readCapped(response, this.#o.maxBodyBytes, controller.signal);
    clearTimeout(timer);
    permit.complete(response);
    return { kind: "response", status: response.status, headers: response.headers, ...body };
  }
}

function checkId(id: bigint): void {
  if (typeof id !== "bigint" || id <= 0n) throw new TypeError("a Strava id must be a positive bigint");
}
