/**
 * The pieces behind tests/fs_guard_test.ts, in process: the database identity check, a full
 * database inside a transaction (SQLite's own SQLITE_FULL through `max_page_count`), the client
 * refusing a host the permissions do not grant before it reserves any budget, and the one lines.
 * (Symlink refusals need scoped write permissions, so they are tested only as subprocesses.)
 */
import { ok, rejects, strictEqual, throws } from "node:assert/strict";
import { assertStillNamed, openDatabase, transaction } from "../lib/store/db.ts";
import { DiskFullError, exitCodeOf, RuntimeError, UsageError } from "../lib/errors.ts";
import { netRefusal } from "../lib/permissions.ts";
import { describeError } from "../lib/cli.ts";
import { staticTokenProvider, StravaClient } from "../lib/strava/client.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { MemoryRateState } from "../lib/testing/memory_rate_state.ts";
import { tempDir } from "./helpers.ts";

Deno.test("assertStillNamed: quiet while the path names the open file; deleted or replaced is a RuntimeError naming it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/x.db`;
  const db = openDatabase(path, { create: true });
  try {
    assertStillNamed(db);
    db.exec("CREATE TABLE t (x)"); // writing keeps the file's identity
    assertStillNamed(db);
    Deno.renameSync(path, `${path}.moved`);
    throws(
      () => assertStillNamed(db),
      (e: Error) => e instanceof RuntimeError && e.message.includes(`${path} was deleted`),
    );
    Deno.copyFileSync(`${path}.moved`, path); // a restore: same name, another file
    throws(
      () => assertStillNamed(db),
      (e: Error) => e instanceof RuntimeError && e.message.includes(`${path} was replaced`),
    );
    Deno.renameSync(`${path}.moved`, path); // the very file back under its name
    assertStillNamed(db);
  } finally {
    db.close();
  }
});

Deno.test("transaction: a full database is one DiskFullError naming the file, never 'cannot rollback'", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/full.db`;
  const db = openDatabase(path, { create: true });
  try {
    db.exec("CREATE TABLE t (x BLOB)");
    db.exec("PRAGMA max_page_count = 8"); // SQLite answers SQLITE_FULL past 8 pages, as on a full disk
    const err = (() => {
      try {
        transaction(db, () => {
          for (let i = 0; i < 100; i++) db.prepare("INSERT INTO t VALUES (zeroblob(4000))").run();
        });
      } catch (e) {
        return e as Error;
      }
      throw new Error("the transaction did not fail");
    })();
    ok(err instanceof DiskFullError, `${err.name}: ${err.message}`);
    strictEqual(exitCodeOf(err), 1);
    ok(err.message.startsWith(`the disk holding ${path} is full`), err.message);
    ok(!/rollback/.test(err.message), err.message);
    strictEqual(db.isTransaction, false);
    strictEqual((db.prepare("SELECT count(*) n FROM t").get() as { n: number }).n, 0, "nothing half-stored");
  } finally {
    db.close();
  }
});

Deno.test("client: a host the permissions do not grant is a UsageError at once: no retry, no budget reserved", async () => {
  // The tests run with --allow-net=127.0.0.1: 192.0.2.1 (TEST-NET) is refused, and never contacted.
  const state = new MemoryRateState();
  const limiter = new RateLimiter({ state });
  const sleeps: number[] = [];
  const client = new StravaClient({
    apiUrl: "http://192.0.2.1:8080/api/v3",
    tokens: staticTokenProvider("t"),
    limiter,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  const before = JSON.stringify(limiter.status());
  await rejects(client.getAthlete(), (e: Error) => {
    ok(e instanceof UsageError, `${e.name}: ${e.message}`);
    strictEqual(exitCodeOf(e), 2);
    ok(e.message.includes("192.0.2.1:8080") && e.message.includes("--allow-net=192.0.2.1:8080"), e.message);
    return true;
  });
  strictEqual(sleeps.length, 0, "not retried");
  strictEqual(JSON.stringify(limiter.status()), before, "no budget reserved or spent");
});

Deno.test("netRefusal and describeError: one line with the permission that grants it; a binary's are baked in", () => {
  const run = netRefusal("http://127.0.0.1:4567/api/v3", "STRAVA_API_URL", false).message;
  strictEqual(
    run,
    "STRAVA_API_URL points at 127.0.0.1:4567, which this program's permissions do not allow (it needs " +
      "--allow-net=127.0.0.1:4567); unset STRAVA_API_URL, or run the script with --allow-net=127.0.0.1:4567",
  );
  const binary = netRefusal("https://api.example.test/api/v3", "STRAVA_API_URL", true).message;
  ok(binary.includes("this binary's permissions are baked in when it is compiled"), binary);
  ok(!binary.includes("\n"));
  const path = describeError(
    new Deno.errors.NotCapable('Requires write access to "/tmp/b.log", run again with the --allow-write flag'),
  );
  strictEqual(
    path,
    "write access to /tmp/b.log is not allowed by this program's permissions (it needs --allow-write=/tmp/b.log); " +
      `use a path in the folder it runs in, or see "Permissions" in the README.`,
  );
});
