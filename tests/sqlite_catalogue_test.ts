import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { readRawCatalogue } from "../lib/store/sqlite_catalogue.ts";
import { openMigrated } from "../lib/store/open.ts";
import { tempDir } from "./helpers.ts";

/** What SQLite itself says, for comparison. */
function truth(path: string) {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all().map((r) => String(r.name)).sort();
    const version = Number(db.prepare("PRAGMA user_version").get()!.user_version);
    const applicationId = Number(db.prepare("PRAGMA application_id").get()!.application_id);
    return { version, applicationId, tables };
  } finally {
    db.close();
  }
}

function raw(path: string) {
  const found = readRawCatalogue(path);
  return found && { ...found, tables: [...found.tables].sort() };
}

Deno.test("readRawCatalogue reads what SQLite reads: small, many-page and long-named catalogues", async () => {
  await using dir = await tempDir();
  const cases: Record<string, string> = {
    small:
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX i ON notes(body); PRAGMA user_version = 7",
    // 512-byte pages and 150 tables: the catalogue spans interior and leaf pages.
    many: "PRAGMA page_size = 512; BEGIN; " +
      Array.from({ length: 150 }, (_, i) => `CREATE TABLE t${i} (a, b, c); CREATE VIEW v${i} AS SELECT 1;`).join(" ") +
      " COMMIT;",
    long: `CREATE TABLE "${"x".repeat(200)}" (${Array.from({ length: 200 }, (_, i) => `c${i} TEXT`).join(", ")});` +
      "PRAGMA application_id = 42",
    wal: "PRAGMA journal_mode = WAL; CREATE TABLE users (id, name); CREATE TABLE sessions (id)",
  };
  for (const [name, sql] of Object.entries(cases)) {
    const path = `${dir.path}/${name}.db`;
    const db = new DatabaseSync(path);
    db.exec(sql);
    db.close();
    deepStrictEqual(raw(path), truth(path), name);
  }
  const ours = `${dir.path}/ours.db`;
  openMigrated(ours, { create: true }).close();
  deepStrictEqual(raw(ours), truth(ours));
});

Deno.test("readRawCatalogue gives up (null) on what it does not read, never guesses", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/utf16.db`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA encoding = 'UTF-16le'; CREATE TABLE t (x)");
  db.close();
  strictEqual(readRawCatalogue(path), null);
  const bytes = Deno.readFileSync(`${dir.path}/utf16.db`);
  bytes[100] = 0x42; // page 1 is no b-tree page any more
  Deno.writeFileSync(`${dir.path}/damaged.db`, bytes);
  strictEqual(readRawCatalogue(`${dir.path}/damaged.db`), null);
});
