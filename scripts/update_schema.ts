/**
 * update_schema.ts: create the database or bring its schema up to date.
 *
 *   deno task schema [--db PATH] [--create]
 */
import { parseFlags, runMain } from "../lib/cli.ts";
import { DEFAULT_DB_PATH } from "../lib/store/db.ts";
import { openToolDatabase } from "../lib/store/open.ts";
import { migrate } from "../lib/store/schema.ts";

const USAGE = `Usage: update_schema.ts [--db PATH] [--create]

Creates the database or applies pending schema migrations. Safe to run any number of times;
an existing database (also one from the Python toolkit) is adapted without losing data.

Options:
  --db PATH     database file (default: ${DEFAULT_DB_PATH})
  --create      create the database (and its folder) if it does not exist
  -v, --verbose show stack traces on errors
  -h, --help    show this help`;

/** Entry point; returns the exit code. */
export function main(args: string[]): number {
  const { values } = parseFlags(args, {
    db: { type: "string" },
    create: { type: "boolean" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const path = values.db ?? DEFAULT_DB_PATH;
  const db = openToolDatabase(path, { create: values.create });
  try {
    const report = migrate(db);
    if (report.applied.length === 0) {
      console.log(`${path}: schema is up to date (version ${report.to})`);
    } else {
      for (const m of report.applied) console.log(`${path}: applied migration ${m.version}: ${m.description}`);
      console.log(`${path}: schema version ${report.from} -> ${report.to}`);
    }
  } finally {
    db.close();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
