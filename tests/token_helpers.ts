/**
 * Shared pieces of the token tests (oauth_test.ts, token_store_test.ts, tokens_test.ts): recorded
 * Strava answers, a fake token endpoint, a temp database with a provider factory, and a probe
 * that runs one backfill-like process against the simulator.
 */
import { ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openMigrated } from "../lib/store/open.ts";
import { saveDatabaseTokens, type StoredTokens, writeTokensFile } from "../lib/strava/token_store.ts";
import { RefreshingTokenProvider, type TokenProviderOptions } from "../lib/strava/tokens.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { baseEnv, ROOT, type ScriptResult, tempDir } from "./helpers.ts";
import { permissionFlags } from "../lib/permissions.ts";

// team's fixtures (oauth_token_responses.json, error_responses.json); unchanged, trimmed to what is used.
/** Strava's recorded token answers: the code exchange and a refresh grant. */
export const FIXTURES = {
  authorization_code_exchange: {
    body: {
      token_type: "Bearer",
      expires_at: 1542940199,
      expires_in: 21600,
      refresh_token: "deadbeef9d64b225d0c50db4854a8d6c8757702d",
      access_token: "deadbeefd7ab44704fb2a146bd98c7a349a2b43d",
      athlete: { id: 12342176, username: "dblockdotorg", resource_state: 2, firstname: "Daniel", lastname: "Block" },
    },
  },
  refresh_token_grant: {
    body: {
      token_type: "Bearer",
      access_token: "new-access-token",
      expires_at: 1542940199,
      expires_in: 14282,
      refresh_token: "new-refresh-token",
    },
  },
};
/** Strava's recorded OAuth error bodies, by status and cause. */
export const ERRORS = {
  "401_authorization_error": {
    body: { message: "Authorization Error", errors: [{ resource: "Application", field: "", code: "invalid" }] },
  },
  "400_token_invalid_client": {
    body: { message: "Bad Request", errors: [{ resource: "Application", field: "client_id", code: "invalid" }] },
  },
  "400_token_invalid_code": {
    body: { message: "Bad Request", errors: [{ resource: "RequestToken", field: "code", code: "invalid" }] },
  },
};

/** An OAuth base URL nothing listens on: a test that reaches it by mistake fails fast. */
export const OAUTH = "http://127.0.0.1:9/oauth";
/** The app credentials the fake endpoint accepts. */
export const CLIENT = { oauthUrl: OAUTH, clientId: "12345", clientSecret: "s3cret-client-value" };

/** A JSON response as Strava sends it. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/**
 * A token endpoint as an injected fetch: rotates refresh tokens on every grant (the old one dies
 * at once, as on Strava), issues access tokens valid `ttl` seconds by the clock, and can hold
 * answers back (`hold`) to make two refreshes overlap.
 */
export class FakeTokenEndpoint {
  readonly requests: URLSearchParams[] = [];
  readonly valid = new Set<string>();
  #n = 0;
  hold: Promise<void> | null = null;
  constructor(readonly now: () => number, readonly ttl = 21600) {}

  /** A new access/refresh pair; the refresh token is valid until used once. */
  issue(): { access_token: string; refresh_token: string; expires_at: number } {
    const n = ++this.#n;
    const refresh = `refresh-${n}-${crypto.randomUUID()}`;
    this.valid.add(refresh);
    return {
      access_token: `access-${n}-${crypto.randomUUID()}`,
      refresh_token: refresh,
      expires_at: Math.floor(this.now() / 1000) + this.ttl,
    };
  }

  /** How many refresh grants it was asked for. */
  get refreshes(): number {
    return this.requests.filter((r) => r.get("grant_type") === "refresh_token").length;
  }

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname !== "/oauth/token") return json(404, { message: "Record Not Found" });
    const body = new URLSearchParams(String(init?.body ?? ""));
    this.requests.push(body);
    if (this.hold) await this.hold;
    if (body.get("client_id") !== CLIENT.clientId || body.get("client_secret") !== CLIENT.clientSecret) {
      return json(400, ERRORS["400_token_invalid_client"].body);
    }
    if (body.get("grant_type") === "refresh_token") {
      const token = body.get("refresh_token") ?? "";
      if (!this.valid.delete(token)) {
        return json(400, {
          message: "Bad Request",
          errors: [{ resource: "RefreshToken", field: "refresh_token", code: "invalid" }],
        });
      }
      return json(200, { token_type: "Bearer", expires_in: this.ttl, ...this.issue() });
    }
    if (body.get("grant_type") === "authorization_code") {
      if (body.get("code") !== "good-code") return json(400, ERRORS["400_token_invalid_code"].body);
      return json(200, { token_type: "Bearer", expires_in: this.ttl, ...this.issue(), athlete: { id: 777 } });
    }
    return json(400, { message: "Bad Request" });
  };
}

