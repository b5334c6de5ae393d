/**
 * `setup_auth.ts --revoke` end to end: the script runs as a subprocess under its binary's
 * permissions against the simulator's oauth/revoke, with tokens stored where setup_auth stores
 * them (the database and tokens.json) and a .env the tool must never touch.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { openMigrated } from "../lib/store/open.ts";
import { lockTokens, readDatabaseTokens, saveDatabaseTokens, writeTokensFile } from "../lib/strava/token_store.ts";
import { revokeAuthorization } from "../lib/auth/revoke.ts";
import { StravaSimulator, type TokenResponse } from "../lib/testing/strava_sim.ts";
import { createDatabase, fileDigest, runScript, type ScriptResult, tempDir, withDatabase } from "./helpers.ts";

const SECRET = "sim-secret";

/** A folder with a database, and a simulator holding one issued pair (stored in neither yet). */
async function revokeWorld() {
  const dir = await tempDir();
  const sim = await StravaSimulator.start({ seed: 5, activities: 4, segments: 3 });
  createDatabase(dir.path);
  const pair = sim.issueTokens();
  const env = { STRAVA_OAUTH_URL: sim.oauthUrl, STRAVA_API_URL: sim.apiUrl };
  return {
    dir,
    sim,
    pair,
    /** Runs `script` in the folder against the simulator, with `extra` variables. */
    run: (script: "setup_auth" | "incremental_backfill", args: string[], extra: Record<string, string> = {}) =>
      runScript(script, args, { cwd: dir.path, env: { ...env, ...extra }, hosts: [sim.host] }),
    async [Symbol.asyncDispose]() {
      await sim.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Stores `pair` in the database and tokens.json, as setup_auth does. */
function storePair(dir: string, pair: TokenResponse): void {
  const record = {
    athleteId: 1n,
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: pair.expires_at,
    scope: "read,activity:read_all",
    updatedAt: "2026-06-02T10:00:00.000Z",
  };
  const db = openMigrated(`${dir}/data/segments.db`, { storesTokens: true });
  saveDatabaseTokens(db, record);
  db.close();
  writeTokensFile(`${dir}/tokens.json`, record);
}

function storedRows(dir: string): number {
  return withDatabase(dir, (db) => readDatabaseTokens(db).length);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function assertNoSecrets(r: ScriptResult, secrets: string[]): void {
  for (const s of secrets) {
    ok(!(r.stdout + r.stderr).includes(s), `a secret appears in the output:\n${r.stdout}${r.stderr}`);
  }
}

Deno.test("setup_auth --revoke: one revoke with Basic credentials, tokens gone from the database and tokens.json, .env untouched; the next backfill exits 3", async () => {
  await using w = await revokeWorld();
  const { dir, sim, pair } = w;
  storePair(dir.path, pair);
  const envText =
    `STRAVA_CLIENT_ID=12345\nSTRAVA_CLIENT_SECRET=${SECRET}\nSTRAVA_REFRESH_TOKEN=${pair.refresh_token}\n`;
  Deno.writeTextFileSync(`${dir.path}/.env`, envText);
  const envDigest = await fileDigest(`${dir.path}/.env`);

  const r = await w.run("setup_auth", ["--revoke"]);
  strictEqual(r.code, 0, r.stderr);
  deepStrictEqual(r.stdout.split("\n"), [
    "Revoked the Strava authorization; removed the tokens from data/segments.db and tokens.json.",
    "Delete STRAVA_REFRESH_TOKEN from .env yourself: it holds a revoked token (setup_auth never edits .env).",
    "",
  ]);
  strictEqual(r.stderr, "");
  assertNoSecrets(r, [pair.refresh_token, pair.access_token, SECRET]);
  // One request: the three stores held the same token, revoked once.
  deepStrictEqual(sim.requests.map((q) => [q.method, q.path, q.status, q.auth]), [
    ["POST", "/oauth/revoke", 200, "basic:token#1"],
  ]);
  strictEqual(sim.validRefreshTokens(), 0);
  strictEqual(storedRows(dir.path), 0);
  ok(!exists(`${dir.path}/tokens.json`), "tokens.json is removed");
  strictEqual(await fileDigest(`${dir.path}/.env`), envDigest, ".env is byte-identical");

  // The revoked token still in .env: Strava refuses it, and the run says to run setup_auth.
  const next = await w.run("incremental_backfill", ["--mode", "activities"]);
  strictEqual(next.code, 3, next.stderr);
  ok(/^error: .*run setup_auth\.ts/.test(next.stderr.trim()), next.stderr);
  strictEqual(next.stderr.trim().split("\n").length, 1, next.stderr);
  // Once the user deleted it as told: no token anywhere, still exit 3.
  Deno.writeTextFileSync(`${dir.path}/.env`, `STRAVA_CLIENT_ID=12345\nSTRAVA_CLIENT_SECRET=${SECRET}\n`);
  const none = await w.run("incremental_backfill", ["--mode", "activities"]);
  strictEqual(none.code, 3, none.stderr);
  strictEqual(none.stderr, "error: No refresh token found. Please authenticate with Strava first.\n");
  ok(sim.requests.every((q) => q.tokenOutsideHeader === undefined));
});

Deno.test("setup_auth --revoke: a token Strava calls invalid is still removed locally, and the line says so", async () => {
  await using w = await revokeWorld();
  const { dir, sim, pair } = w;
  storePair(dir.path, pair);
  sim.revokeRefreshTokens();
  const r = await w.run("setup_auth", ["--revoke"], { STRAVA_CLIENT_ID: "12345", STRAVA_CLIENT_SECRET: SECRET });
  strictEqual(r.code, 0, r.stderr);
  strictEqual(
    r.stdout,
    "Strava says the token was already invalid (revoked or expired), so nothing was left to revoke; removed the " +
      "tokens from data/segments.db and tokens.json.\n",
  );
  strictEqual(sim.requests.filter((q) => q.path === "/oauth/revoke").length, 1);
  strictEqual(storedRows(dir.path), 0);
  ok(!exists(`${dir.path}/tokens.json`));
});

Deno.test("setup_auth --revoke: wrong client credentials or no answer keep every local token (exit 3, exit 1)", async () => {
  await using w = await revokeWorld();
  const { dir, sim, pair } = w;
  storePair(dir.path, pair);
  const before = await fileDigest(`${dir.path}/tokens.json`);
  const wrong = await w.run("setup_auth", ["--revoke"], { STRAVA_CLIENT_ID: "12345", STRAVA_CLIENT_SECRET: "nope" });
  strictEqual(wrong.code, 3, wrong.stderr);
  ok(
    /^error: Strava rejected the application's credentials \(HTTP 401\).*; the local tokens were kept\n$/.test(
      wrong.stderr,
    ),
  );
  assertNoSecrets(wrong, ["nope", pair.refresh_token]);
  const down = await w.run("setup_auth", ["--revoke"], {
    STRAVA_CLIENT_ID: "12345",
    STRAVA_CLIENT_SECRET: SECRET,
    STRAVA_OAUTH_URL: "http://127.0.0.1:9/oauth",
  });
  strictEqual(down.code, 1, down.stderr);
  ok(
    /^error: could not reach Strava's revoke endpoint .*; the local tokens were kept\n$/.test(down.stderr),
    down.stderr,
  );
  const missing = await w.run("setup_auth", ["--revoke"]);
  strictEqual(missing.code, 3, missing.stderr);
  ok(missing.stderr.includes("STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET are needed to revoke"), missing.stderr);
  strictEqual(storedRows(dir.path), 1);
  strictEqual(await fileDigest(`${dir.path}/tokens.json`), before);
  strictEqual(sim.validRefreshTokens(), 1);
});

Deno.test("setup_auth --revoke: with only STRAVA_ACCESS_TOKEN it revokes that; with nothing it says so; flow flags are refused", async () => {
  await using w = await revokeWorld();
  const { sim, pair } = w;
  const creds = { STRAVA_CLIENT_ID: "12345", STRAVA_CLIENT_SECRET: SECRET };
  const access = await w.run("setup_auth", ["--revoke"], { ...creds, STRAVA_ACCESS_TOKEN: pair.access_token });
  strictEqual(access.code, 0, access.stderr);
  strictEqual(
    access.stdout,
    "Revoked the Strava authorization; no local copy to remove.\n" +
      "Unset STRAVA_ACCESS_TOKEN in your environment: it holds a revoked token.\n",
  );
  strictEqual(sim.validRefreshTokens(), 0, "revoking the access token revoked its refresh token");
  const nothing = await w.run("setup_auth", ["--revoke"], creds);
  strictEqual(nothing.code, 0, nothing.stderr);
  strictEqual(nothing.stdout, "No Strava tokens found (nothing to revoke); no local copy to remove.\n");
  strictEqual(sim.requests.length, 1);
  const flow = await w.run("setup_auth", ["--revoke", "--code", "abc"], creds);
  strictEqual(flow.code, 2);
  strictEqual(flow.stderr, "error: --revoke cannot be combined with --code (see --help)\n");
});

Deno.test("setup_auth --revoke (in process): it waits while a refresh holds the token lock, then revokes and removes", async () => {
  await using w = await revokeWorld();
  const dir = w.dir.path;
  storePair(dir, w.pair);
  await Deno.writeTextFile(`${dir}/.env`, "");
  const env: Record<string, string> = {
    STRAVA_CLIENT_ID: "12345",
    STRAVA_CLIENT_SECRET: SECRET,
    STRAVA_OAUTH_URL: w.sim.oauthUrl,
    STRAVA_API_URL: w.sim.apiUrl,
  };
  // A backfill in the middle of a refresh (another open of the lock file: flock excludes it as another process).
  const refreshing = await lockTokens(`${dir}/tokens.json`, { waitMs: 0, pollMs: 1, sleep: () => Promise.resolve() });
  const lines: string[] = [];
  const revoking = revokeAuthorization(
    { envPath: `${dir}/.env`, dbPath: `${dir}/data/segments.db`, tokensPath: `${dir}/tokens.json` },
    { out: (line) => lines.push(line), err: (line) => lines.push(line), getEnv: (name) => env[name] },
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  strictEqual(w.sim.requests.length, 0, "nothing revoked while the lock is held");
  strictEqual(storedRows(dir), 1);
  refreshing.release();
  await revoking;
  ok(
    lines.length === 1 && lines[0].startsWith("Revoked the Strava authorization; removed the tokens from"),
    lines.join("\n"),
  );
  strictEqual(storedRows(dir), 0);
  strictEqual(w.sim.validRefreshTokens(), 0);
});
