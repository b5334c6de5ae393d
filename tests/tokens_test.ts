import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { AuthError, RuntimeError, UsageError } from "../lib/errors.ts";
import {
  blamesClient,
  buildAuthorizeUrl,
  checkOAuthUrl,
  exchangeCode,
  GrantRejectedError,
  normalizeScope,
  refreshTokens,
  validateCallback,
} from "../lib/strava/oauth.ts";
import { openMigrated } from "../lib/store/schema.ts";
import {
  parseStoredTime,
  rankCandidates,
  readDatabaseTokens,
  readTokensFile,
  saveDatabaseTokens,
  type StoredTokens,
  type TokenCandidate,
  tryLockRefresh,
  unlockRefresh,
  writeTokensFile,
} from "../lib/strava/token_store.ts";
import {
  ACCESS_TOKEN_REJECTED_MESSAGE,
  createTokenProvider,
  NO_TOKEN_MESSAGE,
  REFRESH_REJECTED_MESSAGE,
  RefreshingTokenProvider,
  type TokenProviderOptions,
} from "../lib/strava/tokens.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { StravaClient } from "../lib/strava/client.ts";
import { permissionFlags } from "../lib/permissions.ts";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { baseEnv, ROOT, type ScriptResult, tempDir } from "./helpers.ts";

