import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { existsSync } from "node:fs";
import { logger, setupLogging } from "../lib/log.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { createDatabase, runScript, tempDir } from "./helpers.ts";

Deno.test("log: plain lines, exact ids, unbuffered, rotated when the file grows", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/logs/backfill.log`;
  const close = await setupLogging({ path, maxBytes: 400 });
  try {
    logger("backfill").info("activity {id}: stored {n} segment efforts", { id: 3476329154738394512n, n: 3 });
    // Written at once: a kill -9 right now would lose nothing.
    const first = await Deno.readTextFile(path);
    ok(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z \[INF\] strava-backfill\.backfill: activity 3476329154738394512: stored 3/.test(first),
      first,
    );
    logger("backfill").debug("not shown without --verbose");
    for (let i = 0; i < 10; i++) logger("backfill").info("line {i} of some length to fill the file", { i });
  } finally {
    await close();
  }
  const files = [...Deno.readDirSync(`${dir.path}/logs`)].map((e) => e.name).sort();
  ok(files.includes("backfill.log.1"), files.join(","));
  ok(files.length <= 5);
  const all = files.map((f) => Deno.readTextFileSync(`${dir.path}/logs/${f}`)).join("");
  strictEqual(all.includes("not shown"), false);
  ok(all.includes("line 9 of"));
});

Deno.test("log: rotation moves older lines to .1, .2 …, in order; a new file is 0600, an existing one keeps its mode", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/backfill.log`;
  Deno.writeTextFileSync(path, "an older line\n");
  Deno.chmodSync(path, 0o640);
  const close = await setupLogging({ path, maxBytes: 200 });
  try {
    for (let i = 0; i < 8; i++) logger("run").info("line {i} of a run", { i });
  } finally {
    await close();
  }
  const rotated = [5, 4, 3, 2, 1].map((n) => `${path}.${n}`).filter((p) => existsSync(p));
  ok(rotated.length >= 2, rotated.join(","));
  const lines = [...rotated, path].flatMap((p) => Deno.readTextFileSync(p).trimEnd().split("\n"));
  deepStrictEqual(lines.map((l) => l.replace(/^.*strava-backfill\.run: /, "")), [
    "an older line",
    ...Array.from({ length: 8 }, (_, i) => `line ${i} of a run`),
  ]);
  for (const p of [...rotated, path]) ok(Deno.statSync(p).size <= 200, p);
  if (Deno.build.os !== "windows") {
    strictEqual(Deno.statSync(rotated[0]).mode! & 0o777, 0o640);
    strictEqual(Deno.statSync(path).mode! & 0o777, 0o600);
  }
});

const LOG_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z \[ERR\] strava-backfill\.run: run ended: (.*) \(exit (\d)\)$/;

/** The error lines of `dir`'s backfill.log, as [message, exit code]. */
function loggedErrors(dir: string, name = "backfill.log"): [string, number][] {
  return Deno.readTextFileSync(`${dir}/${name}`).split("\n").flatMap((line) => {
    const m = line.match(LOG_LINE);
    return m ? [[m[1], Number(m[2])] as [string, number]] : [];
  });
}

Deno.test("log: a run that ends in exit 3 leaves its error line, with its time, in backfill.log", async () => {
  await using dir = await tempDir();
  createDatabase(dir.path);
  const r = await runScript("manage_backfill", ["--mode", "one-time"], { cwd: dir.path });
  strictEqual(r.code, 3, r.stderr);
  const message = "No refresh token found. Please authenticate with Strava first.";
  strictEqual(r.stderr, `error: ${message}\n`);
  deepStrictEqual(loggedErrors(dir.path), [[message, 3]]);
});

Deno.test("log: a missing database and a revoked token end the run in --log-file too; no secret is logged", async () => {
  await using dir = await tempDir();
  // A missing database (exit 2), before anything else is opened.
  const missing = await runScript("incremental_backfill", ["--log-file", "logs/run.log"], {
    cwd: dir.path,
    env: { STRAVA_ACCESS_TOKEN: "secret-access-token" },
  });
  strictEqual(missing.code, 2, missing.stderr);
  const [[message, code]] = loggedErrors(dir.path, "logs/run.log");
  strictEqual(`error: ${message}\n`, missing.stderr);
  strictEqual(code, 2);
  // A revoked refresh token (exit 3): neither it nor the client secret reaches output or log.
  createDatabase(dir.path);
  await using sim = await StravaSimulator.start({ seed: 1, activities: 2, segments: 1 });
  const tokens = sim.issueTokens();
  sim.revokeRefreshTokens();
  const env = {
    STRAVA_API_URL: sim.apiUrl,
    STRAVA_OAUTH_URL: sim.oauthUrl,
    STRAVA_CLIENT_ID: "12345",
    STRAVA_CLIENT_SECRET: "sim-secret-value",
    STRAVA_REFRESH_TOKEN: tokens.refresh_token,
  };
  const denied = await runScript("incremental_backfill", ["--mode", "activities"], {
    cwd: dir.path,
    env,
    hosts: [sim.host],
  });
  strictEqual(denied.code, 3, denied.stderr + denied.stdout);
  const errors = loggedErrors(dir.path);
  strictEqual(errors.length, 1);
  strictEqual(`error: ${errors[0][0]}\n`, denied.stderr);
  const log = Deno.readTextFileSync(`${dir.path}/backfill.log`);
  for (const secret of [tokens.refresh_token, tokens.access_token, "sim-secret-value"]) {
    strictEqual(log.includes(secret) || denied.stderr.includes(secret), false, "a secret was written");
  }
});

Deno.test("log: stats and the hand-run scripts write no log file", async () => {
  await using dir = await tempDir();
  createDatabase(dir.path);
  strictEqual((await runScript("manage_backfill", ["--mode", "stats"], { cwd: dir.path })).code, 0);
  strictEqual((await runScript("import_archive", ["missing.zip"], { cwd: dir.path })).code, 2);
  strictEqual((await runScript("update_schema", ["--db", "other.db"], { cwd: dir.path })).code, 2);
  deepStrictEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["data"]);
});
