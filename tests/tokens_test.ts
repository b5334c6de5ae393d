import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { AuthError, InterruptedError, RuntimeError } from "../lib/errors.ts";
import { openMigrated } from "../lib/store/open.ts";
import {
  lockTokens,
  readDatabaseTokens,
  readTokensFile,
  type StoredTokens,
  writeTokensFile,
} from "../lib/strava/token_store.ts";
import { ACCESS_TOKEN_REJECTED_MESSAGE } from "../lib/strava/client.ts";
import {
  createTokenProvider,
  NO_TOKEN_MESSAGE,
  REFRESH_REJECTED_MESSAGE,
  RefreshingTokenProvider,
} from "../lib/strava/tokens.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { StravaClient } from "../lib/strava/client.ts";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { type ScriptResult, tempDir } from "./helpers.ts";
import { assertClean, CLIENT, OAUTH, probe, setup, stored, storeIssued } from "./token_helpers.ts";

Deno.test("tokens: no token anywhere is an AuthError with the documented message", async () => {
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
    const lock = await lockTokens(s.tokensPath, { waitMs: 0, pollMs: 1, sleep });
    strictEqual(lock.notHeld, null);
    lock.release();
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

Deno.test("tokens: a lock held past the wait (a hung holder) is refreshed without after 60 s; a signal ends the wait", async () => {
  await using s = await setup();
  s.authorize();
  s.clock.advance(7 * 3600_000);
  const hung = await lockTokens(s.tokensPath, { waitMs: 0, pollMs: 1, sleep: s.clock.sleep });
  try {
    const controller = new AbortController();
    // SIGINT arrives while the provider sleeps between two looks at the lock.
    const sleep = () => Promise.resolve(controller.abort());
    await rejects(s.provider({ signal: controller.signal, sleep }).accessToken(), InterruptedError);
    strictEqual(s.endpoint.requests.length, 0, "nothing sent while waiting");
    const token = await s.provider().accessToken(); // virtual sleeps advance the clock past the wait
    ok(token);
    strictEqual(s.endpoint.refreshes, 1);
    ok(s.clock.sleeps.length > 0 && s.clock.sleeps.reduce((a, b) => a + b) >= 60_000);
  } finally {
    hung.release();
  }
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
      const limiter = new RateLimiter({ now: clock.now });
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
