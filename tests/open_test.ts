import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase, openReadOnly, transaction } from "../lib/store/db.ts";
import {
  assertToolDatabase,
  classifyDatabase,
  type DatabaseKind,
  openForReading,
  openMigrated,
  openToolDatabase,
} from "../lib/store/open.ts";
import { LATEST_VERSION, migrate } from "../lib/store/schema.ts";
import { RuntimeError, UsageError } from "../lib/errors.ts";
import { collectStats } from "../lib/backfill/stats.ts";
import { emptyState } from "../lib/backfill/state_file.ts";
import { fileDigest, tempDir } from "./helpers.ts";

/** Makes a SQLite file as another program would (plain node:sqlite, rollback journal). */
function makeDb(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  db.exec(sql);
  db.close();
}

const list = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

function kindOf(path: string): DatabaseKind["kind"] {
  using r = openForReadingAny(path);
  return r.kind;
}

/** classifyDatabase on a read-only connection, without the refusal of openForReading. */
function openForReadingAny(path: string): { kind: DatabaseKind["kind"] } & Disposable {
  const db = new DatabaseSync(path, { readOnly: true });
  const found = classifyDatabase(db);
  return { kind: found.kind, [Symbol.dispose]: () => db.close() };
}

Deno.test("classifyDatabase: empty, seed, ours, newer and foreign files", async () => {
  await using dir = await tempDir();
  const p = (name: string) => `${dir.path}/${name}`;
  makeDb(p("empty.db"), "PRAGMA user_version = 0");
  makeDb(p("seed.db"), "CREATE TABLE activities (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE notes (x)");
  makeDb(p("notes0.db"), "CREATE TABLE notes (id INTEGER PRIMARY KEY); CREATE TABLE users (id, name)");
  makeDb(p("notes7.db"), "CREATE TABLE notes (id INTEGER PRIMARY KEY); PRAGMA user_version = 7");
  makeDb(p("empty7.db"), "PRAGMA user_version = 7");
  makeDb(p("unkeyed.db"), "CREATE TABLE activities (id INTEGER, name TEXT)");
  makeDb(p("stamped.db"), "CREATE TABLE activities (id INTEGER PRIMARY KEY); PRAGMA application_id = 1234");
  // Another app with an activities table and its own numbering is not "newer than this tool".
  makeDb(p("other_app7.db"), "CREATE TABLE activities (id INTEGER PRIMARY KEY); PRAGMA user_version = 7");
  const ours = openDatabase(p("ours.db"), { create: true });
  migrate(ours);
  ours.exec(`PRAGMA user_version = ${LATEST_VERSION + 5}`);
  ours.close();
  const current = openDatabase(p("current.db"), { create: true });
  migrate(current);
  current.close();
  deepStrictEqual(
    Object.fromEntries(
      ["empty", "seed", "notes0", "notes7", "empty7", "unkeyed", "stamped", "other_app7", "ours", "current"]
        .map((n) => [n, kindOf(p(`${n}.db`))]),
    ),
    {
      empty: "empty",
      seed: "seed",
      notes0: "foreign",
      notes7: "foreign",
      empty7: "foreign",
      unkeyed: "foreign",
      stamped: "foreign",
      other_app7: "foreign",
      ours: "newer",
      current: "ours",
    },
  );
});

Deno.test("another application's database is refused before any write: same bytes, no -wal, -shm or lock", async () => {
  await using dir = await tempDir();
  for (const version of [0, 7]) {
    const path = `${dir.path}/x${version}.db`;
    makeDb(path, `CREATE TABLE users (id, name); CREATE TABLE notes (id, body); PRAGMA user_version = ${version}`);
    const before = await fileDigest(path);
    const expected = `${path} is a SQLite database of another application (tables: notes, users${
      version ? "; user_version 7" : ""
    }); not touching it`;
    for (const open of [() => openMigrated(path), () => openToolDatabase(path, { create: true })]) {
      throws(open, (e: Error) => e instanceof UsageError && e.message === expected);
    }
    throws(() => assertToolDatabase(path), UsageError);
    throws(() => openForReading(path), (e: Error) => e.message === expected);
    strictEqual(await fileDigest(path), before);
  }
  deepStrictEqual(list(dir.path), ["x0.db", "x7.db"]);
});

