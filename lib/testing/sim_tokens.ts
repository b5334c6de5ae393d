/**
 * The simulator's OAuth state: authorization codes (single use), access tokens that expire by
 * the injected clock, and refresh tokens that rotate (each refresh issues a new one and the old
 * one stops working at once, as Strava documents). Tokens are deterministic per seed; the log
 * refers to them only by sequence number ("token#3"), never by value.
 */
import { Rng } from "./sim_random.ts";

interface AccessRecord {
  seq: number;
  scope: string;
  /** epoch seconds */
  expiresAt: number;
  revoked: boolean;
}

interface RefreshRecord {
  seq: number;
  scope: string;
  valid: boolean;
}

/** A freshly issued token pair. */
export interface IssuedTokens {
  seq: number;
  accessToken: string;
  refreshToken: string;
  /** epoch seconds */
  expiresAt: number;
  expiresIn: number;
  scope: string;
}

/** What an access token is worth right now. */
export type AccessCheck =
  | { status: "ok"; scope: string; marker: string }
  | { status: "expired" | "revoked" | "unknown"; marker: string };

/** Token and code bookkeeping for one simulated application and athlete. */
export class SimTokens {
  readonly #now: () => number;
  readonly #rng: Rng;
  readonly #ttl: number;
  readonly #access = new Map<string, AccessRecord>();
  readonly #refresh = new Map<string, RefreshRecord>();
  readonly #codes = new Map<string, string>();
  #seq = 0;

  /** `ttlSeconds`: lifetime of access tokens (Strava: 21600, six hours). */
  constructor(now: () => number, seed: number, ttlSeconds: number) {
    if (!(ttlSeconds > 0)) throw new RangeError("accessTokenTtlSeconds must be positive");
    this.#now = now;
    // A stream apart from the data generator's, so issuing tokens never changes the athlete.
    this.#rng = new Rng((seed ^ 0x5eed_70c0) >>> 0);
    this.#ttl = ttlSeconds;
  }

  /** Issues a new access/refresh pair with `scope`. */
  issue(scope: string): IssuedTokens {
    const seq = ++this.#seq;
    const accessToken = this.#rng.hex(20);
    const refreshToken = this.#rng.hex(20);
    const expiresAt = Math.floor(this.#now() / 1000) + this.#ttl;
    this.#access.set(accessToken, { seq, scope, expiresAt, revoked: false });
    this.#refresh.set(refreshToken, { seq, scope, valid: true });
    return { seq, accessToken, refreshToken, expiresAt, expiresIn: this.#ttl, scope };
  }

  /** Validity of an access token at the clock's current time. */
  check(token: string): AccessCheck {
    const rec = this.#access.get(token);
    if (!rec) return { status: "unknown", marker: "token?" };
    const marker = `token#${rec.seq}`;
    if (rec.revoked) return { status: "revoked", marker: `${marker}:revoked` };
    if (this.#now() >= rec.expiresAt * 1000) return { status: "expired", marker: `${marker}:expired` };
    return { status: "ok", scope: rec.scope, marker };
  }

  /** Redeems a refresh token: a new pair with the same scope; the old refresh token dies. Null if invalid. */
  refresh(token: string): IssuedTokens | null {
    const rec = this.#refresh.get(token);
    if (!rec || !rec.valid) return null;
    rec.valid = false;
    return this.issue(rec.scope);
  }

  /** A new single-use authorization code granting `scope`. */
  createCode(scope: string): string {
    const code = this.#rng.hex(20);
    this.#codes.set(code, scope);
    return code;
  }

  /** The scope of `code`, consuming it; null when unknown or already used. */
  redeemCode(code: string): string | null {
    const scope = this.#codes.get(code);
    if (scope === undefined) return null;
    this.#codes.delete(code);
    return scope;
  }

  /**
   * oauth/revoke: `token` (an access or a refresh token; the hint only says which to look up
   * first, RFC 7009, and a token is never both) and the other token of its pair stop working.
   * "invalid" when the token is unknown, expired or already revoked; then nothing changes.
   */
  revoke(token: string): { status: "revoked"; seq: number } | { status: "invalid" } {
    const access = this.#access.get(token);
    const refresh = this.#refresh.get(token);
    const seq = access && this.check(token).status === "ok" ? access.seq : refresh?.valid ? refresh.seq : undefined;
    if (seq === undefined) return { status: "invalid" };
    for (const r of this.#access.values()) if (r.seq === seq) r.revoked = true;
    for (const r of this.#refresh.values()) if (r.seq === seq) r.valid = false;
    return { status: "revoked", seq };
  }

  /** Invalidates every refresh token issued so far. */
  revokeRefreshTokens(): void {
    for (const rec of this.#refresh.values()) rec.valid = false;
  }

  /** Invalidates every access token issued so far. */
  revokeAccessTokens(): void {
    for (const rec of this.#access.values()) rec.revoked = true;
  }

  /** Number of refresh tokens that would still be accepted. */
  validRefreshTokens(): number {
    let n = 0;
    for (const rec of this.#refresh.values()) if (rec.valid) n++;
    return n;
  }
}
