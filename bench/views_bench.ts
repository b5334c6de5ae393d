/**
 * Benchmark of the answer views (run with `deno task bench:views`).
 *
 * Builds a database migrated like the real one with 20,000 activities (1% marked deleted) and
 * 400,000 segment efforts over 3,000 segments of Zipf-like popularity (bench/large_db.ts; seeded,
 * so every run holds the same rows), then times each view's usual questions: the median of --runs runs, in
 * milliseconds, plus the query plan's first line so a lost index shows as a SCAN.
 *
 * Options: --activities N (20000), --efforts N (400000), --segments N (3000), --runs N (5),
 * --json, --keep (leave the database in the temp folder).
 */
import { parseArgs } from "node:util";
import { buildLargeDatabase } from "./large_db.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    activities: { type: "string", default: "20000" },
    efforts: { type: "string", default: "400000" },
    segments: { type: "string", default: "3000" },
    runs: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const ACTIVITIES = Number(values.activities);
const EFFORTS = Number(values.efforts);
const SEGMENTS = Number(values.segments);
const RUNS = Number(values.runs);

const dir = Deno.makeTempDirSync({ prefix: "views_bench_" });
const path = `${dir}/views.db`;
const built = performance.now();
const db = buildLargeDatabase(path, { activities: ACTIVITIES, efforts: EFFORTS, segments: SEGMENTS });
const buildSeconds = (performance.now() - built) / 1000;

const top = Number(
  (db.prepare("SELECT segment_id FROM most_ridden LIMIT 1").get() as { segment_id: number })
    .segment_id,
);
const mid = 1_000_000 + Math.floor(SEGMENTS / 2);
const QUERIES: { name: string; sql: string; params?: number[] }[] = [
  {
    name: "segment_bests: one segment (most ridden)",
    sql: "SELECT * FROM segment_bests WHERE segment_id = ?",
    params: [top],
  },
  { name: "segment_bests: every segment", sql: "SELECT * FROM segment_bests" },
  {
    name: "segment_history: most ridden segment",
    sql: "SELECT * FROM segment_history WHERE segment_id = ? ORDER BY start_date",
    params: [top],
  },
  {
    name: "segment_history: a mid-popularity segment",
    sql: "SELECT * FROM segment_history WHERE segment_id = ? ORDER BY start_date",
    params: [mid],
  },
  {
    name: "segment_history: personal records only, most ridden",
    sql: "SELECT * FROM segment_history WHERE segment_id = ? AND is_new_best",
    params: [top],
  },
  { name: "most_ridden: top 20", sql: "SELECT * FROM most_ridden LIMIT 20" },
];

interface Result {
  query: string;
  rows: number;
  median_ms: number;
  plan: string;
}
const results: Result[] = [];
for (const q of QUERIES) {
  const statement = db.prepare(q.sql);
  const times: number[] = [];
  let rows = 0;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    rows = statement.all(...(q.params ?? [])).length;
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.params ?? []))
    .map((r) => String(r.detail)).filter((d) => /SCAN|SEARCH/.test(d)).join("; ");
  results.push({ query: q.name, rows, median_ms: Math.round(times[Math.floor(times.length / 2)] * 100) / 100, plan });
}
const counts = db.prepare(
  "SELECT (SELECT count(*) FROM activities) a, (SELECT count(*) FROM segment_efforts) e, (SELECT count(*) FROM segments) s",
).get() as { a: number; e: number; s: number };
db.close();
if (!values.keep) Deno.removeSync(dir, { recursive: true });

if (values.json) {
  console.log(JSON.stringify({ counts, build_seconds: buildSeconds, runs: RUNS, results }, null, 2));
} else {
  console.log(
    `views on ${counts.a} activities, ${counts.e} efforts, ${counts.s} segments ` +
      `(built in ${buildSeconds.toFixed(1)} s); median of ${RUNS} runs`,
  );
  for (const r of results) {
    console.log(`  ${r.query.padEnd(52)} ${String(r.median_ms).padStart(8)} ms  ${String(r.rows).padStart(6)} rows`);
    console.log(`      plan: ${r.plan}`);
  }
  if (values.keep) console.log(`database kept at ${path}`);
}
