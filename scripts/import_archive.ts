/**
 * import_archive.ts: load the activities of a Strava bulk export into the database, so the
 * backfill can fetch their segment efforts without listing them through the API.
 *
 *   deno task import [--db PATH] [--create] [--skip-invalid] EXPORT
 */
import "../lib/require_deno.ts"; // first: one line instead of a stack trace on an old Deno
import { printedInfo, runMain } from "../lib/cli.ts";
import { type FlagTable, helpText, parseFlags } from "../lib/flags.ts";
import { CREATE_FLAG, DB_FLAG } from "../lib/backfill/flags.ts";
import type { Database } from "../lib/store/db.ts";
import { openToolDatabase } from "../lib/store/open.ts";
import { UsageError } from "../lib/errors.ts";
import { migrate } from "../lib/store/schema.ts";
import { type ActivitiesSource, openActivitiesCsv } from "../lib/archive/export_source.ts";
import { CreatedDatabase } from "../lib/archive/created_database.ts";
import { readActivities } from "../lib/archive/activities_csv.ts";
import { describeFormat, type ExportFormat } from "../lib/archive/export_layout.ts";
import { describeBadRows, importActivities, type ImportResult, MAX_REPORTED } from "../lib/archive/import.ts";
import { importProgress } from "../lib/progress.ts";

/** This script's flags. */
export const FLAGS = {
  ...DB_FLAG,
  ...CREATE_FLAG,
  "skip-invalid": {
    kind: "boolean",
    help: [
      "import the good rows of a file with bad rows, and list the bad ones",
      "(without it, a bad row refuses the whole file and nothing is imported)",
    ],
  },
} as const satisfies FlagTable;

const USAGE = helpText({
  usage: "import_archive.ts [options] EXPORT",
  description: `Imports the activities of a Strava bulk export ("Download or Delete Your Account" >
"Request Your Archive") into the database. EXPORT is the export's .zip (read in place,
not unzipped), the folder it was unzipped into, or its activities.csv.

New activities are added as pending for the backfill; activities already in the database
get their archive fields refreshed, and keep their segment efforts and processing state.
Re-importing the same or a newer export is safe. An export in any language is read
(by its column layout where its language is unknown); the summary says how it was read.`,
  flags: FLAGS,
});

/** A CSV this large (about 10,000 activities) is written in bulk mode (see lib/archive/import.ts). */
const BULK_BYTES = 4 * 1024 * 1024;

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS, { positionals: 1 });
  if (printedInfo(values, USAGE)) return 0;
  const path = positionals[0];
  if (path === undefined || path === "") {
    throw new UsageError("missing EXPORT: the export .zip, its unzipped folder, or activities.csv (see --help)");
  }
  const dbPath = values.db;

  // The export is checked before the database is created, so a wrong path leaves nothing behind.
  await using source = await openActivitiesCsv(path);
  const created = new CreatedDatabase(dbPath);
  let db;
  try {
    db = openToolDatabase(dbPath, { create: values.create });
  } catch (err) {
    created.undo();
    throw err;
  }
  let ok = false;
  try {
    migrate(db);
    const started = performance.now();
    let format: ExportFormat | undefined;
    const result = await importWithProgress(db, source, values["skip-invalid"], (f) => (format = f));
    reportImport(db, dbPath, source.label, result, (performance.now() - started) / 1000, format);
    ok = true;
  } finally {
    db.close();
    // A database this run created for an import that failed holds nothing: do not leave it (or
    // the folders made for it) behind.
    if (!ok) created.undo();
  }
  return 0;
}

/** Imports the export's rows, with a progress line on a terminal. */
async function importWithProgress(
  db: Database,
  source: ActivitiesSource,
  skipInvalid: boolean,
  onFormat: (format: ExportFormat) => void,
): Promise<ImportResult> {
  const progress = importProgress(source.size, {
    write: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    now: () => performance.now(),
    enabled: Deno.stderr.isTerminal(),
  });
  try {
    return await importActivities(
      db,
      readActivities(source.readable, { label: source.label, onBytes: (n) => progress.bytes(n), onFormat }),
      {
        label: source.label,
        skipInvalid,
        onRows: (n) => progress.rows(n),
        bulk: (source.size ?? 0) >= BULK_BYTES,
      },
    );
  } finally {
    progress.clear();
  }
}

/** The import's outcome for the user: warnings on stderr, the counts and what waits on stdout. */
function reportImport(
  db: Database,
  dbPath: string,
  label: string,
  result: ImportResult,
  seconds: number,
  format: ExportFormat | undefined,
): void {
  if (result.skipped > 0) {
    console.error(
      `warning: skipped ${result.skipped} bad row${result.skipped === 1 ? "" : "s"}: ` +
        describeBadRows(result.badRows, result.skipped, MAX_REPORTED),
    );
  }
  if (result.unknownTypes.length > 0) {
    console.error(
      `note: activity types this version does not know, kept as written: ${result.unknownTypes.join(", ")}`,
    );
  }
  if (result.unmappedTypes.length > 0) {
    console.error(
      `note: activity types this version cannot translate, left empty until the backfill stores the API's ` +
        `record (the name stays in archive_json): ${result.unmappedTypes.join(", ")}`,
    );
  }
  const total = result.added + result.updated + result.unchanged + result.skipped;
  console.log(
    `${label}: ${total} rows in ${seconds.toFixed(1)} s: ${result.added} added, ${result.updated} updated, ` +
      `${result.unchanged} unchanged, ${result.skipped} skipped` + (format ? ` (${describeFormat(format)})` : ""),
  );
  const pending = db.prepare("SELECT COUNT(*) AS n FROM activities WHERE segment_efforts_processed = 0").get() as {
    n: number;
  };
  console.log(`${dbPath}: ${pending.n} activities wait for their segment efforts (run the backfill)`);
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
