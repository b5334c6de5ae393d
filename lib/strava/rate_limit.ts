/**
 * Strava's rate budget, kept right by construction.
 *
 * Strava counts per application, in two families — reads, and all requests — each with a
 * 15-minute window (resetting at :00/:15/:30/:45 UTC) and a UTC day. This limiter:
 * - takes the server's X-ReadRateLimit-* / X-RateLimit-* headers as the truth (limits and usage),
 *   after every response, including errors and 429s;
 * - never lets usage plus requests in flight pass floor(limit × buffer) of any window;
 * - treats a 429 as "this window (or day) is spent" and refuses until it reopens;
 * - reserves each request in, and persists what it knows after every response to, the folder's
 *   budget store (lib/store/rate_state.ts, `strava_budget.db`), so the next process (or one
 *   running beside it) starts from the same budget. It is the only persistent state.
 *
 * Usage figures belong to the window they were observed in; when the window or day rolls over
 * they count as 0. Windows are UTC, aligned to the epoch (which is itself aligned to :00 UTC).
 */
import { getLogger } from "@logtape/logtape";
import {
  type RateReservation,
  type RateStateRow,
  type RateStateStore,
  type RateStateView,
  readSharedRateRows,
  SHARED_RATE_STATE_PATH,
  SharedRateState,
} from "../store/rate_state.ts";
import {
  type BudgetStatus,
  type Clock,
  countExpired,
  DAY_MS,
  dayStart,
  FAMILIES,
  familiesOf,
  type FamilyBudget,
  type FamilyName,
  familyRow,
  type FamilyState,
  freshFamily,
  HEADERS,
  mergeRow,
  parsePair,
  serverTime,
  StravaClock,
  syncUsage,
  WINDOW_MS,
  windowStart,
} from "./rate_window.ts";

const log = getLogger(["strava-backfill", "rate_limit"]);

/** Share of each limit the tool spends by default (`--rate-buffer`). */
export const DEFAULT_BUFFER = 0.9;

/** Why the budget is closed. */
export type RefusalReason = "window" | "daily" | "rate_limited";

/** The answer to "may I send now?". */
export type Acquire =
  | { ok: true; permit: Permit }
  | { ok: false; until: number; reason: RefusalReason };

/** A reserved slot for one request; report how it ended exactly once. */
export interface Permit {
  /** Report the response (any status incl. 429/5xx): syncs limits+usage from headers, persists state. */
  complete(response: { status: number; headers: Headers }): void;
  /** Request failed without a response (network error/timeout): counts as sent, no header info. */
  fail(): void;
}

/** Options of `RateLimiter`. */
export interface RateLimiterOptions {
  /** Clock (default Date.now). */
  now?: Clock;
  /** Share of each limit to spend, in (0, 1] (default 0.9, `--rate-buffer`). */
  buffer?: number;
  /**
   * Where the state lives: the folder's budget store (lib/store/rate_state.ts), whose
   * reservations make the budget exact across processes, or `MemoryRateState` in tests. None:
   * the budget lives in this instance alone.
   */
  state?: RateStateStore;
  /** Stored rows to start from without a store (stats' read of the budget file); ignored with `state`. */
  rows?: RateStateRow[];
  /** How long a reservation outlives a holder that never reports (killed); default RESERVATION_TTL_MS. */
  reservationTtlMs?: number;
}

/**
 * A reservation whose process never reported back (killed mid-request) stops counting as in
 * flight after this long, and counts as spent instead. Four request timeouts (30 s each): a
 * live request is answered or abandoned well before.
 */
const RESERVATION_TTL_MS = 2 * 60 * 1000;

/**
 * The rate limiter. One instance per process; all requests to the API go through it.
 * Not safe to share across processes except through its state store, which it does itself.
 */
export class RateLimiter {
  readonly #now: Clock;
  readonly #buffer: number;
  readonly #state: RateStateStore | undefined;
  readonly #ttl: number;
  /** Requests of other processes in flight, per family, as last seen in the shared store. */
  readonly #others: Record<FamilyName, number> = { read: 0, overall: 0 };
  /** Ids of this instance's live reservations. */
  readonly #mine = new Set<string>();
  readonly #families: Record<FamilyName, FamilyState> = { read: freshFamily("read"), overall: freshFamily("overall") };
  #blockedUntil: number | null = null;
  /** Strava's clock is behind ours and its (earlier) window or day is spent: wait for its rollover. */
  #held: { until: number; reason: "window" | "daily" } | null = null;
  #seq = 0;
  /**
   * Strava's clock as its Date headers show it. Windows and days are Strava's: internally every
   * instant is on Strava's clock; what leaves the limiter (reopening times, status) is on ours.
   */
  readonly #strava: StravaClock;

