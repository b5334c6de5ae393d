import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { migrate, schemaVersion } from "../lib/store/schema.ts";
import { MAX_ATTEMPTS, requeueFailed, settleActivity } from "../lib/store/backfill_store.ts";
import { collectStats } from "../lib/backfill/stats.ts";
import { emptyState } from "../lib/backfill/state_file.ts";
import { type Harness, harness, seedFromArchive } from "./backfill_harness.ts";
import { tempDatabase } from "./helpers.ts";
import { SEED_TOOLKIT_SCHEMA } from "./seed_schema.ts";

const SETTLED = ["ok", "skipped", "not_found", "forbidden", "failed"];

/** What a user of the seed's toolkit checks after a complete backfill. */
function assertNothingPendingBySeedRule(h: Harness): void {
  const n = (sql: string) => Number((h.db.prepare(sql).get() as { n: number }).n);
  strictEqual(n("SELECT count(*) n FROM activities WHERE segment_efforts_processed = 0"), 0);
  strictEqual(n("SELECT count(*) n FROM activities WHERE efforts_status IS NULL"), 0);
  const statuses = h.db.prepare("SELECT DISTINCT efforts_status s FROM activities").all().map((r) => String(r.s));
  ok(statuses.every((s) => SETTLED.includes(s)), statuses.join());
}

Deno.test("backfill_store: after a complete backfill no activity has segment_efforts_processed = 0 (fresh database)", async () => {
  await using h = await harness({ activities: 80, wait: true });
  const result = await h.oneTime();
  strictEqual(result.outcome, "done");
  assertNothingPendingBySeedRule(h);
  const statuses = new Set(h.db.prepare("SELECT efforts_status s FROM activities").all().map((r) => r.s));
  deepStrictEqual([...statuses].sort(), ["ok", "skipped"]);
});

Deno.test("backfill_store: after a complete backfill no activity has segment_efforts_processed = 0 (imported export)", async () => {
  await using h = await harness({ activities: 80, wait: true, scope: "read,activity:read" });
  seedFromArchive(h.db, h.sim.truth.activities);
  strictEqual((await h.oneTime()).outcome, "done");
  assertNothingPendingBySeedRule(h);
  const statuses = new Set(h.db.prepare("SELECT efforts_status s FROM activities").all().map((r) => r.s));
  deepStrictEqual([...statuses].sort(), ["not_found", "ok", "skipped"], "deleted and private ones are not_found");
  const stats = collectStats(h.db, emptyState(), h.clock.now());
  strictEqual(stats.activities.pending, 0);
  strictEqual(stats.activities.processed, stats.activities.total);
});

Deno.test("backfill_store: a database of the seed's Python toolkit is backfilled until the seed's own query finds nothing pending", async () => {
  await using h = await harness({
    activities: 80,
    wait: true,
    before: (db) => db.exec(SEED_TOOLKIT_SCHEMA),
  });
  // The seed listed activities from the API (so no deleted ones) and processed none yet.
  const insert = h.db.prepare("INSERT INTO activities (id, name, type, start_date, distance) VALUES (?, ?, ?, ?, ?)");
  for (const a of h.sim.truth.activities.filter((a) => !a.deleted)) {
    insert.run(a.id, `ride ${a.id}`, a.type, a.startDate, a.distance);
  }
  strictEqual((await h.oneTime()).outcome, "done");
  assertNothingPendingBySeedRule(h);
});

Deno.test("backfill_store: every settled outcome sets the processed flag; pending failures keep it 0", async () => {
  await using h = await harness();
  seedFromArchive(h.db, h.sim.truth.activities.slice(0, 4));
  const [a, b, c, d] = h.sim.truth.activities.map((x) => x.id);
  const now = "2026-01-01T00:00:00Z";
  settleActivity(h.db, a, "not_found", "404", now);
  settleActivity(h.db, b, "forbidden", "403", now);
  settleActivity(h.db, c, null, "503", now);
  for (let i = 0; i < MAX_ATTEMPTS; i++) settleActivity(h.db, d, null, "503", now);
  const rows = h.db.prepare("SELECT id, segment_efforts_processed p, efforts_status s FROM activities ORDER BY id")
    .all().map((r) => [BigInt(r.id as number), r.p, r.s]);
  const byId = new Map(rows.map(([id, p, s]) => [id, [p, s]]));
  deepStrictEqual(byId.get(a), [1, "not_found"]);
  deepStrictEqual(byId.get(b), [1, "forbidden"]);
  deepStrictEqual(byId.get(c), [0, null], "one transient failure stays pending");
  deepStrictEqual(byId.get(d), [1, "failed"]);

  // --retry-failed resets both columns, so the seed's rule sees it pending again.
  deepStrictEqual(requeueFailed(h.db), { activities: 1, segments: 0 });
  deepStrictEqual(byIdAfter(h, d), [0, null, 0]);
});

function byIdAfter(h: Harness, id: bigint): unknown[] {
  const r = h.db.prepare(
    "SELECT segment_efforts_processed p, efforts_status s, efforts_attempts n FROM activities WHERE id = ?",
  )
    .get(id)!;
  return [r.p, r.s, r.n];
}

Deno.test("schema v3: settled activities of an older database are marked processed; pending ones stay pending", async () => {
  await using world = await tempDatabase("v2.db");
  const { db } = world;
  migrate(db);
  db.exec(`INSERT INTO activities (id, segment_efforts_processed, efforts_status) VALUES
             (1, 1, 'ok'), (2, 0, 'skipped'), (3, 0, 'not_found'), (4, 0, 'forbidden'), (5, 0, 'failed'), (6, 0, NULL);
           PRAGMA user_version = 2;`);
  migrate(db);
  ok(schemaVersion(db) >= 3);
  deepStrictEqual(
    db.prepare("SELECT id, segment_efforts_processed p FROM activities ORDER BY id").all().map((r) => [r.id, r.p]),
    [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 0]],
  );
});

Deno.test("schema v5: a version-4 database gets the unconfirmed-failure marks, at 0", async () => {
  await using world = await tempDatabase("v4.db");
  const { db } = world;
  migrate(db);
  db.exec(`INSERT INTO activities (id) VALUES (1);
           ALTER TABLE activities DROP COLUMN efforts_unconfirmed;
           ALTER TABLE segments DROP COLUMN details_unconfirmed;
           PRAGMA user_version = 4;`);
  migrate(db);
  deepStrictEqual({ ...db.prepare("SELECT efforts_unconfirmed u FROM activities").get() }, { u: 0 });
  ok(db.prepare("SELECT details_unconfirmed FROM segments").all().length === 0);
});
