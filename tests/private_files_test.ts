/**
 * Tokens stay private on disk: the database (with -wal and -shm), the log and the state file
 * are created 0600, and an existing token file or database readable by others gets one warning
 * with the chmod that fixes it. Modes do not apply on Windows.
 */
import { strictEqual } from "node:assert/strict";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { createDatabase, runScript, simEnv, tempDir, withDatabase } from "./helpers.ts";

const mode = (path: string) => (Deno.statSync(path).mode! & 0o777).toString(8);

Deno.test({
  name: "files the tool creates are 0600: database, -wal, -shm, log, state file",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    await using sim = await StravaSimulator.start({ seed: 3, activities: 4, segments: 3 });
    const created = await runScript("update_schema", ["--create"], { cwd: dir.path });
    strictEqual(created.code, 0, created.stderr);
    strictEqual(mode(`${dir.path}/data/segments.db`), "600");
    const opts = { cwd: dir.path, env: simEnv(sim), hosts: [sim.host] };
    const child = await runScript("manage_backfill", ["--mode", "one-time"], opts);
    strictEqual(child.code, 0, child.stderr);
    for (const file of ["data/segments.db", "backfill.log", "backfill_state.json"]) {
      strictEqual(mode(`${dir.path}/${file}`), "600", file);
    }
    // -wal and -shm exist while a connection is open; SQLite gives them the database's mode.
    withDatabase(dir.path, () => {
      for (const file of ["data/segments.db-wal", "data/segments.db-shm"]) {
        strictEqual(mode(`${dir.path}/${file}`), "600", file);
      }
    });
  },
});

Deno.test({
  name: "a token file and a database with tokens readable by others: one warning each, with the chmod",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    await using sim = await StravaSimulator.start({ seed: 3, activities: 3, segments: 2 });
    createDatabase(dir.path);
    const tokens = sim.issueTokens();
    await Deno.writeTextFile(
      `${dir.path}/tokens.json`,
      JSON.stringify({ ...tokens, athlete: { id: String(tokens.athlete?.id) } }),
      {
        mode: 0o644,
      },
    );
    Deno.chmodSync(`${dir.path}/tokens.json`, 0o644);
    const env = {
      STRAVA_API_URL: sim.apiUrl,
      STRAVA_OAUTH_URL: sim.oauthUrl,
      STRAVA_CLIENT_ID: "1",
      STRAVA_CLIENT_SECRET: "s",
    };
    const opts = { cwd: dir.path, env, hosts: [sim.host] };
    const run = await runScript("incremental_backfill", ["--mode", "activities"], opts);
    strictEqual(run.code, 0, run.stderr);
    strictEqual(
      run.stderr.trim(),
      "warning: tokens.json holds your Strava tokens and is readable by other users (mode 0644); " +
        "make it private with: chmod 600 tokens.json",
    );
    strictEqual(mode(`${dir.path}/tokens.json`), "644", "the user's file mode is theirs to change");
    withDatabase(dir.path, (db) => {
      db.prepare("INSERT INTO tokens (athlete_id, access_token, refresh_token) VALUES (1, ?, ?)")
        .run(tokens.access_token, tokens.refresh_token);
    });
    Deno.chmodSync(`${dir.path}/data/segments.db`, 0o640);
    const stats = await runScript("manage_backfill", [], opts);
    strictEqual(stats.code, 0, stats.stderr);
    strictEqual(
      stats.stderr.trim(),
      "warning: data/segments.db holds your Strava tokens and is readable by other users (mode 0640); " +
        "make it private with: chmod 600 data/segments.db",
    );
    Deno.chmodSync(`${dir.path}/data/segments.db`, 0o600);
    Deno.chmodSync(`${dir.path}/tokens.json`, 0o600);
    const quiet = await runScript("incremental_backfill", ["--mode", "activities"], opts);
    strictEqual(quiet.stderr, "", "private files: no warning");
  },
});

Deno.test({
  name: "setup_auth warns before it stores tokens in a database readable by others",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    createDatabase(dir.path);
    Deno.chmodSync(`${dir.path}/data/segments.db`, 0o644);
    const env = {
      STRAVA_CLIENT_ID: "1",
      STRAVA_CLIENT_SECRET: "s",
      STRAVA_OAUTH_URL: "http://127.0.0.1:9/oauth",
      STRAVA_API_URL: "http://127.0.0.1:9/api/v3",
    };
    // Nothing listens on port 9: the exchange fails, after the database was opened and checked.
    const r = await runScript("setup_auth", ["--code", "abc", "--no-browser"], {
      cwd: dir.path,
      env,
      hosts: ["127.0.0.1:9"],
    });
    strictEqual(
      r.stderr.split("\n")[0],
      "warning: data/segments.db holds your Strava tokens and is readable by other users (mode 0644); " +
        "make it private with: chmod 600 data/segments.db",
    );
  },
});