  /** Loads the persisted state from `state` (or `rows`) if given. */
  constructor(options: RateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#strava = new StravaClock(this.#now);
    const buffer = options.buffer ?? DEFAULT_BUFFER;
    if (!(buffer > 0 && buffer <= 1)) throw new RangeError(`rate buffer must be in (0, 1], got ${buffer}`);
    this.#buffer = buffer;
    this.#ttl = options.reservationTtlMs ?? RESERVATION_TTL_MS;
    this.#state = options.state;
    this.#load(this.#state?.load() ?? options.rows ?? []);
  }

  /** Reserve one slot for a request — reads count against both "read" and "overall". */
  tryAcquire(kind: "read" | "write" = "read"): Acquire {
    const now = this.#strava.now();
    this.#roll(now);
    const state = this.#state;
    if (!state) return this.#local(this.#acquire(kind, now, null));
    // Decide and reserve in one transaction of the shared store, seeing every process's usage
    // and requests in flight: no other process can take the same last slot.
    let result: Acquire | undefined;
    state.update(now, (view) => {
      this.#absorb(view, now);
      const reservation = this.#reservation(kind, now);
      result = this.#acquire(kind, now, reservation.id);
      return { rows: this.#rows(now), reserve: result.ok ? reservation : undefined };
    });
    return this.#local(result!);
  }

  /** A refusal's reopening time on our clock. */
  #local(acquire: Acquire): Acquire {
    return acquire.ok ? acquire : { ...acquire, until: acquire.until - this.#strava.offset };
  }

  #acquire(kind: "read" | "write", now: number, reservation: string | null): Acquire {
    const refusal = this.#refusal(kind, now);
    if (refusal) return { ok: false, ...refusal };
    const families = familiesOf(kind);
    for (const name of families) this.#families[name].inFlight++;
    if (reservation !== null) this.#mine.add(reservation);
    return { ok: true, permit: this.#permit(families, ++this.#seq, reservation) };
  }

  #reservation(kind: "read" | "write", now: number): RateReservation {
    return {
      id: crypto.randomUUID(),
      families: familiesOf(kind),
      window: windowStart(now),
      day: dayStart(now),
      expiresAt: now + this.#ttl,
    };
  }

  /** ms when a request could next be sent (now if possible). */
  reopensAt(kind: "read" | "write" = "read"): number {
    const now = this.#strava.now();
    this.#roll(now);
    return (this.#refusal(kind, now)?.until ?? now) - this.#strava.offset;
  }

  /** The numbers for progress lines and stats. */
  status(): BudgetStatus {
    const now = this.#strava.now();
    this.#roll(now);
    const local = (instant: number) => instant - this.#strava.offset;
    return {
      read: this.#budget("read"),
      overall: this.#budget("overall"),
      blockedUntil: this.#blockedUntil !== null && this.#blockedUntil > now ? local(this.#blockedUntil) : null,
      windowResetsAt: local(windowStart(now) + WINDOW_MS),
      dayResetsAt: local(dayStart(now) + DAY_MS),
    };
  }

  #budget(name: FamilyName): FamilyBudget {
    const f = this.#families[name];
    const allowed15 = this.#allowed(f.limit15);
    const allowedDay = this.#allowed(f.limitDay);
    const inFlight = f.inFlight + this.#others[name];
    return {
      limit15: f.limit15,
      limitDay: f.limitDay,
      usage15: f.usage15,
      usageDay: f.usageDay,
      inFlight,
      allowed15,
      allowedDay,
      remaining15: Math.max(0, allowed15 - f.usage15 - inFlight),
      remainingDay: Math.max(0, allowedDay - f.usageDay - inFlight),
    };
  }

