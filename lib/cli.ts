/**
 * Shared command-line plumbing: strict flag parsing, numeric flag checks, and the one
 * place that turns an error into a message and an exit code.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { exitCodeOf, UsageError } from "./errors.ts";

/** Options accepted by `parseArgs` (re-exported so scripts need not import node:util). */
export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** Flags every script understands. */
export const COMMON_FLAGS = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean", short: "v" },
} as const satisfies FlagOptions;

/**
 * Parses `args` strictly: unknown flags, missing values and stray positionals are
 * `UsageError`s whose message names the flag and points at `--help`.
 */
export function parseFlags<T extends FlagOptions>(
  args: string[],
  options: T,
  { positionals = 0 }: { positionals?: number } = {},
) {
  try {
    const parsed = parseArgs({
      args,
      options: { ...COMMON_FLAGS, ...options },
      strict: true,
      allowPositionals: positionals > 0,
      allowNegative: false,
    });
    if (parsed.positionals.length > positionals) {
      throw new UsageError(`unexpected argument '${parsed.positionals[positionals]}'`);
    }
    return parsed;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // node:util errors are verbose ("Unknown option '--x'. To specify a positional argument...");
    // keep the first sentence, which names the flag.
    const message = err instanceof Error ? err.message.split(". ")[0] : String(err);
    throw new UsageError(`${message.replace(/\.$/, "")} (see --help)`);
  }
}

/** Parses a whole-number flag value within [min, max]; `undefined` gives `fallback`. */
export function intFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Parses a number flag value within (exclusiveMin, max]; `undefined` gives `fallback`. */
export function floatFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  { exclusiveMin = 0, max = 1 }: { exclusiveMin?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= exclusiveMin || n > max) {
    throw new UsageError(`--${name} must be a number above ${exclusiveMin} and at most ${max}, got '${value}'`);
  }
  return n;
}

/** Checks that `value` is one of `choices`. */
export function choiceFlag<C extends string>(
  value: string | undefined,
  name: string,
  choices: readonly C[],
  fallback: C,
): C {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${value}'`);
  }
  return value as C;
}

/** Where `runMain` writes; injectable so tests can capture output. */
export interface Console {
  error(line: string): void;
}

/**
 * Runs a script's `main`, prints an error as one plain line (the stack only with
 * `--verbose`) and returns the exit code. Scripts call `Deno.exit(await runMain(...))`.
 */
export async function runMain(
  main: (args: string[]) => Promise<number | void> | number | void,
  args: string[],
  out: Console = console,
): Promise<number> {
  try {
    return (await main(args)) ?? 0;
  } catch (err) {
    const verbose = args.includes("--verbose") || args.includes("-v");
    out.error(`error: ${describeError(err)}`);
    if (verbose && err instanceof Error && err.stack) out.error(err.stack);
    return exitCodeOf(err);
  }
}

/** One line describing an error, with a hint when Deno's permissions refused something. */
export function describeError(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    const what = err.message.split("\n")[0].replace(/, run again with.*$/, "");
    return `${what}. This program's permissions do not allow it; see "Permissions" in the README.`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
