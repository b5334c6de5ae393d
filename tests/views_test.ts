import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { VIEWS } from "../lib/store/views.ts";
import type { Database } from "../lib/store/db.ts";
import { countPendingActivities, pendingActivities } from "../lib/store/backfill_store.ts";
import { collectStats } from "../lib/backfill/stats.ts";
import { emptyState } from "../lib/backfill/state_file.ts";
import { tempDatabase, tempDir } from "./helpers.ts";

/** Activity 1 and 2 live, 3 deleted; segment 10 ridden on all three, 20 on 1 and 3, 30 only on 3. */
function seed(db: Database): void {
  db.exec(`
    INSERT INTO activities (id, name, start_date) VALUES (1, 'a', '2025-01-01T08:00:00Z'),
      (2, 'b', '2025-02-01T08:00:00Z');
    INSERT INTO activities (id, name, start_date, deleted_at) VALUES (3, 'c', '2025-03-01T08:00:00Z',
      '2025-04-01T00:00:00Z');
    INSERT INTO segments (id, name) VALUES (10, 'Hill'), (20, 'Flat'), (30, 'Gone');
    INSERT INTO segment_efforts (id, activity_id, segment_id, name, start_date, elapsed_time) VALUES
      (101, 1, 10, 'Hill', '2025-01-01T08:10:00Z', 300),
      (102, 1, 10, 'Hill', '2025-01-01T08:40:00Z', 320),
      (103, 2, 10, 'Hill', '2025-02-01T08:10:00Z', 280),
      (104, 3, 10, 'Hill', '2025-03-01T08:10:00Z', 200),
      (201, 1, 20, 'Flat', '2025-01-01T08:20:00Z', 90),
      (202, 3, 20, 'Flat', '2025-03-01T08:20:00Z', 80),
      (301, 3, 30, 'Gone', '2025-03-01T08:30:00Z', 60);`);
}

async function withSeeded(fn: (db: Database) => void): Promise<void> {
  await using dir = await tempDir();
  const db = openDatabase(`${dir.path}/v.db`, { create: true });
  try {
    migrate(db);
    seed(db);
    fn(db);
  } finally {
    db.close();
  }
}

Deno.test("segment_bests: fastest live effort per segment; a deleted activity's efforts do not count", async () => {
  await withSeeded((db) => {
    const rows = db.prepare(
      "SELECT segment_id, segment_name, best_elapsed_time, effort_id, activity_id FROM segment_bests ORDER BY segment_id",
    ).all().map((r) => ({ ...r }));
    deepStrictEqual(rows, [
      { segment_id: 10, segment_name: "Hill", best_elapsed_time: 280, effort_id: 103, activity_id: 2 },
      { segment_id: 20, segment_name: "Flat", best_elapsed_time: 90, effort_id: 201, activity_id: 1 },
    ]);
  });
});

Deno.test("segment_history: date order with the running best and the efforts that set a new best", async () => {
  await withSeeded((db) => {
    const rows = db.prepare(
      "SELECT effort_id, elapsed_time, running_best, is_new_best FROM segment_history WHERE segment_id = 10",
    ).all().map((r) => ({ ...r }));
    deepStrictEqual(rows, [
      { effort_id: 101, elapsed_time: 300, running_best: 300, is_new_best: 1 },
      { effort_id: 102, elapsed_time: 320, running_best: 300, is_new_best: 0 },
      { effort_id: 103, elapsed_time: 280, running_best: 280, is_new_best: 1 },
    ]);
  });
});

Deno.test("most_ridden: segments by the athlete's live effort count", async () => {
  await withSeeded((db) => {
    const rows = db.prepare("SELECT segment_id, segment_name, efforts, activities, best_elapsed_time FROM most_ridden")
      .all().map((r) => ({ ...r }));
    deepStrictEqual(rows, [
      { segment_id: 10, segment_name: "Hill", efforts: 3, activities: 2, best_elapsed_time: 280 },
      { segment_id: 20, segment_name: "Flat", efforts: 1, activities: 1, best_elapsed_time: 90 },
    ]);
    // Clearing the mark brings the activity's efforts back.
    db.exec("UPDATE activities SET deleted_at = NULL WHERE id = 3");
    strictEqual((db.prepare("SELECT count(*) n FROM most_ridden").get() as { n: number }).n, 3);
  });
});

Deno.test("the views' per-segment questions seek an index instead of scanning the efforts", async () => {
  await withSeeded((db) => {
    const plan = (sql: string) => db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail)).join("; ");
    for (
      const sql of [
        "SELECT * FROM segment_bests WHERE segment_id = 10",
        "SELECT * FROM segment_history WHERE segment_id = 10 ORDER BY start_date",
      ]
    ) {
      const p = plan(sql);
      ok(!/SCAN (segment_efforts|e|x)\b/.test(p), `${sql}: ${p}`);
      ok(/SEARCH \w+ USING (COVERING )?INDEX idx_segment_efforts_(best|dated)/.test(p), `${sql}: ${p}`);
    }
    ok(plan("SELECT * FROM most_ridden").includes("COVERING INDEX idx_segment_efforts_dated"));
  });
});

Deno.test("the views migration keeps a user's own table named like a view", async () => {
  await using world = await tempDatabase("u.db");
  const { db } = world;
  db.exec("CREATE TABLE most_ridden (x INTEGER); INSERT INTO most_ridden VALUES (7)");
  migrate(db);
  deepStrictEqual(db.prepare("SELECT x FROM most_ridden").all().map((r) => ({ ...r })), [{ x: 7 }]);
  for (const name of Object.keys(VIEWS).filter((n) => n !== "most_ridden")) {
    ok(db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = ?").get(name), name);
  }
});

Deno.test("stats and the pending count leave out activities Strava no longer lists", async () => {
  await withSeeded((db) => {
    db.exec(`INSERT INTO activities (id, name, start_date, deleted_at) VALUES
      (4, 'gone before it was fetched', '2025-05-01T08:00:00Z', '2025-06-01T00:00:00Z'),
      (5, 'pending', '2025-05-02T08:00:00Z', NULL)`);
    db.exec("UPDATE activities SET segment_efforts_processed = 1, efforts_status = 'ok' WHERE id <= 3");
    strictEqual(countPendingActivities(db), 1);
    deepStrictEqual(pendingActivities(db, 10), [5n]);
    const stats = collectStats(db, emptyState(), Date.UTC(2025, 6, 1));
    strictEqual(stats.activities.total, 3);
    strictEqual(stats.activities.processed, 2);
    strictEqual(stats.activities.pending, 1);
    strictEqual(stats.activities.deleted, 2);
    strictEqual(stats.efforts, 4);
    strictEqual(stats.distinct_segments_ridden, 2);
  });
});
