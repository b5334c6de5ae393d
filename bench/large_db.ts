/**
 * The large database of the benchmarks (bench/views_bench.ts, bench/report_bench.ts): migrated
 * like the real one, `activities` rides (1% marked deleted) carrying `efforts` segment efforts over
 * `segments` detailed segments of Zipf-like popularity. Seeded, so every run holds the same rows.
 * With `shapes`, each segment gets what Strava stores for it: a name, sport, distance, grade and
 * a full-resolution polyline (a point every 10 m along a winding road near Boulder, a few far away).
 */
import { type Database, openDatabase, transaction } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { mulberry32 } from "../lib/testing/sim_random.ts";
import { encodePolyline } from "../lib/testing/sim_geo.ts";

/** What to build. */
export interface LargeDbOptions {
  activities: number;
  efforts: number;
  segments: number;
  /** Give segments their details (name, distance, grade, polyline), as a finished backfill has. */
  shapes?: boolean;
}

/** Builds the database at `path` (a new file) and returns it open. */
export function buildLargeDatabase(path: string, o: LargeDbOptions): Database {
  const db = openDatabase(path, { create: true });
  migrate(db);
  const rand = mulberry32(14);
  // Popularity: segment i is ridden with weight 1/(i+1)^0.9, like the simulator's pool.
  const cumulative: number[] = [];
  let sum = 0;
  for (let i = 0; i < o.segments; i++) cumulative.push(sum += 1 / (i + 1) ** 0.9);
  function pickSegment(): number {
    const x = rand() * sum;
    let lo = 0, hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  const START = Date.UTC(2016, 0, 1) / 1000;
  const iso = (s: number) => new Date(s * 1000).toISOString().slice(0, 19) + "Z";
  transaction(db, () => {
    const segment = db.prepare(
      `INSERT INTO segments (id, name, activity_type, distance, average_grade, polyline, details_status)
       VALUES (?, ?, ?, ?, ?, ?, 'ok')`,
    );
    for (let i = 0; i < o.segments; i++) {
      if (!o.shapes) {
        segment.run(1_000_000 + i, `Segment ${i}`, null, null, null, null);
        continue;
      }
      const { points, metres } = road(rand, i % 50 === 49);
      segment.run(
        1_000_000 + i,
        `Segment ${i} ${["Climb", "Sprint", "Loop", "Descent"][i % 4]}`,
        i % 10 === 9 ? "Run" : "Ride",
        metres,
        Math.round((rand() * 12 - 3) * 10) / 10,
        encodePolyline(points),
      );
    }
    const activity = db.prepare(
      `INSERT INTO activities (id, name, sport_type, start_date, distance, elapsed_time, segment_efforts_processed,
         efforts_status, deleted_at) VALUES (?, ?, 'Ride', ?, 30000, 3600, 1, 'ok', ?)`,
    );
    const effort = db.prepare(
      `INSERT INTO segment_efforts (id, activity_id, segment_id, name, start_date, elapsed_time, moving_time)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const perActivity = o.efforts / o.activities;
    let effortId = 3_000_000_000_000;
    let made = 0;
    for (let a = 0; a < o.activities; a++) {
      const start = START + a * 14_400;
      const id = 10_000_000 + a;
      activity.run(id, `Ride ${a}`, iso(start), rand() < 0.01 ? iso(start + 86400) : null);
      const n = Math.round((a + 1) * perActivity) - made;
      for (let k = 0; k < n; k++) {
        const s = pickSegment();
        const time = 120 + (s % 600) + Math.floor(rand() * 90);
        effort.run(effortId++, id, 1_000_000 + s, `Segment ${s}`, iso(start + k * 60), time, time);
      }
      made += n;
    }
  });
  return db;
}

/** A winding road of 0.3-8 km, a point every 10 m, within 60 km of Boulder (or far away). */
function road(rand: () => number, far: boolean): { points: [number, number][]; metres: number } {
  let lat = (far ? 46.5 : 40.015) + (rand() - 0.5) * 1.1, lng = (far ? 8.0 : -105.27) + (rand() - 0.5) * 1.4;
  let heading = rand() * 2 * Math.PI, turn = 0;
  const steps = Math.round(30 + rand() ** 2 * 770);
  const points: [number, number][] = [[lat, lng]];
  for (let k = 0; k < steps; k++) {
    turn = turn * 0.9 + (rand() - 0.5) * 0.08;
    heading += turn;
    lat += (10 * Math.cos(heading)) / 110_540;
    lng += (10 * Math.sin(heading)) / (111_320 * Math.cos((lat * Math.PI) / 180));
    points.push([lat, lng]);
  }
  return { points, metres: steps * 10 };
}
