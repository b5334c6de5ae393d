/**
 * Benchmark of import_archive.ts (run with `deno task bench:import`).
 *
 * 1. Wall time importing 50,000 activities (103 columns) from a CSV into a new database,
 *    against `sqlite3`'s raw `.import` of the same file into a 103-column table, in the same
 *    run, alternating, median of RUNS. Goal: at most 2x sqlite3. Skipped with a message when
 *    the sqlite3 command is missing (`apt-get install -y sqlite3`).
 * 2. Peak memory (max RSS of the import process, from /usr/bin/time; skipped with a message
 *    without it: `apt-get install -y time`) importing a 5 MB and a 500 MB export zip that hold the same small activities.csv among
 *    incompressible filler stored uncompressed. Goal: flat. Then a zip of part 1's CSV (deflated, no
 *    filler), with part 1's own peak RSS: memory follows the number of rows, not the archive's bytes.
 *
 * Everything runs in a temp folder that is removed at the end. The import runs as users run
 * it: `deno run` with the permissions of lib/permissions.ts.
 *
 * 3. The CSV parser alone against csv-parse on the same file, in this process (why lib/archive/csv_parser.ts
 *    has its own).
 *
 * Options: --rows N (50000), --runs N (3), --big-mb N (500), --big-entries N (10000: the big
 * archive's filler is spread over this many files, like an export's activity files), --small-mb N (5),
 * --keep (leave the temp folder).
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { permissionFlags } from "../lib/permissions.ts";
import { parse as csvParse } from "csv-parse/sync";
import { CsvParser, type CsvRecord } from "../lib/archive/csv_parser.ts";
import { generateActivitiesCsv, sampleActivities, writeExportZip } from "../lib/testing/archive_gen.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const { values } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "50000" },
    runs: { type: "string", default: "3" },
    "big-mb": { type: "string", default: "500" },
    "small-mb": { type: "string", default: "5" },
    "big-entries": { type: "string", default: "10000" },
    keep: { type: "boolean", default: false },
  },
});
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
const MB = 1024 * 1024;

interface Run {
  seconds: number;
  maxRssKb: number | null;
  code: number;
  stdout: string;
  stderr: string;
}

async function hasCommand(name: string): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" }).output();
    return code === 0;
  } catch {
    return false;
  }
}

const TIME = "/usr/bin/time";
const haveTime = await Deno.stat(TIME).then(() => true, () => false);

/** Runs a command, timing its wall clock and, with /usr/bin/time, measuring its peak RSS. */
async function measure(cmd: string[], cwd: string): Promise<Run> {
  const rssFile = `${cwd}/.maxrss`;
  const withTime = haveTime ? [TIME, "-f", "%M", "-o", rssFile, ...cmd] : cmd;
  const started = performance.now();
  const out = await new Deno.Command(withTime[0], { args: withTime.slice(1), cwd, stdout: "piped", stderr: "piped" })
    .output();
  const seconds = (performance.now() - started) / 1000;
  let maxRssKb: number | null = null;
  if (haveTime) {
    maxRssKb = Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop());
    await Deno.remove(rssFile);
  }
  const decoder = new TextDecoder();
  return { seconds, maxRssKb, code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function importCommand(args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-prompt",
    ...permissionFlags("import_archive"),
    `${ROOT}scripts/import_archive.ts`,
    ...args,
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function check(run: Run, what: string): void {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}): ${run.stderr.trim()}`);
}

async function fresh(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
}

const tmp = await Deno.makeTempDir({ prefix: "import-bench-" });
try {
  const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(
    `import_archive benchmark: ${navigator.hardwareConcurrency} CPUs, load average ${load}, deno ${Deno.version.deno}`,
  );

  // --- 1. Wall time against sqlite3 .import -------------------------------------------------
  const csvPath = `${tmp}/activities.csv`;
  const csv = generateActivitiesCsv(sampleActivities(ROWS, { seed: 42 }), { headerVersion: 2026 });
  await Deno.writeTextFile(csvPath, csv);
  console.log(`\n1. ${ROWS} activities, 103 columns, ${(csv.length / MB).toFixed(1)} MB CSV`);

  // Warm Deno's module cache so the timed runs measure the import, not a first compile.
  await fresh(`${tmp}/warm`);
  await Deno.writeTextFile(`${tmp}/warm/a.csv`, csv.slice(0, csv.indexOf("\n", 20_000) + 1));
  check(await measure(importCommand(["--db", "w.db", "--create", "a.csv"]), `${tmp}/warm`), "warm-up import");

  const sqlite = await hasCommand("sqlite3");
  if (!sqlite) console.log("   sqlite3 not found: comparison skipped (install it with `apt-get install -y sqlite3`)");
  const ours: Run[] = [];
  const theirs: Run[] = [];
  const createTable = `CREATE TABLE raw (${Array.from({ length: 103 }, (_, i) => `c${i} TEXT`).join(", ")});`;
  for (let i = 0; i < RUNS; i++) {
    if (sqlite) {
      await fresh(`${tmp}/sqlite`);
      const { code } = await new Deno.Command("sqlite3", { args: ["raw.db", createTable], cwd: `${tmp}/sqlite` })
        .output();
      if (code !== 0) throw new Error("sqlite3 could not create the table");
      const run = await measure(["sqlite3", "raw.db", `.import --csv --skip 1 ${csvPath} raw`], `${tmp}/sqlite`);
      check(run, "sqlite3 .import");
      theirs.push(run);
    }
    await fresh(`${tmp}/ours`);
    const run = await measure(importCommand(["--db", "bench.db", "--create", csvPath]), `${tmp}/ours`);
    check(run, "import_archive.ts");
    if (!run.stdout.includes(`${ROWS} added`)) throw new Error(`unexpected summary: ${run.stdout}`);
    ours.push(run);
    console.log(
      `   run ${i + 1}: import_archive.ts ${run.seconds.toFixed(2)} s` +
        (run.maxRssKb === null ? "" : ` (peak RSS ${(run.maxRssKb / 1024).toFixed(0)} MB)`) +
        (sqlite ? `, sqlite3 .import ${theirs[i].seconds.toFixed(2)} s` : ""),
    );
  }
  const oursMedian = median(ours.map((r) => r.seconds));
  console.log(`   import_archive.ts: median ${oursMedian.toFixed(2)} s (${Math.round(ROWS / oursMedian)} rows/s)`);
  if (haveTime) {
    // Memory grows with the rows (one transaction holds them all), not with the archive's bytes: see part 2.
    const rss = ours.map((r) => (r.maxRssKb! / 1024).toFixed(0));
    console.log(`   import_archive.ts peak RSS of the ${ROWS}-row CSV: ${rss.join(", ")} MB`);
  }
  if (sqlite) {
    const theirsMedian = median(theirs.map((r) => r.seconds));
    const ratio = oursMedian / theirsMedian;
    console.log(`   sqlite3 .import:   median ${theirsMedian.toFixed(2)} s`);
    console.log(`   ratio: ${ratio.toFixed(2)}x sqlite3 (goal: at most 2x) ${ratio <= 2 ? "MET" : "NOT MET"}`);
  }

  // --- 2. Peak memory importing a small and a big zip ------------------------------------------
  const small = generateActivitiesCsv(sampleActivities(2000, { seed: 43 }), { headerVersion: 2026 });
  console.log(`\n2. export zips holding the same ${(small.length / MB).toFixed(1)} MB activities.csv (2,000 rows)`);
  if (!haveTime) {
    console.log("   /usr/bin/time not found: peak memory not measured (install it: apt-get install -y time)");
  }
  const zips: { mb: number; entries: number; csv?: string }[] = [
    { mb: Number(values["small-mb"]), entries: 20 },
    { mb: Number(values["big-mb"]), entries: Number(values["big-entries"]) },
  ];
  // Memory follows the rows, not the bytes: the same ROWS-row CSV as part 1, deflated in a zip without filler.
  zips.push({ mb: 0, entries: 0, csv });
  for (const { mb, entries, csv: rows } of zips) {
    const zip = `${tmp}/export_${mb}mb${rows ? "_rows" : ""}.zip`;
    const t = performance.now();
    if (rows) console.log(`   and a zip of the ${ROWS}-row CSV of part 1 (deflated, no filler):`);
    await writeExportZip(zip, { csv: rows ?? small, fillerBytes: mb * MB, fillerEntries: entries });
    const size = (await Deno.stat(zip)).size;
    const made = ((performance.now() - t) / 1000).toFixed(1);
    // Flush the freshly written archive first, so the import's own fsyncs do not wait behind it.
    await new Deno.Command("sync").output().catch(() => {});
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      await fresh(`${tmp}/mem`);
      const r = await measure(importCommand(["--db", "m.db", "--create", zip]), `${tmp}/mem`);
      check(r, `import of ${zip}`);
      runs.push(r);
    }
    const run = {
      seconds: median(runs.map((r) => r.seconds)),
      maxRssKb: haveTime ? Math.max(...runs.map((r) => r.maxRssKb!)) : null,
    };
    console.log(
      `   ${(size / MB).toFixed(0).padStart(4)} MB zip, ${entries + 2} entries (written in ${made} s): ` +
        `import median ${run.seconds.toFixed(2)} s, ` +
        `peak RSS ${
          run.maxRssKb === null
            ? "not measured"
            : `${(run.maxRssKb / 1024).toFixed(0)} MB (highest of ${RUNS}; runs: ${
              runs.map((r) => (r.maxRssKb! / 1024).toFixed(0)).join(", ")
            } MB)`
        }`,
    );
    await Deno.remove(zip);
  }

  // --- 3. The CSV parser alone ------------------------------------------------------------------
  console.log(`\n3. parsing the ${(csv.length / MB).toFixed(1)} MB CSV of part 1 in 64 KiB pieces, best of ${RUNS}`);
  const time = (fn: () => number) => {
    let best = Infinity;
    let records = 0;
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      records = fn();
      best = Math.min(best, performance.now() - t);
    }
    return { best, records };
  };
  const ownParser = time(() => {
    const parser = new CsvParser();
    const out: CsvRecord[] = [];
    let n = 0;
    for (let i = 0; i < csv.length; i += 65_536) {
      parser.push(csv.slice(i, i + 65_536), out);
      n += out.length;
      out.length = 0;
    }
    parser.end(out);
    return n + out.length;
  });
  const bytes = new TextEncoder().encode(csv);
  const csvParseSync = time(() => csvParse(bytes, { relax_column_count: true }).length);
  console.log(
    `   lib/archive/csv_parser.ts CsvParser:     ${ownParser.best.toFixed(0)} ms (${ownParser.records} records)`,
  );
  console.log(
    `   csv-parse (sync):                        ${csvParseSync.best.toFixed(0)} ms (${csvParseSync.records} records)`,
  );
} finally {
  if (values.keep) console.log(`kept ${tmp}`);
  else await Deno.remove(tmp, { recursive: true });
}
