import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { columnsOf, openDatabase, prepareExact } from "../lib/store/db.ts";
import { PENDING_ACTIVITIES } from "../lib/store/backfill_store.ts";
import { LATEST_VERSION, migrate, schemaVersion, TABLES } from "../lib/store/schema.ts";
import { tempDatabase, tempDir } from "./helpers.ts";
import { SEED_TOOLKIT_SCHEMA } from "./seed_schema.ts";

function dump(path: string): string {
  const db = openDatabase(path);
  try {
    const schema = db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
    return JSON.stringify({ schema, version: schemaVersion(db) });
  } finally {
    db.close();
  }
}

Deno.test("migrate creates every table and column, and a second run changes nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/s.db`;
  const db = openDatabase(path, { create: true });
  const report = migrate(db);
  strictEqual(report.from, 0);
  strictEqual(report.to, LATEST_VERSION);
  for (const [table, columns] of Object.entries(TABLES)) {
    deepStrictEqual(columnsOf(db, table), columns.map(([name]) => name), table);
  }
  db.close();
  const before = dump(path);
  const again = openDatabase(path);
  strictEqual(migrate(again).applied.length, 0);
  again.close();
  strictEqual(dump(path), before);
});

Deno.test("the pending-work queries use indexes", async () => {
  await using world = await tempDatabase("s.db");
  const { db } = world;
  migrate(db);
  const plan = (sql: string) => db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail)).join("; ");
  ok(
    plan(
      "SELECT id FROM activities WHERE segment_efforts_processed = 0 ORDER BY start_date DESC LIMIT 50",
    ).includes("idx_activities_pending"),
  );
  ok(plan("SELECT id FROM segments WHERE details_status IS NULL").includes("idx_segments_details_status"));
  ok(plan("SELECT id FROM segment_efforts WHERE activity_id = 1").includes("idx_segment_efforts_activity"));
  ok(plan("SELECT count(*) FROM segment_efforts WHERE segment_id = 1").includes("idx_segment_efforts_segment"));
});

Deno.test("the pending counts and next-batch queries read only pending rows through the version 7 indexes", async () => {
  await using world = await tempDatabase("s.db");
  const { db } = world;
  migrate(db);
  const plan = (sql: string) => db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail)).join("; ");
  const next = plan(
    `SELECT id FROM activities WHERE ${PENDING_ACTIVITIES} AND 1 ORDER BY start_date DESC, id DESC LIMIT 50`,
  );
  ok(next.includes("idx_activities_pending_live") && !next.includes("TEMP B-TREE"), next);
  const count = plan(`SELECT count(*) n FROM activities WHERE ${PENDING_ACTIVITIES} AND 1`);
  ok(count.includes("idx_activities_pending_live"), count);
  const segments = plan("SELECT count(*) n FROM segments s WHERE s.details_status IS NULL AND 1");
  ok(segments.includes("idx_segments_pending_details") || segments.includes("idx_segments_details_status"), segments);
});

// The Python toolkit's layout (tests/seed_schema.ts), with a user's rows, columns and tables.
const LEGACY = SEED_TOOLKIT_SCHEMA + `
INSERT INTO activities VALUES (1, 'Morning Ride', 'Ride', '2024-05-01T07:00:00Z', 30000, 3600, 3700, 1, '{"id":1}', '2024-05-02T00:00:00Z', 'great');
INSERT INTO activities VALUES (2, 'Evening Ride', 'Ride', '2024-05-03T18:00:00Z', 20000, 2400, 2500, 0, NULL, NULL, NULL);
INSERT INTO segment_efforts VALUES (3476329154738394512, 1, 100, 'Climb A', 300, '2024-05-01T07:10:00Z', '{}');
INSERT INTO segment_efforts VALUES (3476329154738394513, 1, 200, 'Sprint B', 30, '2024-05-01T07:20:00Z', '{}');
INSERT INTO segments VALUES (100, 'Climb A', 1500, 80, 5000, '{"id":100}', '2024-05-02T00:00:00Z', 1);
INSERT INTO my_stuff VALUES ('keep me');
`;

Deno.test("a Python-toolkit database is adopted without losing a row, a column or a request", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/legacy.db`;
  const db = openDatabase(path, { create: true });
  db.exec(LEGACY);
  const userColumns = {
    activities: columnsOf(db, "activities"),
    segment_efforts: columnsOf(db, "segment_efforts"),
    segments: columnsOf(db, "segments"),
  };
  migrate(db);
  try {
    for (const [table, before] of Object.entries(userColumns)) {
      const after = columnsOf(db, table);
      for (const c of before) ok(after.includes(c), `${table}.${c} kept`);
      for (const [c] of TABLES[table]) ok(after.includes(c), `${table}.${c} added`);
    }
    deepStrictEqual(
      db.prepare("SELECT id, segment_efforts_processed p, efforts_status s, my_notes FROM activities ORDER BY id")
        .all().map((r) => ({ ...r })),
      [{ id: 1, p: 1, s: "ok", my_notes: "great" }, { id: 2, p: 0, s: null, my_notes: null }],
    );
    deepStrictEqual(
      db.prepare("SELECT id, details_status s, favourite, details_fetched_at f FROM segments ORDER BY id").all()
        .map((r) => ({ ...r })),
      [
        { id: 100, s: "ok", favourite: 1, f: "2024-05-02T00:00:00Z" },
        { id: 200, s: null, favourite: null, f: null }, // referenced by an effort: now pending
      ],
    );
    deepStrictEqual(
      prepareExact(db, "SELECT id FROM segment_efforts ORDER BY id").all().map((r) => r.id),
      [3476329154738394512n, 3476329154738394513n],
    );
    strictEqual(db.prepare("SELECT x FROM my_stuff").get()?.x, "keep me");
    strictEqual(schemaVersion(db), LATEST_VERSION);
  } finally {
    db.close();
  }
});

Deno.test("an activities table from another tool without the processed flag is adopted", async () => {
  await using world = await tempDatabase("other.db");
  const { db } = world;
  db.exec(`CREATE TABLE activities (id INTEGER PRIMARY KEY, title TEXT, start_date TEXT);
           CREATE TABLE segment_efforts (id INTEGER PRIMARY KEY, activity_id INTEGER, segment_id INTEGER);
           INSERT INTO activities VALUES (10, 'has efforts', '2020-01-01T00:00:00Z'), (11, 'none', '2020-01-02T00:00:00Z');
           INSERT INTO segment_efforts VALUES (5, 10, 77);`);
  migrate(db);
  deepStrictEqual(
    db.prepare("SELECT id, title, segment_efforts_processed p, efforts_status s FROM activities ORDER BY id").all()
      .map((r) => ({ ...r })),
    [{ id: 10, title: "has efforts", p: 1, s: "ok" }, { id: 11, title: "none", p: 0, s: null }],
  );
  deepStrictEqual(db.prepare("SELECT id, details_status FROM segments").all().map((r) => ({ ...r })), [
    { id: 77, details_status: null },
  ]);
});

Deno.test("a database from a newer version of the tool is refused", async () => {
  await using world = await tempDatabase("new.db");
  const { db } = world;
  db.exec(`PRAGMA user_version = ${LATEST_VERSION + 1}`);
  throws(() => migrate(db), /written by a newer strava-backfill/);
});
