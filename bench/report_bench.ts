/**
 * Benchmark of the HTML report (run with `deno task bench:report`): on a large account (10,000
 * activities, 30,000 efforts, 11,000 detailed segments with full-resolution polylines; built by
 * bench/large_db.ts), `manage_backfill --mode stats` and `--mode stats --html report.html` as
 * the script runs them (a subprocess under its permissions), the median wall time of --runs runs,
 * and the report's size. Then, if chromium-headless-shell is installed, the page in the browser:
 * time until the map is drawn, and the time of a filter, a sort and choosing the most ridden segment.
 *
 * Options: --activities N (10000), --efforts N (30000), --segments N (11000), --runs N (5), --json.
 */
import { parseArgs } from "node:util";
import { denoRunArgs } from "../lib/permissions.ts";
import { findChromium, launchBrowser } from "../lib/testing/browser.ts";
import { buildLargeDatabase } from "./large_db.ts";

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

async function median(args: string[]): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: denoRunArgs("manage_backfill", args),
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]);
}

const statsMs = await median(["--mode", "stats"]);
const reportMs = await median(["--mode", "stats", "--html", "report.html"]);
const reportBytes = Deno.statSync(`${dir}/report.html`).size;

let browser: Record<string, number> | string =
  "skipped: chromium-headless-shell is not installed (.ci/run installs it)";
if (findChromium()) {
  await using page = await launchBrowser({ width: 1280, height: 900 });
  await page.open(`file://${dir}/report.html`);
  browser = await page.evaluate<Record<string, number>>(`new Promise((ok) => { const t = setInterval(() => {
    if (!document.body.dataset.ready) return;
    clearInterval(t);
    const drawn = Math.round(performance.now());
    const time = (f) => { const t0 = performance.now(); f(); document.body.offsetHeight; return Math.round(performance.now() - t0); };
    const input = document.getElementById("filter");
    const filter_ms = time(() => { input.value = "7 Climb"; applyFilter(); });
    const clear_ms = time(() => { input.value = ""; applyFilter(); });
    const sort_ms = time(() => document.querySelector('th[data-k="n"]').click());
    const top = D.segments.reduce((a, b) => b.e.length > a.e.length ? b : a);
    const select_ms = time(() => select(top));
    ok({ drawn_ms: drawn, filter_ms, clear_ms, sort_ms, select_ms, top_efforts: top.e.length,
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
  console.log(`  in Chromium: ${typeof browser === "string" ? browser : JSON.stringify(browser)}`);
}