// Recorded Strava answers, from dblock/strava-ruby-client spec/fixtures/strava (MIT), as kept in the
// team's fixtures (oauth_token_responses.json, error_responses.json); unchanged, trimmed to what is used.
const FIXTURES = {
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
const ERRORS = {
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

const OAUTH = "http://127.0.0.1:9/oauth";
const CLIENT = { oauthUrl: OAUTH, clientId: "12345", clientSecret: "s3cret-client-value" };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/**
 * A token endpoint as an injected fetch: rotates refresh tokens on every grant (the old one dies
 * at once, as on Strava), issues access tokens valid `ttl` seconds by the clock, and can hold
 * answers back (`hold`) to make two refreshes overlap.
 */
class FakeTokenEndpoint {
  readonly requests: URLSearchParams[] = [];
  readonly valid = new Set<string>();
  #n = 0;
  hold: Promise<void> | null = null;
  constructor(readonly now: () => number, readonly ttl = 21600) {}

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

function stored(over: Partial<StoredTokens> = {}): StoredTokens {
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

async function setup() {
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

// ------------------------------------------------------------------------------------------------
// lib/strava/oauth.ts

Deno.test("oauth: authorize URL has Strava's parameters and comma-separated scopes", () => {
  const url = buildAuthorizeUrl({
    oauthUrl: "https://www.strava.com/oauth",
    clientId: "12345",
    redirectUri: "http://localhost:8721/callback",
    scope: normalizeScope(" read, activity:read_all ,read "),
    state: "st",
  });
  strictEqual(url.origin + url.pathname, "https://www.strava.com/oauth/authorize");
  deepStrictEqual(Object.fromEntries(url.searchParams), {
    client_id: "12345",
    redirect_uri: "http://localhost:8721/callback",
    response_type: "code",
    approval_prompt: "auto",
    scope: "read,activity:read_all",
    state: "st",
  });
});

Deno.test("oauth: plain http is refused except on loopback", () => {
  checkOAuthUrl("https://www.strava.com/oauth");
  checkOAuthUrl("http://127.0.0.1:5000/oauth");
  checkOAuthUrl("http://localhost:5000/oauth");
  throws(() => checkOAuthUrl("http://strava.example/oauth"), UsageError);
  throws(() => checkOAuthUrl("not a url"), UsageError);
});

Deno.test("oauth: the callback state is checked; errors and scope are read", () => {
  const check = (q: string, state?: string) => validateCallback(OAUTH, "12345", new URLSearchParams(q), state);
  strictEqual(check("code=c&scope=read&state=good", "good").kind, "code");
  strictEqual(check("code=c&scope=read&state=bad", "good").kind, "invalid");
  strictEqual(check("code=c&scope=read", "good").kind, "invalid");
  strictEqual(check("state=good", "good").kind, "invalid");
  // A forged denial with the wrong state does not end the flow either.
  strictEqual(check("error=access_denied&state=bad", "good").kind, "invalid");
  deepStrictEqual(check("error=access_denied&state=good", "good"), {
    kind: "error",
    error: "access_denied",
    description: undefined,
  });
  const ok1 = check("code=c&scope=read,activity:read&state=good", "good");
  strictEqual(ok1.kind === "code" && ok1.scope, "read,activity:read");
  strictEqual(check("code=c&state=whatever", undefined).kind, "code"); // --code: state unknowable
});

Deno.test("oauth: code exchange posts client_secret_post and reads Strava's answer (fixture)", async () => {
  const fixture = FIXTURES.authorization_code_exchange;
  let sent: URLSearchParams | undefined;
  let url = "";
  const fakeFetch = (input: string | URL | Request, init?: RequestInit) => {
    url = String(input);
    sent = new URLSearchParams(String(init?.body));
    return Promise.resolve(json(200, fixture.body));
  };
  const params = validateCallback(OAUTH, "12345", new URLSearchParams("code=deadbeef&state=s"), "s");
  ok(params.kind === "code");
  const issued = await exchangeCode({ ...CLIENT, fetch: fakeFetch }, params.params, "http://localhost:1/callback");
  strictEqual(url, `${OAUTH}/token`);
  strictEqual(sent?.get("grant_type"), "authorization_code");
  strictEqual(sent?.get("code"), "deadbeef");
  strictEqual(sent?.get("client_id"), "12345");
  strictEqual(sent?.get("client_secret"), CLIENT.clientSecret);
  strictEqual(sent?.get("code_verifier"), null);
  deepStrictEqual(issued, {
    accessToken: fixture.body.access_token,
    refreshToken: fixture.body.refresh_token,
    expiresAt: fixture.body.expires_at,
    athleteId: 12342176n,
    athleteName: "Daniel Block",
  });
});

Deno.test("oauth: refresh answer without athlete (fixture); rejections and failures are typed, tokenless", async () => {
  const fixture = FIXTURES.refresh_token_grant;
  const answer = (r: Response | Error) => () => r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  const refresh = (r: Response | Error) => refreshTokens({ ...CLIENT, fetch: answer(r) }, "old-refresh-SECRET");
  deepStrictEqual(await refresh(json(200, fixture.body)), {
    accessToken: "new-access-token",
    refreshToken: "new-refresh-token",
    expiresAt: fixture.body.expires_at,
  });
  const noSecrets = (err: unknown) => {
    const text = `${(err as Error).message} ${(err as Error).stack}`;
    ok(!text.includes("SECRET") && !text.includes(CLIENT.clientSecret) && !text.includes("leaked"), text);
    return true;
  };
  const badRefresh = { message: "Bad Request", errors: [{ resource: "RefreshToken", field: "refresh_token" }] };
  await rejects(refresh(json(400, badRefresh)), (e) => e instanceof GrantRejectedError && e.rejected === "grant");
  await rejects(refresh(json(401, ERRORS["401_authorization_error"].body)), (e) => e instanceof GrantRejectedError);
  await rejects(
    refresh(json(400, ERRORS["400_token_invalid_client"].body)),
    (e) => e instanceof GrantRejectedError && e.rejected === "client" && /STRAVA_CLIENT_SECRET/.test(e.message),
  );
  await rejects(refresh(json(503, { message: "down" })), (e) => e instanceof RuntimeError && noSecrets(e));
  await rejects(refresh(new TypeError("connection refused")), (e) => e instanceof RuntimeError && noSecrets(e));
  await rejects(
    refresh(json(200, { token_type: "Bearer", access_token: "leaked", expires_at: 1 })),
    (e) => e instanceof RuntimeError && noSecrets(e),
  );
  await rejects(
    refresh(new Response("<html>", { status: 200, headers: { "content-type": "text/html" } })),
    (e) => e instanceof RuntimeError && noSecrets(e),
  );
  ok(blamesClient(JSON.stringify(ERRORS["400_token_invalid_client"].body)));
  ok(!blamesClient(JSON.stringify(ERRORS["400_token_invalid_code"].body)));
  ok(!blamesClient("not json"));
});

Deno.test("oauth: a token endpoint that never answers times out as a RuntimeError", async () => {
  const hang = (_: unknown, init?: RequestInit) =>
    new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
  await rejects(
    refreshTokens({ ...CLIENT, fetch: hang, timeoutMs: 20 }, "r"),
    (e) => e instanceof RuntimeError && /no answer within/.test(e.message),
  );
});

// ------------------------------------------------------------------------------------------------
// lib/strava/token_store.ts

Deno.test("token_store: tokens.json is written atomically with mode 0600, also over a 0644 file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/sub/tokens.json`;
  await Deno.mkdir(`${dir.path}/sub`);
  await Deno.writeTextFile(path, "{}", { mode: 0o644 });
  await Deno.chmod(path, 0o644);
  writeTokensFile(path, stored({ athleteId: 2n ** 60n }));
  strictEqual((await Deno.stat(path)).mode! & 0o777, 0o600);
  deepStrictEqual([...Deno.readDirSync(`${dir.path}/sub`)].map((e) => e.name), ["tokens.json"]); // no temp left
  const back = readTokensFile(path)!;
  strictEqual(back.athleteId, 2n ** 60n);
  strictEqual(back.refreshToken, "ref");
  strictEqual(back.issuedAt, Date.parse("2026-05-01T12:00:00.000Z"));
  throws(() => writeTokensFile(`${dir.path}/sub`, stored()), UsageError);
});

Deno.test("token_store: tokens.json as a raw Strava answer, missing, corrupt or without a refresh token", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.json`;
  strictEqual(readTokensFile(path), null);
  await Deno.writeTextFile(path, JSON.stringify(FIXTURES.authorization_code_exchange.body));
  const raw = readTokensFile(path)!;
  strictEqual(raw.athleteId, 12342176n);
  strictEqual(raw.updatedAt, null);
  // The file's own mtime, not Date.now(): the kernel stamps it, whatever clock the test runs on.
  strictEqual(raw.issuedAt, Deno.statSync(path).mtime!.getTime(), "mtime is the issue time");
  await Deno.writeTextFile(path, "{not json");
  throws(() => readTokensFile(path), (e) => e instanceof UsageError && /not valid JSON/.test(e.message));
  await Deno.writeTextFile(path, JSON.stringify({ access_token: "only-access" }));
  throws(() => readTokensFile(path), (e) => e instanceof UsageError && !e.message.includes("only-access"));
});

Deno.test("token_store: saving replaces the athlete's row, the traded-in token's row and unknown-athlete rows", async () => {
  await using dir = await tempDir();
  const db = openMigrated(`${dir.path}/t.db`, { create: true });
  try {
    saveDatabaseTokens(db, stored({ athleteId: null, refreshToken: "env-origin" }));
    deepStrictEqual(readDatabaseTokens(db).map((c) => [c.athleteId, c.refreshToken]), [[null, "env-origin"]]);
    // Once the athlete is known, the unknown-athlete row goes; another athlete's row stays.
    saveDatabaseTokens(db, stored({ athleteId: 4n, refreshToken: "first" }));
    saveDatabaseTokens(db, stored({ athleteId: 5n, refreshToken: "other-athlete" }));
    deepStrictEqual(readDatabaseTokens(db).map((c) => [c.athleteId, c.refreshToken]), [[4n, "first"], [
      5n,
      "other-athlete",
    ]]);
    db.exec("DELETE FROM tokens WHERE athlete_id = 4");
    // A refresh answer has no athlete: it takes over the athlete of the row it replaces.
    saveDatabaseTokens(db, stored({ athleteId: null, refreshToken: "r2" }), "other-athlete");
    deepStrictEqual(readDatabaseTokens(db).map((c) => [c.athleteId, c.refreshToken]), [[5n, "r2"]]);
    saveDatabaseTokens(db, stored({ athleteId: 9007199254740993n, refreshToken: "big" }));
    const ids = readDatabaseTokens(db).map((c) => c.athleteId);
    ok(ids.includes(9007199254740993n), String(ids));
  } finally {
    db.close();
  }
});

Deno.test("token_store: times from other tools are read; ranking is by issue time, then expiry, then source", () => {
  strictEqual(parseStoredTime("2026-05-01 12:00:00"), Date.UTC(2026, 4, 1, 12));
  strictEqual(parseStoredTime(1_777_000_000), 1_777_000_000_000);
  strictEqual(parseStoredTime("1777000000000"), 1_777_000_000_000);
  strictEqual(parseStoredTime("garbage"), null);
  const c = (source: TokenCandidate["source"], issuedAt: number | null, expiresAt: number | null) => ({
    ...stored({ refreshToken: `${source}-${issuedAt}-${expiresAt}` }),
    source,
    issuedAt,
    expiresAt,
  });
  const ranked = rankCandidates([
    c("STRAVA_REFRESH_TOKEN", null, null),
    c("database", 1000, 5),
    c("tokens.json", 2000, 1),
    c("database", null, 9),
    c("tokens.json", 1000, 5),
  ]);
  deepStrictEqual(ranked.map((x) => x.refreshToken), [
    "tokens.json-2000-1",
    "database-1000-5",
    "tokens.json-1000-5",
    "database-null-9",
    "STRAVA_REFRESH_TOKEN-null-null",
  ]);
});

Deno.test("token_store: the refresh lock is exclusive until released or its lease lapses", async () => {
  await using dir = await tempDir();
  const db = openMigrated(`${dir.path}/t.db`, { create: true });
  try {
    deepStrictEqual(tryLockRefresh(db, "a", 1000, 500), { acquired: true });
    deepStrictEqual(tryLockRefresh(db, "b", 1200, 500), { acquired: false, heldUntil: 1500 });
    deepStrictEqual(tryLockRefresh(db, "a", 1200, 500), { acquired: true }); // re-entrant for its owner
    unlockRefresh(db, "b"); // not b's: no effect
    deepStrictEqual(tryLockRefresh(db, "b", 1300, 500), { acquired: false, heldUntil: 1700 });
    deepStrictEqual(tryLockRefresh(db, "b", 1701, 500), { acquired: true }); // lease lapsed (holder died)
    unlockRefresh(db, "b");
    deepStrictEqual(tryLockRefresh(db, "a", 1702, 500), { acquired: true });
  } finally {
    db.close();
  }
});

// ------------------------------------------------------------------------------------------------
// lib/strava/tokens.ts

Deno.test("tokens: no token anywhere is an AuthError with SPEC's exact message", async () => {
  await using s = await setup();
  await rejects(s.provider().accessToken(), (e) => e instanceof AuthError && e.message === NO_TOKEN_MESSAGE);
  await rejects(
    s.provider({}, null).accessToken(),
    (e) => e instanceof AuthError && e.message === NO_TOKEN_MESSAGE,
  );
  strictEqual(s.endpoint.requests.length, 0);
});

Deno.test("tokens: STRAVA_ACCESS_TOKEN is used as is and a 401 on it is final", async () => {
  await using s = await setup();
  s.authorize();
  const provider = createTokenProvider({
    config: { ...CLIENT, accessToken: "direct-token" },
    db: s.db,
    tokensPath: s.tokensPath,
    fetch: s.endpoint.fetch,
  });
  strictEqual(await provider.accessToken(), "direct-token");
  await rejects(
    provider.refreshAfterUnauthorized("direct-token"),
    (e) => e instanceof AuthError && e.message === ACCESS_TOKEN_REJECTED_MESSAGE,
  );
  strictEqual(s.endpoint.requests.length, 0);
});

Deno.test("tokens: a valid stored access token is used without a request; within 5 minutes of expiry it is refreshed", async () => {
  await using s = await setup();
  const first = s.authorize();
  const provider = s.provider();
  strictEqual(await provider.accessToken(), first.accessToken);
  s.clock.advance((first.expiresAt! * 1000 - s.clock.now()) - 5 * 60_000 - 1000); // 5:01 left
  strictEqual(await provider.accessToken(), first.accessToken);
  s.clock.advance(2000); // 4:59 left: inside the margin
  const second = await provider.accessToken();
  ok(second !== first.accessToken);
  strictEqual(s.endpoint.refreshes, 1);
  strictEqual(s.endpoint.requests[0].get("refresh_token"), first.refreshToken);
  strictEqual(provider.refreshCount, 1);
  strictEqual(await provider.accessToken(), second); // cached, no request
  strictEqual(s.endpoint.refreshes, 1);
});

Deno.test("tokens: rotation across several runs: each run persists the new pair (db and file) before using it", async () => {
  await using s = await setup();
  s.authorize();
  const seen = new Set<string>();
  for (let run = 0; run < 4; run++) {
    s.clock.advance(6 * 3600_000); // every run starts with an expired access token
    const provider = s.provider(); // a new process: nothing in memory
    const token = await provider.accessToken();
    ok(!seen.has(token));
    seen.add(token);
    // Persisted before it was handed out: a crash now loses nothing.
    const [row] = readDatabaseTokens(s.db);
    const file = readTokensFile(s.tokensPath)!;
    strictEqual(row.accessToken, token);
    strictEqual(file.accessToken, token);
    strictEqual(row.refreshToken, file.refreshToken);
    ok(s.endpoint.valid.has(row.refreshToken), "the stored refresh token is the live one");
    strictEqual(s.endpoint.valid.size, 1, "every older refresh token is dead");
    strictEqual(row.athleteId, 777n, "athlete kept across refresh answers without athlete");
    strictEqual(row.scope, "read,activity:read_all", "scope kept");
    strictEqual((await Deno.stat(s.tokensPath)).mode! & 0o777, 0o600);
  }
  strictEqual(s.endpoint.refreshes, 4);
});

Deno.test("tokens: the most recently issued token wins; a rejected one falls back to the next", async () => {
  await using s = await setup();
  // tokens.json newer than the database row: the file's token is used.
  const older = s.authorize("2026-05-01T10:00:00.000Z");
  const t = s.endpoint.issue();
  writeTokensFile(
    s.tokensPath,
    stored({
      accessToken: t.access_token,
      refreshToken: t.refresh_token,
      expiresAt: 1,
      updatedAt: "2026-05-01T11:00:00Z",
    }),
  );
  await s.provider().accessToken();
  strictEqual(s.endpoint.requests.at(-1)!.get("refresh_token"), t.refresh_token);
  ok(s.endpoint.valid.has(older.refreshToken), "the older token was not touched");

  // Now every stored token is dead (revoked); STRAVA_REFRESH_TOKEN is the last resort.
  s.endpoint.valid.clear();
  const envToken = s.endpoint.issue().refresh_token;
  s.clock.advance(7 * 3600_000);
  const provider = s.provider({ config: { ...CLIENT, refreshToken: envToken } });
  await provider.accessToken();
  deepStrictEqual(s.endpoint.requests.slice(-2).map((r) => r.get("refresh_token") === envToken), [false, true]);
  strictEqual(readTokensFile(s.tokensPath)!.athleteId, 777n, "the env token's new pair keeps the known athlete");
  strictEqual(readDatabaseTokens(s.db).length, 1);
});

Deno.test("tokens: only STRAVA_REFRESH_TOKEN, no database: works and writes tokens.json", async () => {
  await using s = await setup();
  const envToken = s.endpoint.issue().refresh_token;
  const provider = s.provider({ config: { ...CLIENT, refreshToken: envToken } }, null);
  const token = await provider.accessToken();
  strictEqual(readTokensFile(s.tokensPath)!.accessToken, token);
  strictEqual(readDatabaseTokens(s.db).length, 0);
});

Deno.test("tokens: a revoked refresh token is a clear AuthError without any token in it", async () => {
  await using s = await setup();
  const record = s.authorize();
  s.endpoint.valid.clear();
  s.clock.advance(7 * 3600_000);
  const err = await s.provider().accessToken().catch((e) => e);
  ok(err instanceof AuthError, String(err));
  strictEqual(err.message, REFRESH_REJECTED_MESSAGE);
  ok(/setup_auth/.test(err.message));
  ok(!err.message.includes(record.refreshToken) && !err.message.includes(CLIENT.clientSecret));
  strictEqual(s.endpoint.refreshes, 1, "the same token is not tried twice (db and file hold it both)");
  deepStrictEqual(readDatabaseTokens(s.db)[0].refreshToken, record.refreshToken, "nothing stored changed");
});

Deno.test("tokens: a refresh needs the client id and secret; a valid stored access token does not", async () => {
  await using s = await setup();
  const record = s.authorize();
  const noClient = { config: { oauthUrl: OAUTH } };
  strictEqual(await s.provider(noClient).accessToken(), record.accessToken);
  s.clock.advance(7 * 3600_000);
  await rejects(
    s.provider(noClient).accessToken(),
    (e) => e instanceof AuthError && /STRAVA_CLIENT_ID/.test(e.message) && /settings\/api/.test(e.message),
  );
  await rejects(
    s.provider({ config: { ...CLIENT, clientSecret: "wrong" } }).accessToken(),
    (e) => e instanceof AuthError && /STRAVA_CLIENT_SECRET/.test(e.message) && !e.message.includes("wrong"),
  );
});

Deno.test("tokens: after a 401 it refreshes once, or takes the pair another process already obtained", async () => {
  await using s = await setup();
  const record = s.authorize();
  const a = s.provider();
  const b = s.provider();
  strictEqual(await a.accessToken(), record.accessToken);
  strictEqual(await b.accessToken(), record.accessToken);
  const renewed = await a.refreshAfterUnauthorized(record.accessToken!);
  ok(renewed !== record.accessToken);
  strictEqual(s.endpoint.refreshes, 1);
  // b got a 401 on the old token too: the stored pair is newer, so no second refresh.
  strictEqual(await b.refreshAfterUnauthorized(record.accessToken!), renewed);
  strictEqual(s.endpoint.refreshes, 1);
  // A 401 on the newest token itself does refresh.
  ok((await b.refreshAfterUnauthorized(renewed)) !== renewed);
  strictEqual(s.endpoint.refreshes, 2);
});

Deno.test("tokens: two providers on one database refreshing at once make one request and agree", async () => {
  await using s = await setup();
  s.authorize();
  s.clock.advance(7 * 3600_000);
  // Separate connections, as two processes would have; real (short) sleeps while waiting for the lock.
  const other = openMigrated(s.dbPath);
  try {
    let release!: () => void;
    s.endpoint.hold = new Promise((resolve) => release = resolve);
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    const a = s.provider({ sleep, lockPollMs: 5 });
    const b = s.provider({ sleep, lockPollMs: 5 }, other);
    const pa = a.accessToken();
    const pb = b.accessToken();
    await sleep(50); // b is polling the lock while a's request is held
    strictEqual(s.endpoint.requests.length, 1);
    release();
    const [ta, tb] = await Promise.all([pa, pb]);
    strictEqual(ta, tb);
    strictEqual(s.endpoint.refreshes, 1);
    strictEqual(a.refreshCount + b.refreshCount, 1);
    strictEqual(readDatabaseTokens(other)[0].accessToken, ta);
    ok(s.endpoint.valid.has(readTokensFile(s.tokensPath)!.refreshToken));
    // The lock is free again.
    deepStrictEqual(tryLockRefresh(s.db, "probe", s.clock.now(), 1000), { acquired: true });
  } finally {
    other.close();
  }
});

Deno.test("tokens: concurrent calls within one provider share one refresh", async () => {
  await using s = await setup();
  s.authorize();
  s.clock.advance(7 * 3600_000);
  const provider = s.provider();
  const tokens = await Promise.all([provider.accessToken(), provider.accessToken(), provider.accessToken()]);
  strictEqual(new Set(tokens).size, 1);
  strictEqual(s.endpoint.refreshes, 1);
});

Deno.test("tokens: a lock left by a crashed process is taken over when its lease lapses", async () => {
  await using s = await setup();
  s.authorize();
  s.clock.advance(7 * 3600_000);
  tryLockRefresh(s.db, "crashed", s.clock.now(), 60_000);
  const token = await s.provider().accessToken(); // virtual sleeps advance the clock past the lease
  ok(token);
  strictEqual(s.endpoint.refreshes, 1);
  ok(s.clock.sleeps.length > 0 && s.clock.sleeps.reduce((a, b) => a + b) >= 60_000);
});

Deno.test("tokens: if tokens.json cannot be written the database still gets the pair; if neither, an error", async () => {
  await using s = await setup();
  s.authorize();
  s.clock.advance(7 * 3600_000);
  // A name the file system accepts but whose temp sibling (longer) it refuses: writing fails, reading works.
  const dirAsFile = `${s.dir.path}/${"t".repeat(240)}.json`;
  const token = await s.provider({ tokensPath: dirAsFile }).accessToken();
  strictEqual(readDatabaseTokens(s.db)[0].accessToken, token);

  s.clock.advance(7 * 3600_000);
  s.db.exec(`CREATE TRIGGER full BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'disk is full'); END`);
  const err = await s.provider({ tokensPath: dirAsFile }).accessToken().catch((e) => e);
  ok(err instanceof RuntimeError, String(err));
  ok(/disk is full/.test(err.message) && /run setup_auth/.test(err.message), err.message);
  ok(!err.message.includes(token) && !err.message.includes(readDatabaseTokens(s.db)[0].refreshToken), err.message);
});

// ------------------------------------------------------------------------------------------------
// Against the Strava simulator: in-process with a virtual clock, and as separate processes.

/** Stores a pair the simulator issued, as setup_auth would. */
function storeIssued(
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

Deno.test("tokens+sim: expiry and rotation over several runs by a virtual clock; a 401 refreshes once and retries", async () => {
  await using dir = await tempDir();
  const clock = new VirtualClock();
  const sim = StravaSimulator.inProcess({ now: clock.now });
  const db = openMigrated(`${dir.path}/segments.db`, { create: true });
  const tokensPath = `${dir.path}/tokens.json`;
  try {
    storeIssued(db, tokensPath, sim.issueTokens(), clock.now());
    const run = async () => {
      const tokens = new RefreshingTokenProvider({
        config: { ...CLIENT, oauthUrl: sim.oauthUrl, clientSecret: "sim-secret" },
        db,
        tokensPath,
        fetch: sim.fetch,
        now: clock.now,
        sleep: clock.sleep,
      });
      const limiter = new RateLimiter({ db, now: clock.now });
      const client = new StravaClient({ apiUrl: sim.apiUrl, tokens, limiter, fetch: sim.fetch, now: clock.now });
      const athlete = await client.getAthlete();
      strictEqual(athlete.id, sim.truth.athleteId);
      return tokens.refreshCount;
    };
    strictEqual(await run(), 0, "a fresh token is used as is");
    for (let i = 0; i < 3; i++) {
      clock.advance(6 * 3600_000 - 4 * 60_000); // 4 minutes before expiry: refreshed ahead, never a 401
      strictEqual(await run(), 1);
      strictEqual(sim.validRefreshTokens(), 1, "exactly one live refresh token: the stored one");
    }
    strictEqual(sim.requests.filter((r) => r.path === "/api/v3/athlete" && r.status === 401).length, 0);
    strictEqual(readDatabaseTokens(db)[0].athleteId, sim.truth.athleteId, "kept across refresh answers");

    // The access token dies early (revoked on Strava's side): 401, one refresh, one retry.
    sim.revokeAccessTokens();
    strictEqual(await run(), 1);
    const athleteCalls = sim.requests.filter((r) => r.path === "/api/v3/athlete").slice(-2).map((r) => r.status);
    deepStrictEqual(athleteCalls, [401, 200]);
  } finally {
    db.close();
    await sim.close();
  }
});

Deno.test("tokens+sim: two providers on one database refresh at once over HTTP: one refresh, same token", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start();
  const path = `${dir.path}/segments.db`;
  const one = openMigrated(path, { create: true });
  const two = openMigrated(path);
  try {
    // Stored as expiring now: both must refresh, and only one may.
    storeIssued(one, `${dir.path}/tokens.json`, sim.issueTokens(), Date.now(), Math.floor(Date.now() / 1000));
    const make = (db: DatabaseSync) =>
      new RefreshingTokenProvider({
        config: { ...CLIENT, oauthUrl: sim.oauthUrl, clientSecret: "sim-secret" },
        db,
        tokensPath: `${dir.path}/tokens.json`,
        lockPollMs: 5,
      });
    const [a, b] = [make(one), make(two)];
    const [ta, tb] = await Promise.all([a.accessToken(), b.accessToken()]);
    strictEqual(ta, tb);
    strictEqual(sim.requests.filter((r) => r.path === "/oauth/token").length, 1);
    strictEqual(sim.validRefreshTokens(), 1);
    strictEqual(readDatabaseTokens(two)[0].accessToken, ta);
  } finally {
    one.close();
    two.close();
  }
});

/** Runs tests/token_probe.ts (one backfill-like run) under the backfill's permissions. */
async function probe(cwd: string, sim: StravaSimulator, env: Record<string, string> = {}): Promise<ScriptResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      `--config=${ROOT}deno.json`,
      ...permissionFlags("incremental_backfill", [sim.host]),
      `${ROOT}tests/token_probe.ts`,
      "--db",
      "segments.db",
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

function assertClean(results: ScriptResult[], secrets: (string | null | undefined)[]): void {
  for (const r of results) {
    for (const secret of [...secrets, "sim-secret"]) {
      if (secret) ok(!(r.stdout + r.stderr).includes(secret), `a secret appears in:\n${r.stdout}${r.stderr}`);
    }
  }
}

Deno.test("tokens+sim subprocesses: runs across expiry refresh after the 401 and rotate; the rest reuse the token", async () => {
  await using dir = await tempDir();
  // The simulator's clock jumps ahead; the subprocesses' clocks are real, so they learn of expiry by a 401.
  const clock = new VirtualClock(Date.now());
  await using sim = await StravaSimulator.start({ now: clock.now });
  const db = openMigrated(`${dir.path}/segments.db`, { create: true });
  const secrets: string[] = [];
  try {
    const first = storeIssued(db, `${dir.path}/tokens.json`, sim.issueTokens(), Date.now());
    secrets.push(first.accessToken!, first.refreshToken);
  } finally {
    db.close();
  }
  const results: ScriptResult[] = [];
  const runOnce = async (expectedRefreshes: number) => {
    const r = await probe(dir.path, sim);
    results.push(r);
    strictEqual(r.code, 0, r.stderr);
    strictEqual(r.stdout.trim(), `athlete ${sim.truth.athleteId} refreshes ${expectedRefreshes}`);
  };
  await runOnce(0);
  await runOnce(0);
  for (let i = 0; i < 3; i++) {
    clock.advance(7 * 3600_000);
    await runOnce(1);
    strictEqual(sim.validRefreshTokens(), 1);
    const file = readTokensFile(`${dir.path}/tokens.json`)!;
    secrets.push(file.accessToken!, file.refreshToken);
    strictEqual((await Deno.stat(`${dir.path}/tokens.json`)).mode! & 0o777, 0o600);
  }
  const statuses = sim.requests.filter((r) => r.path === "/api/v3/athlete").map((r) => r.status);
  deepStrictEqual(statuses, [200, 200, 401, 200, 401, 200, 401, 200]);
  strictEqual(sim.requests.filter((r) => r.path === "/oauth/token").length, 3);
  assertClean(results, secrets);
});

Deno.test("tokens+sim subprocesses: ahead-of-expiry refresh; concurrent runs share one refresh", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ accessTokenTtlSeconds: 120 }); // always within 5 minutes
  const db = openMigrated(`${dir.path}/segments.db`, { create: true });
  try {
    storeIssued(db, `${dir.path}/tokens.json`, sim.issueTokens(), Date.now());
  } finally {
    db.close();
  }
  const r1 = await probe(dir.path, sim);
  strictEqual(r1.code, 0, r1.stderr);
  strictEqual(r1.stdout.trim(), `athlete ${sim.truth.athleteId} refreshes 1`);
  strictEqual(sim.requests.filter((r) => r.status === 401).length, 0, "refreshed before the token expired");

  const before = sim.requests.filter((r) => r.path === "/oauth/token").length;
  const both = await Promise.all([probe(dir.path, sim), probe(dir.path, sim)]);
  for (const r of both) strictEqual(r.code, 0, r.stderr);
  // Each run finds a token inside the margin; without the lock the second would trade in a dead token.
  const refreshes = both.map((r) => Number(r.stdout.trim().split(" ").at(-1)));
  strictEqual(sim.requests.filter((r) => r.path === "/oauth/token").length - before, refreshes[0] + refreshes[1]);
  strictEqual(sim.requests.filter((r) => r.path === "/oauth/token" && r.status !== 200).length, 0);
  strictEqual(sim.validRefreshTokens(), 1);
  const file = readTokensFile(`${dir.path}/tokens.json`)!;
  assertClean([r1, ...both], [file.accessToken, file.refreshToken]);
});

Deno.test("tokens+sim subprocesses: a revoked refresh token and no token at all are clear exit-3 errors", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start();
  openMigrated(`${dir.path}/segments.db`, { create: true }).close();
  const none = await probe(dir.path, sim);
  strictEqual(none.code, 3, none.stderr);
  strictEqual(none.stderr.trim(), `error: ${NO_TOKEN_MESSAGE}`);

  const db = openMigrated(`${dir.path}/segments.db`);
  let record: StoredTokens;
  try {
    record = storeIssued(db, `${dir.path}/tokens.json`, sim.issueTokens(), Date.now());
  } finally {
    db.close();
  }
  sim.revokeRefreshTokens();
  sim.revokeAccessTokens();
  const revoked = await probe(dir.path, sim, { STRAVA_REFRESH_TOKEN: "env-refresh-token-also-dead" });
  strictEqual(revoked.code, 3, revoked.stderr);
  strictEqual(revoked.stderr.trim(), `error: ${REFRESH_REJECTED_MESSAGE}`);
  assertClean([none, revoked], [record.accessToken, record.refreshToken, "env-refresh-token-also-dead"]);

  // With STRAVA_ACCESS_TOKEN the token is used as is; a 401 on it says so.
  const direct = await probe(dir.path, sim, { STRAVA_ACCESS_TOKEN: "direct-access-token" });
  strictEqual(direct.code, 3, direct.stderr);
  strictEqual(direct.stderr.trim(), `error: ${ACCESS_TOKEN_REJECTED_MESSAGE}`);
  assertClean([direct], ["direct-access-token"]);
});

Deno.test("tokens: no log line carries a token or the client secret (every path logged at debug level)", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["strava-backfill"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await using s = await setup();
    const secrets: string[] = [CLIENT.clientSecret];
    const first = s.authorize();
    secrets.push(first.accessToken!, first.refreshToken);
    s.clock.advance(7 * 3600_000);
    const provider = s.provider({ config: { ...CLIENT, refreshToken: "env-token-dead" } });
    secrets.push("env-token-dead");
    const token = await provider.accessToken(); // refresh, logged
    secrets.push(token, readTokensFile(s.tokensPath)!.refreshToken);
    await s.provider().accessToken(); // stored token, logged at debug
    s.endpoint.valid.clear();
    s.clock.advance(7 * 3600_000);
    await provider.accessToken().catch(() => {}); // rejected twice (db/file, env), logged as warnings
    ok(records.length >= 4, `${records.length} log records`);
    for (const record of records) {
      const text = record.message.map(String).join("") + Deno.inspect(record.properties, { depth: 5 });
      for (const secret of secrets) ok(!text.includes(secret), `log line leaks a secret: ${text}`);
    }
  } finally {
    await reset();
  }
});
