/**
 * Shared command-line plumbing: `--help`/`--version`, and the one place that turns an error
 * into a message and an exit code. Flags themselves are declared in tables (lib/flags.ts).
 */
import { exitCodeOf } from "./errors.ts";
import { closeLogging, logRunError } from "./log.ts";
import { versionLine } from "./version.ts";

/**
 * Handles `--help` and `--version`: prints the text asked for and returns true (the script then
 * exits 0 without doing anything else).
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * const printed: string[] = [];
 * strictEqual(printedInfo({ help: true, version: false }, "Usage: update_schema.ts", (t) => printed.push(t)), true);
 * strictEqual(printedInfo({ help: false, version: false }, "Usage: update_schema.ts", (t) => printed.push(t)), false);
 * deepStrictEqual(printed, ["Usage: update_schema.ts"]);
 * ```
 */
export function printedInfo(
  values: { help: boolean; version: boolean },
  help: string,
  print: (text: string) => void = (text) => console.log(text),
): boolean {
  if (values.help) print(help);
  else if (values.version) print(versionLine());
  return values.help || values.version;
}

/**
 * Runs a script's `main`, prints an error as one plain line (the stack only with `--verbose`),
 * writes that line to the log file when the script opened one, and returns the exit code
 * carried by the error. Scripts call `Deno.exit(await runMain(...))`; `out` is injectable for tests.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 * import { UsageError } from "./errors.ts";
 * const lines: string[] = [];
 * const main = (_args: string[]) => {
 *   throw new UsageError("--db needs a value (see --help)");
 * };
 * strictEqual(await runMain(main, ["--db"], { error: (line) => lines.push(line) }), 2);
 * deepStrictEqual(lines, ["error: --db needs a value (see --help)"]);
 * ```
 */
export async function runMain(
  main: (args: string[]) => Promise<number | void> | number | void,
  args: string[],
  out: { error(line: string): void } = console,
): Promise<number> {
  try {
    return (await main(args)) ?? 0;
  } catch (err) {
    const verbose = args.includes("--verbose") || args.includes("-v");
    const message = describeError(err);
    out.error(`error: ${message}`);
    if (verbose && err instanceof Error && err.stack) out.error(err.stack);
    logRunError(message, exitCodeOf(err));
    return exitCodeOf(err);
  } finally {
    await closeLogging();
  }
}

/**
 * One line describing an error, with a hint when Deno's permissions refused something.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(describeError(new Error("database is locked")), "database is locked");
 * strictEqual(describeError("not an Error"), "not an Error");
 * ```
 */
export function describeError(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) return refusal(err);
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Deno's refusal in one line: what was refused, the flag that would grant it, and for a compiled
 * binary that its permissions are baked in (docs/permissions.md).
 */
function refusal(err: Error, compiled: boolean = Deno.build.standalone): string {
  const first = err.message.split("\n")[0];
  const asked = /^Requires (\w+) access to "([^"]*)", run again with the (--allow-[\w-]+) flag/.exec(first);
  const baked = compiled ? "; this binary's permissions are baked in when it is compiled" : "";
  if (asked === null) {
    return `${first.replace(/, run again with.*$/, "")}. This program's permissions do not allow it${baked}; ` +
      `see "Permissions" in the README.`;
  }
  const [, kind, target, flag] = asked;
  return `${kind} access to ${target} is not allowed by this program's permissions (it needs ${flag}=${target})` +
    `${baked}; ${kind === "net" ? "" : "use a path in the folder it runs in, or "}see "Permissions" in the README.`;
}