Deno.test("the seed toolkit's database and an empty SQLite file are adopted", async () => {
  await using dir = await tempDir();
  makeDb(`${dir.path}/seed.db`, "CREATE TABLE activities (id INTEGER PRIMARY KEY, name TEXT)");
  makeDb(`${dir.path}/empty.db`, "PRAGMA user_version = 0");
  for (const name of ["seed.db", "empty.db"]) {
    const db = openMigrated(`${dir.path}/${name}`);
    strictEqual(classifyDatabase(db).kind, "ours");
    db.close();
  }
});

Deno.test("a database written by a newer version of the tool is refused as newer, untouched", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/new.db`;
  const db = openDatabase(path, { create: true });
  migrate(db);
  db.exec(`PRAGMA user_version = ${LATEST_VERSION + 1}`);
  db.close();
  const before = await fileDigest(path);
  throws(() => openMigrated(path), /written by a newer strava-backfill .*update strava-backfill/);
  strictEqual(await fileDigest(path), before);
  using reading = openForReading(path); // stats reads what it can, and says so
  ok(reading.note?.includes("newer"), reading.note ?? "");
});

Deno.test("a created database, its -wal and -shm, are private (0600)", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/data/p.db`;
  const db = openMigrated(path, { create: true });
  try {
    db.exec("INSERT INTO activities (id) VALUES (1)");
    for (const name of ["p.db", "p.db-wal", "p.db-shm"]) {
      strictEqual((Deno.statSync(`${dir.path}/data/${name}`).mode! & 0o777).toString(8), "600", name);
    }
  } finally {
    db.close();
  }
});

Deno.test("a database with a second hard link is refused before SQLite opens it", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/a.db`;
  openMigrated(path, { create: true }).close();
  Deno.linkSync(path, `${dir.path}/b.db`);
  const before = await fileDigest(path);
  for (const open of [() => openMigrated(path), () => openForReading(`${dir.path}/b.db`)]) {
    throws(open, (e: Error) => e instanceof UsageError && /has 2 hard links/.test(e.message));
  }
  strictEqual(await fileDigest(path), before);
});

Deno.test("stats reads a seed database as it is: never migrates it, says the schema is older, unknowns are null", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/seed.db`;
  makeDb(
    path,
    `CREATE TABLE activities (id INTEGER PRIMARY KEY, segment_efforts_processed INTEGER DEFAULT 0);
     CREATE TABLE segment_efforts (id INTEGER PRIMARY KEY, activity_id INTEGER, segment_id INTEGER);
     INSERT INTO activities VALUES (1, 1), (2, 0); INSERT INTO segment_efforts VALUES (10, 1, 100);`,
  );
  const before = await fileDigest(path);
  {
    using reading = openForReading(path);
    ok(reading.note?.includes("older than this tool") && reading.note.includes("update_schema"), reading.note ?? "");
    const stats = collectStats(reading.db, emptyState(), Date.UTC(2026, 0, 1), 0.9, undefined, reading.note);
    strictEqual(stats.activities.total, 2);
    strictEqual(stats.activities.processed, 1);
    strictEqual(stats.efforts, 1);
    strictEqual(stats.segments.total, null); // no segments table yet
    strictEqual(stats.schema.version, 0);
    strictEqual(stats.eta.finish_at, null);
  }
  strictEqual(await fileDigest(path), before);
  deepStrictEqual(list(dir.path), ["seed.db"]);
});

Deno.test("a write that waits out another program's lock names the file and what to do", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/busy.db`;
  openMigrated(path, { create: true }).close();
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE; INSERT INTO activities (id) VALUES (1)");
  const db = openDatabase(path, { busyTimeoutMs: 50 });
  try {
    throws(
      () => transaction(db, () => db.exec("INSERT INTO activities (id) VALUES (2)")),
      (e: Error) =>
        e instanceof RuntimeError && e.message.startsWith(`database ${path} is locked`) &&
        e.message.includes("then run again"),
    );
  } finally {
    db.close();
    holder.exec("ROLLBACK");
    holder.close();
  }
});

Deno.test("reading a rollback-journal database another program holds exclusively names the file too", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/seed.db`;
  makeDb(path, "CREATE TABLE activities (id INTEGER PRIMARY KEY)");
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN EXCLUSIVE; INSERT INTO activities VALUES (1)");
  try {
    throws(
      () => openReadOnly(path, { busyTimeoutMs: 50 }),
      (e: Error) => e instanceof RuntimeError && e.message.startsWith(`database ${path} is locked`),
    );
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
});