  /**
   * floor(limit × buffer), but at least 1: a limit header below 2 (a glitch, or a limit that
   * the buffer rounds to nothing) would otherwise close every later window and day for good,
   * since no request could ever bring the real limit back. One request per window (day)
   * re-learns it, and stays within any limit of at least 1.
   */
  #allowed(limit: number): number {
    return Math.max(1, Math.floor(limit * this.#buffer));
  }

  #refusal(kind: "read" | "write", now: number): { until: number; reason: RefusalReason } | null {
    if (this.#blockedUntil !== null && this.#blockedUntil > now) {
      return { until: this.#blockedUntil, reason: "rate_limited" };
    }
    if (this.#held !== null && this.#held.until > now) return { ...this.#held };
    const budgets = familiesOf(kind).map((name) => this.#budget(name));
    if (budgets.some((b) => b.remainingDay <= 0)) return { until: dayStart(now) + DAY_MS, reason: "daily" };
    if (budgets.some((b) => b.remaining15 <= 0)) return { until: windowStart(now) + WINDOW_MS, reason: "window" };
    return null;
  }

  /** Figures observed in an earlier window/day count as 0 for the current one. */
  #roll(now: number): void {
    const w = windowStart(now);
    const d = dayStart(now);
    for (const f of Object.values(this.#families)) {
      if (f.observedAt === null || f.observedAt < now) {
        // A clock that went backwards keeps the figures: counting too much is the safe side.
        if (f.observedAt !== null && windowStart(f.observedAt) < w) f.usage15 = 0;
        if (f.observedAt !== null && dayStart(f.observedAt) < d) f.usageDay = 0;
        f.observedAt = now;
      }
      f.local = f.local.filter((c) => (c.window === w && c.seq > f.sync15) || (c.day === d && c.seq > f.syncDay));
    }
  }

  #permit(families: FamilyName[], seq: number, reservation: string | null): Permit {
    let done = false;
    const settle = () => {
      if (done) throw new Error("rate-limit permit reported twice");
      done = true;
      for (const name of families) this.#families[name].inFlight--;
    };
    return {
      complete: (response) => {
        settle();
        this.#complete(families, seq, response, reservation);
      },
      fail: () => {
        settle();
        const now = this.#strava.now();
        this.#roll(now);
        for (const name of families) this.#countLocally(this.#families[name], seq, windowStart(now), dayStart(now));
        this.#persist(now, reservation);
      },
    };
  }

  #countLocally(f: FamilyState, seq: number, window: number | null, day: number | null): void {
    if (window !== null) f.usage15++;
    if (day !== null) f.usageDay++;
    f.local.push({ seq, window, day });
  }

  #complete(
    counted: FamilyName[],
    seq: number,
    response: { status: number; headers: Headers },
    reservation: string | null,
  ): void {
    this.#shift(this.#strava.learn(response.headers));
    const now = this.#strava.now();
    this.#roll(now);
    const w = windowStart(now);
    const d = dayStart(now);
    // Strava counts a request in the window of its own clock; its Date header says which
    // window that was. Without this, a request sent just after our window opened but counted
    // by Strava just before its own would make our new window look as full as the old one.
    const t = serverTime(response.headers, now) ?? now;
    const sameWindow = windowStart(t) === w;
    const sameDay = dayStart(t) === d;
    // An instant on Strava's clock, on ours. The Date header is truncated to the second and
    // stamped before the answer travelled, so `now - t` is the latest the offset can be.
    const local = (serverInstant: number) => serverInstant + (now - t);
    let dailySpent = false;
    for (const name of FAMILIES) {
      const f = this.#families[name];
      const isCounted = counted.includes(name);
      const limits = parsePair(response.headers.get(HEADERS[name].limit), HEADERS[name].limit);
      if (limits) [f.limit15, f.limitDay, f.limitsAt] = [limits[0], limits[1], now];
      const usage = parsePair(response.headers.get(HEADERS[name].usage), HEADERS[name].usage);
      if (usage && sameWindow) syncUsage(f, "window", usage[0], seq, w);
      if (usage && sameDay) syncUsage(f, "day", usage[1], seq, d);
      if (usage && windowStart(t) < w && usage[0] >= this.#allowed(f.limit15)) {
        this.#hold(local(windowStart(t) + WINDOW_MS), "window");
      }
      if (usage && dayStart(t) < d && usage[1] >= this.#allowed(f.limitDay)) {
        this.#hold(local(dayStart(t) + DAY_MS), "daily");
      }
      if (isCounted) {
        const window = usage && sameWindow ? null : w;
        const day = usage && sameDay ? null : d;
        if (window !== null || day !== null) this.#countLocally(f, seq, window, day);
      }
      if (isCounted && (usage ? usage[1] >= f.limitDay : f.usageDay >= f.limitDay)) dailySpent = true;
    }
    if (response.status === 429) {
      const until = local(dailySpent ? dayStart(t) + DAY_MS : windowStart(t) + WINDOW_MS);
      this.#blockedUntil = Math.max(this.#blockedUntil ?? 0, until);
      log.warn("Strava answered 429 (rate limit exceeded); no request until {until}", {
        until: new Date(until - this.#strava.offset).toISOString(),
      });
    }
    this.#persist(now, reservation);
  }

  #hold(until: number, reason: "window" | "daily"): void {
    if (this.#held === null || this.#held.until < until) this.#held = { until, reason };
  }

  #load(rows: RateStateRow[]): void {
    this.#strava.adopt(rows);
    const now = this.#strava.now();
    for (const row of rows) {
      const name = row.name as FamilyName;
      if (!FAMILIES.includes(name)) continue;
      const f = this.#families[name];
      if (row.limit_15min !== null && row.limit_daily !== null) {
        [f.limit15, f.limitDay, f.limitsAt] = [row.limit_15min, row.limit_daily, row.observed_at];
      }
      if (row.observed_at !== null) {
        f.usage15 = row.usage_15min ?? 0;
        f.usageDay = row.usage_daily ?? 0;
        f.observedAt = row.observed_at;
      }
      if (row.blocked_until !== null) this.#blockedUntil = Math.max(this.#blockedUntil ?? 0, row.blocked_until);
    }
    this.#roll(now);
  }

