import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { InterruptedError, UsageError } from "../lib/errors.ts";
import { openMigrated } from "../lib/store/open.ts";
import { tableExists } from "../lib/store/db.ts";
import { schemaVersion } from "../lib/store/schema.ts";
import {
  lockTokens,
  parseStoredTime,
  rankCandidates,
  readDatabaseTokens,
  readTokensFile,
  saveDatabaseTokens,
  type TokenCandidate,
  writeTokensFile,
} from "../lib/strava/token_store.ts";
import { tempDir } from "./helpers.ts";
import { FIXTURES, stored } from "./token_helpers.ts";

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
  // 0600 as the tool writes it: a shared file would (rightly) print a warning into the test output.
  await Deno.writeTextFile(path, JSON.stringify(FIXTURES.authorization_code_exchange.body), { mode: 0o600 });
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

Deno.test("token_store: the token lock is exclusive until released; a wait ends by time, by signal, or finds no folder", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.json`;
  const sleeps: number[] = [];
  const wait = { waitMs: 1000, pollMs: 100, sleep: (ms: number) => Promise.resolve(void sleeps.push(ms)) };
  const first = await lockTokens(path, wait);
  strictEqual(first.notHeld, null);
  strictEqual(Deno.statSync(`${path}.lock`).mode! & 0o777, 0o600);
  // Another open (as another process would have) waits the whole time, then is told why.
  const second = await lockTokens(path, wait);
  strictEqual(second.notHeld?.reason, "busy");
  strictEqual(sleeps.length, 10);
  const controller = new AbortController();
  const interrupted = lockTokens(path, {
    ...wait,
    signal: controller.signal,
    sleep: () => Promise.resolve(controller.abort()),
  });
  await rejects(interrupted, InterruptedError);
  first.release();
  first.release(); // idempotent
  const third = await lockTokens(path, wait);
  strictEqual(third.notHeld, null);
  third.release();
  strictEqual(Deno.readTextFileSync(`${path}.lock`), "", "the lock file stays, empty");
  const nowhere = await lockTokens(`${dir.path}/missing/tokens.json`, wait);
  strictEqual(nowhere.notHeld?.reason, "unavailable");
});

Deno.test("schema 8: a version-7 database loses its token_refresh_lock table (and its row); its tokens stay", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/v7.db`;
  const db = openMigrated(path, { create: true });
  saveDatabaseTokens(db, stored());
  db.exec(`CREATE TABLE token_refresh_lock (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
           INSERT INTO token_refresh_lock VALUES ('refresh', 'a crashed backfill', 9999999999999);
           PRAGMA user_version = 7`);
  db.close();
  const again = openMigrated(path);
  try {
    strictEqual(schemaVersion(again), 8);
    ok(!tableExists(again, "token_refresh_lock"));
    deepStrictEqual(readDatabaseTokens(again).map((c) => c.refreshToken), ["ref"]);
  } finally {
    again.close();
  }
});
