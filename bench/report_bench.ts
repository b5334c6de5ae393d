/**
 * Benchmark of the HTML report (run with `deno task bench:report`): on a large account (10,000
 * activities, 30,000 efforts, 11,000 detailed segments with full-resolution polylines; built by
 * bench/large_db.ts), `manage_backfill --mode stats` and `--mode stats --html report.html` as
 * the script runs them (a subprocess under its permissions), the median wall time of --runs runs,
 * and the report's size; the same work in-process (without Deno's start-up). Then, if chromium-headless-shell is installed, the page in the browser:
 * when the figures and table are up and when the map is drawn, and the time of a filter, a sort and choosing the most ridden segment.
 *
 * Options: --activities N (10000), --efforts N (30000), --segments N (11000), --runs N (5), --json.
 */
import { parseArgs } from "node:util";
import { denoRunArgs } from "../lib/permissions.ts";
import { findChromium, launchBrowser } from "../lib/testing/browser.ts";
import { buildLargeDatabase } from "./large_db.ts";
import { openForReading } from "../lib/store/open.ts";
import { collectStats } from "../lib/backfill/stats.ts";
import { emptyState } from "../lib/backfill/state_file.ts";
import { collectReport } from "../lib/backfill/report_data.ts";
import { reportHtml } from "../lib/backfill/report_page.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    activities: { type: "string", default: "10000" },
    efforts: { type: "string", default: "30000" },
    segments: { type: "string", default: "11000" },
    runs: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const dir = Deno.makeTempDirSync({ prefix: "report_bench_" });
Deno.mkdirSync(`${dir}/data`);
const built = performance.now();
buildLargeDatabase(`${dir}/data/segments.db`, {
  activities: Number(values.activities),
  efforts: Number(values.efforts),
  segments: Number(values.segments),
  shapes: true,
}).close();
const buildSeconds = (performance.now() - built) / 1000;
const dbBytes = Deno.statSync(`${dir}/data/segments.db`).size;

const median = (times: number[]) => Math.round([...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]);

async function run(args: string[]): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: denoRunArgs("manage_backfill", args),
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return performance.now() - t;
}

// Interleaved, so that a change in the machine's load falls on both alike.
const plain: number[] = [], html: number[] = [];
for (let r = 0; r < RUNS; r++) {
  plain.push(await run(["--mode", "stats"]));
  html.push(await run(["--mode", "stats", "--html", "report.html"]));
}
const statsMs = median(plain), reportMs = median(html);

// The same work in this process (no Deno start-up): stats alone, and what the report adds.
const inProcess = { stats: [] as number[], report: [] as number[] };
for (let r = 0; r < RUNS; r++) {
  using reading = openForReading(`${dir}/data/segments.db`);
  let t = performance.now();
  const stats = collectStats(reading.db, emptyState(), Date.now());
  inProcess.stats.push(performance.now() - t);
  t = performance.now();
  reportHtml(collectReport(reading.db, stats, Date.now()));
  inProcess.report.push(performance.now() - t);
}
const reportBytes = Deno.statSync(`${dir}/report.html`).size;

let browser: Record<string, number> | string =
  "skipped: chromium-headless-shell is not installed (.ci/run installs it)";
if (findChromium()) {
  await using page = await launchBrowser({ width: 1280, height: 900 });
  await page.open(`file://${dir}/report.html`);
  browser = await page.evaluate<Record<string, number>>(`new Promise((ok) => { const t = setInterval(() => {
    if (!document.body.dataset.ready) return;
    clearInterval(t);
    const time = (f) => { const t0 = performance.now(); f(); document.body.offsetHeight; return Math.round(performance.now() - t0); };
    const input = document.getElementById("filter");
    const filter_ms = time(() => { input.value = "7 Climb"; applyFilter(); });
    const clear_ms = time(() => { input.value = ""; applyFilter(); });
    const sort_ms = time(() => document.querySelector('th[data-k="n"]').click());
    const top = D.segments.reduce((a, b) => b.e.length > a.e.length ? b : a);
    const select_ms = time(() => select(top));
    ok({ ...reportTimes, filter_ms, clear_ms, sort_ms, select_ms, top_efforts: top.e.length,
      map_paths: document.querySelectorAll("#map path").length });
  }, 10); })`);
  if (page.errors.length > 0) throw new Error(`the report has errors: ${page.errors.join("; ")}`);
}
Deno.removeSync(dir, { recursive: true });

const result = {
  input: { activities: Number(values.activities), efforts: Number(values.efforts), segments: Number(values.segments) },
  build_seconds: Math.round(buildSeconds * 10) / 10,
  database_mb: Math.round(dbBytes / 1e5) / 10,
  runs: RUNS,
  stats_ms: statsMs,
  stats_html_ms: reportMs,
  ratio: Math.round((reportMs / statsMs) * 100) / 100,
  in_process_stats_ms: median(inProcess.stats),
  in_process_report_ms: median(inProcess.report),
  report_mb: Math.round(reportBytes / 1e4) / 100,
  browser,
};
if (values.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const i = result.input;
  console.log(
    `report on ${i.activities} activities, ${i.efforts} efforts, ${i.segments} segments (database ${result.database_mb} MB, ` +
      `built in ${result.build_seconds} s); median of ${RUNS} runs of manage_backfill as a subprocess`,
  );
  console.log(`  --mode stats                          ${String(statsMs).padStart(6)} ms`);
  console.log(`  --mode stats --html report.html       ${String(reportMs).padStart(6)} ms  (${result.ratio}x)`);
  console.log(`  report.html                           ${String(result.report_mb).padStart(6)} MB`);
  console.log(
    `  in process: stats ${result.in_process_stats_ms} ms, then the report ${result.in_process_report_ms} ms more`,
  );
  console.log(`  in Chromium: ${typeof browser === "string" ? browser : JSON.stringify(browser)}`);
}
