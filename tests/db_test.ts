import { deepStrictEqual, notStrictEqual, strictEqual, throws } from "node:assert/strict";
import { openDatabase, prepareExact, transaction } from "../lib/store/db.ts";
import { UsageError } from "../lib/errors.ts";
import { fileDigest, tempDatabase, tempDir } from "./helpers.ts";

Deno.test("openDatabase refuses a missing file without create and leaves nothing behind", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/data/x.db`;
  throws(() => openDatabase(path), (e: Error) => e instanceof UsageError && e.message.includes("--create"));
  strictEqual([...Deno.readDirSync(dir.path)].length, 0);
});

Deno.test("openDatabase creates the folder and a WAL database with create", async () => {
  await using dir = await tempDir();
  const db = openDatabase(`${dir.path}/data/x.db`, { create: true });
  try {
    strictEqual((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
    strictEqual((db.prepare("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys, 1);
  } finally {
    db.close();
  }
});

Deno.test("openDatabase refuses a junk file and a directory, leaving them untouched", async () => {
  await using dir = await tempDir();
  const junk = `${dir.path}/junk.db`;
  await Deno.writeTextFile(junk, "this is not a database, just text\n".repeat(100));
  const before = await fileDigest(junk);
  throws(() => openDatabase(junk, { create: true }), /not a SQLite database/);
  strictEqual(await fileDigest(junk), before);
  deepStrictEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["junk.db"]);
  throws(() => openDatabase(dir.path, { create: true }), /is a directory/);
});

Deno.test("openDatabase refuses an unwritable file", {
  ignore: Deno.uid() === 0, // root can write anything; the check is meaningful only for users
}, async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/ro.db`;
  openDatabase(path, { create: true }).close();
  await Deno.chmod(path, 0o444);
  throws(() => openDatabase(path), /permission denied/);
});

Deno.test("transaction commits, and rolls back everything on error", async () => {
  await using world = await tempDatabase("t.db");
  const { db } = world;
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  transaction(db, () => db.exec("INSERT INTO t VALUES (1)"));
  throws(() =>
    transaction(db, () => {
      db.exec("INSERT INTO t VALUES (2)");
      throw new Error("boom");
    }), /boom/);
  deepStrictEqual(db.prepare("SELECT id FROM t").all().map((r) => r.id), [1]);
  strictEqual(db.isTransaction, false);
});

Deno.test("ids above 2^53 round-trip exactly", async () => {
  await using world = await tempDatabase("ids.db");
  const { db } = world;
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  const ids = [9007199254740993n, 3476329154738394512n, 9223372036854775807n];
  for (const id of ids) db.prepare("INSERT INTO t VALUES (?)").run(id);
  deepStrictEqual(prepareExact(db, "SELECT id FROM t ORDER BY id").all().map((r) => r.id), ids);
  // Without bigints node:sqlite refuses rather than rounding, which is why prepareExact exists.
  throws(() => db.prepare("SELECT id FROM t").all());
});

Deno.test("prepareExact prepares a statement once per database and SQL text, and it stays usable", async () => {
  await using world = await tempDatabase("cache.db");
  const { db } = world;
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)");
  const insert = "INSERT INTO t (id, n) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET n = n + excluded.n";
  strictEqual(prepareExact(db, insert), prepareExact(db, insert));
  notStrictEqual(prepareExact(db, insert), prepareExact(db, `${insert} `));
  for (let i = 0; i < 3; i++) prepareExact(db, insert).run(1n, 2);
  // A schema change since it was prepared: SQLite prepares it again by itself.
  db.exec("ALTER TABLE t ADD COLUMN extra TEXT");
  prepareExact(db, insert).run(2n, 1);
  const rows = prepareExact(db, "SELECT id, n FROM t ORDER BY id").all().map((r) => [r.id, r.n]);
  deepStrictEqual(rows, [[1n, 6n], [2n, 1n]]);
  // Another database (here the same file opened again) gets its own statements.
  const other = openDatabase(db.location()!);
  try {
    notStrictEqual(prepareExact(other, insert), prepareExact(db, insert));
    strictEqual(prepareExact(other, "SELECT count(*) n FROM t").get()!.n, 2n);
  } finally {
    other.close();
  }
});
