/**
 * manage_backfill.ts: not built yet (see the issue tracker). Prints usage with --help.
 */
import { parseFlags, runMain } from "../lib/cli.ts";
import { RuntimeError } from "../lib/errors.ts";

const USAGE = `Usage: manage_backfill.ts [options]

Not built yet.`;

/** Entry point; returns the exit code. */
export function main(args: string[]): number {
  const { values } = parseFlags(args, {}, { positionals: 1 });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  throw new RuntimeError("manage_backfill.ts is not built yet");
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