  /**
   * Writes the state (and gives back the request's reservation). Another process may have
   * written newer figures since this one last did: for the same window (day) the larger usage
   * wins, which is simple and never too low.
   */
  #persist(now: number, reservation: string | null): void {
    const state = this.#state;
    if (!state) return;
    state.update(now, (view) => {
      this.#absorb(view, now);
      return { rows: this.#rows(now), release: reservation ?? undefined };
    });
    if (reservation !== null) this.#mine.delete(reservation);
  }

  /**
   * Takes in what the store holds: other processes' figures and 429s, reservations that
   * expired (their holder died mid-request: counted as spent, since Strava may have counted
   * them) and the requests other processes have in flight.
   */
  #absorb(view: RateStateView, now: number): void {
    this.#shift(this.#strava.adopt(view.rows));
    for (const row of view.rows) {
      const name = row.name as FamilyName;
      if (FAMILIES.includes(name)) mergeRow(this.#families[name], row, now);
      if (row.blocked_until !== null && row.blocked_until > now) {
        this.#blockedUntil = Math.max(this.#blockedUntil ?? 0, row.blocked_until);
      }
    }
    for (const r of view.expired) {
      for (const name of FAMILIES) if (r.families.includes(name)) countExpired(this.#families[name], r, now);
    }
    for (const name of FAMILIES) {
      this.#others[name] = view.reservations.filter((r) => r.families.includes(name) && !this.#mine.has(r.id)).length;
    }
  }

  /** Moves the instants kept on an old estimate of Strava's clock onto the new one. */
  #shift(delta: number): void {
    if (delta === 0) return;
    for (const f of Object.values(this.#families)) {
      if (f.observedAt !== null) f.observedAt += delta;
      if (f.limitsAt !== null) f.limitsAt += delta;
    }
    if (this.#blockedUntil !== null) this.#blockedUntil += delta;
    if (this.#held !== null) this.#held = { ...this.#held, until: this.#held.until + delta };
  }

  /** The rows to store for the current state. */
  #rows(now: number): RateStateRow[] {
    const blocked = this.#blockedUntil !== null && this.#blockedUntil > now ? this.#blockedUntil : null;
    return FAMILIES.map((name) => familyRow(name, this.#families[name], blocked, now, this.#strava.offset));
  }
}

/**
 * The key of the Strava application in the folder's shared budget: its client id, or, when only
 * an access token is given (no client id), one key for all such runs: sharing too much is safe.
 */
export function rateAppKey(clientId: string | undefined): string {
  return clientId ? `client:${clientId}` : "access-token-only";
}

/**
 * Opens the folder's budget store for `app`, as a backfill session starts. When it cannot be
 * opened (an unwritable folder, a damaged file) the run goes on with its own budget alone, from
 * Strava's headers: never a reason to stop. Says so in the log.
 */
export function openSharedBudget(app: string, path: string = SHARED_RATE_STATE_PATH): SharedRateState | undefined {
  try {
    return new SharedRateState(app, path);
  } catch (err) {
    log.warn(
      "Cannot use the shared rate budget {path} ({error}); processes in this folder share only Strava's headers",
      { path, error: (err as Error).message },
    );
    return undefined;
  }
}

/**
 * The budget as the folder's budget store holds it, without a store open for writing (for
 * stats): every run in the folder counts there. Only reads; no file: Strava's defaults, unspent.
 */
export function loadBudgetStatus(
  now: number,
  buffer: number = DEFAULT_BUFFER,
  path: string = SHARED_RATE_STATE_PATH,
): BudgetStatus {
  return new RateLimiter({ rows: readSharedRateRows(path), now: () => now, buffer }).status();
}
