/**
 * update_schema.ts: create the database or bring its schema up to date.
 *
 *   deno task schema [--db PATH] [--create]
 */
import "../lib/require_deno.ts"; // first: one line instead of a stack trace on an old Deno
import { printedInfo, runMain } from "../lib/cli.ts";
import { type FlagTable, helpText, parseFlags } from "../lib/flags.ts";
import { CREATE_FLAG, DB_FLAG } from "../lib/backfill/flags.ts";
import { openToolDatabase } from "../lib/store/open.ts";
import { migrate } from "../lib/store/schema.ts";

/** This script's flags. */
export const FLAGS = { ...DB_FLAG, ...CREATE_FLAG } as const satisfies FlagTable;

const USAGE = helpText({
  usage: "update_schema.ts [--db PATH] [--create]",
  description: `Creates the database or applies pending schema migrations. Safe to run any number of times;
an existing database (also one from the Python toolkit) is adapted without losing data.`,
  flags: FLAGS,
});

/** Entry point; returns the exit code. */
export function main(args: string[]): number {
  const { values } = parseFlags(args, FLAGS);
  if (printedInfo(values, USAGE)) return 0;
  const path = values.db;
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