/** Stored tokens valid until 2033, with `over` replacing fields. */
export function stored(over: Partial<StoredTokens> = {}): StoredTokens {
  return {
    athleteId: 777n,
    accessToken: "acc",
    refreshToken: "ref",
    expiresAt: 2_000_000_000,
    scope: "read,activity:read_all",
    updatedAt: "2026-05-01T12:00:00.000Z",
    ...over,
  };
}

/** A temp folder with a migrated database, a fake token endpoint on a virtual clock and a provider factory. */
export async function setup() {
  const dir = await tempDir();
  const dbPath = `${dir.path}/segments.db`;
  const db = openMigrated(dbPath, { create: true });
  const clock = new VirtualClock();
  const endpoint = new FakeTokenEndpoint(clock.now);
  const tokensPath = `${dir.path}/tokens.json`;
  /** A provider on `database` (default the shared connection; null: no database). */
  const provider = (over: Partial<TokenProviderOptions> = {}, database: DatabaseSync | null = db) =>
    new RefreshingTokenProvider({
      config: { ...CLIENT },
      db: database ?? undefined,
      tokensPath,
      fetch: endpoint.fetch,
      now: clock.now,
      sleep: clock.sleep,
      ...over,
    });
  /** Stores a freshly issued pair as setup_auth would. */
  const authorize = (updatedAt = new Date(clock.now()).toISOString()) => {
    const t = endpoint.issue();
    const record = stored({
      accessToken: t.access_token,
      refreshToken: t.refresh_token,
      expiresAt: t.expires_at,
      updatedAt,
    });
    saveDatabaseTokens(db, record);
    writeTokensFile(tokensPath, record);
    return record;
  };
  return {
    dir,
    dbPath,
    db,
    clock,
    endpoint,
    tokensPath,
    provider,
    authorize,
    async [Symbol.asyncDispose]() {
      db.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Stores a pair the simulator issued, as setup_auth would. */
export function storeIssued(
  db: DatabaseSync,
  tokensPath: string,
  issued: ReturnType<StravaSimulator["issueTokens"]>,
  now: number,
  expiresAt = issued.expires_at,
) {
  const record = stored({
    athleteId: BigInt((issued.athlete as { id: bigint | number }).id),
    accessToken: issued.access_token,
    refreshToken: issued.refresh_token,
    expiresAt,
    updatedAt: new Date(now).toISOString(),
  });
  saveDatabaseTokens(db, record);
  writeTokensFile(tokensPath, record);
  return record;
}

/** Runs tests/token_probe.ts (one backfill-like run) under the backfill's permissions. */
export async function probe(
  cwd: string,
  sim: StravaSimulator,
  env: Record<string, string> = {},
  db = "segments.db",
): Promise<ScriptResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      `--config=${ROOT}deno.json`,
      ...permissionFlags("incremental_backfill", [sim.host]),
      `${ROOT}tests/token_probe.ts`,
      "--db",
      db,
    ],
    cwd,
    env: {
      ...baseEnv(),
      STRAVA_CLIENT_ID: "12345",
      STRAVA_CLIENT_SECRET: "sim-secret",
      STRAVA_API_URL: sim.apiUrl,
      STRAVA_OAUTH_URL: sim.oauthUrl,
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Fails when any output of `results` shows one of `secrets` (or the simulator's client secret). */
export function assertClean(results: ScriptResult[], secrets: (string | null | undefined)[]): void {
  for (const r of results) {
    for (const secret of [...secrets, "sim-secret"]) {
      if (secret) ok(!(r.stdout + r.stderr).includes(secret), `a secret appears in:\n${r.stdout}${r.stderr}`);
    }
  }
}
