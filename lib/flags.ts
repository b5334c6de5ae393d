/**
 * Flag tables: each script declares every flag once (name, kind, default, range, help line), and
 * this module derives from that one table the strict node:util parseArgs spec, the typed and
 * range-checked values, and the Options block of `--help`. A flag shared by several scripts is
 * one table entry imported by each (lib/backfill/flags.ts), so the copies cannot drift.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

interface FlagBase {
  /** Help text: one line, or several (the first beside the flag, the rest below it). */
  help: string | readonly string[];
  /** One-letter alias (`-v`). */
  short?: string;
  /** Replaces the generated `(default: …)` note in `--help`. */
  defaultNote?: string;
}

/** A switch: present or not. */
interface BooleanFlag extends FlagBase {
  kind: "boolean";
}

/** A whole number within [min, max]. */
interface IntegerFlag extends FlagBase {
  kind: "integer";
  /** Placeholder in `--help` (`N`, `SECONDS`). */
  arg: string;
  default: number;
  min: number;
  max?: number;
}

/** A number within (above, max]. */
interface NumberFlag extends FlagBase {
  kind: "number";
  arg: string;
  default: number;
  /** Exclusive lower bound. */
  above: number;
  max: number;
}

/** Free text. */
interface StringFlag extends FlagBase {
  kind: "string";
  arg: string;
  /** Value when the flag is absent; without one the value is `undefined`. */
  default?: string;
}

/**
 * The path of a file: one naming an existing directory is refused at parse time, so no script
 * gets as far as a raw OS error.
 */
interface FileFlag extends FlagBase {
  kind: "file";
  arg: string;
  default?: string;
}

/** One of a fixed list of words. */
interface ChoiceFlag<C extends string = string> extends FlagBase {
  kind: "choice";
  arg: string;
  choices: readonly C[];
  default: C;
}

/** Any flag of a table. */
export type Flag = BooleanFlag | IntegerFlag | NumberFlag | StringFlag | FileFlag | ChoiceFlag;

/** A script's flags, keyed by long name (without `--`), in `--help` order. */
export type FlagTable = Record<string, Flag>;

/** The value type a flag parses to. */
type FlagValue<F extends Flag> = F extends BooleanFlag ? boolean
  : F extends IntegerFlag | NumberFlag ? number
  : F extends ChoiceFlag<infer C> ? C
  : F extends { default: string } ? string
  : string | undefined;

/** Parsed values of a table. */
export type FlagValues<T extends FlagTable> = { [K in keyof T]: FlagValue<T[K]> };

/** Flags every script has, last in every `--help`. */
export const COMMON_FLAGS = {
  verbose: { kind: "boolean", short: "v", help: "show stack traces on errors" },
  version: { kind: "boolean", help: "print the version and exit" },
  help: { kind: "boolean", short: "h", help: "show this help" },
} as const satisfies FlagTable;

/** What `parseFlags` returns. */
interface ParsedFlags<T extends FlagTable> {
  values: FlagValues<T & typeof COMMON_FLAGS>;
  /** Long names of the flags the user gave (to tell an explicit `--env .env` from the default). */
  given: ReadonlySet<string>;
  positionals: string[];
}

const isNumeric = (flag: Flag) => flag.kind === "integer" || flag.kind === "number";

/** The table entry for an argument such as `--db`, `--db=x` or `-v`. */
function lookup(table: FlagTable, arg: string): Flag | undefined {
  if (arg.startsWith("--")) return table[arg.slice(2).split("=")[0]];
  if (/^-[a-zA-Z]$/.test(arg)) return Object.values(table).find((f) => f.short === arg[1]);
  return undefined;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * The known flag closest to `name`, if it is close enough to be a typo.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(nearestFlag("activites", ["activities", "segments"]), "activities");
 * strictEqual(nearestFlag("colour", ["activities", "segments"]), undefined);
 * ```
 */
export function nearestFlag(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  // A third of the name may be wrong (two letters in "activites" → "activities" is one).
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Turns a parseArgs error into one line naming the flag. */
function usageMessage(err: Error & { code?: string }, table: FlagTable, args: string[]): string {
  const quoted = err.message.match(/'([^']*)'/)?.[1] ?? "";
  const option = quoted.replace(/ <value>$/, "").split(", ").at(-1) ?? quoted;
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const name = option.replace(/^-+/, "").split("=")[0];
    const guess = option.startsWith("--") ? nearestFlag(name, Object.keys(table)) : undefined;
    return `unknown option ${option}${guess ? `; did you mean --${guess}?` : " (see --help)"}`;
  }
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `unexpected argument '${quoted}' (see --help)`;
  if (/does not take an argument/.test(err.message)) return `${option} takes no value (see --help)`;
  if (/argument is ambiguous/.test(err.message)) {
    const i = args.indexOf(option);
    const next = i >= 0 ? args[i + 1] : undefined;
    return `${option} needs a value, got the option ${next}; to pass a value starting with '-', write ${option}=VALUE`;
  }
  if (/argument missing/.test(err.message)) return `${option} needs a value (see --help)`;
  return `${err.message.split("\n")[0].replace(/\.$/, "")} (see --help)`;
}

function describeRange(flag: IntegerFlag | NumberFlag): string {
  if (flag.kind === "number") return `a number above ${flag.above} and at most ${flag.max}`;
  if (flag.max === undefined) return `a whole number ≥ ${flag.min}`;
  return `a whole number from ${flag.min} to ${flag.max}`;
}

/** Whether `path` names an existing directory; any other answer (missing, refused) is left to the script. */
function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const shown = (value: string) => /^-?[\d.]+$/.test(value) ? value : `'${value}'`;

/** Checks and converts one flag's raw value. */
function convert(name: string, flag: Flag, raw: string | boolean | undefined): unknown {
  if (flag.kind === "boolean") return raw === true;
  if (raw === undefined) return flag.default;
  const value = String(raw);
  if (flag.kind === "string") return value;
  if (flag.kind === "file") {
    if (value === "") throw new UsageError(`--${name} needs a file path, got nothing`);
    if (isDirectory(value)) throw new UsageError(`--${name} ${value} is a directory; give the path of a file`);
    return value;
  }
  if (flag.kind === "choice") {
    if (!flag.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${flag.choices.join(", ")}, got ${shown(value)}`);
    }
    return value;
  }
  const n = Number(value);
  const ok = value.trim() !== "" && Number.isFinite(n) &&
    (flag.kind === "integer"
      ? /^\s*-?\d+\s*$/.test(value) && n >= flag.min && n <= (flag.max ?? Number.MAX_SAFE_INTEGER)
      : n > flag.above && n <= flag.max);
  if (!ok) throw new UsageError(`--${name} must be ${describeRange(flag)}, got ${shown(value)}`);
  return n;
}

/**
 * Parses `args` against `table` (plus the common flags) strictly: an unknown flag, a missing
 * value, a stray positional or a value out of range is a `UsageError` of one line. A negative
 * number after a numeric flag (`--activities -1`) is read as its value, so it gets the same
 * range message as `--activities=-1` instead of the parser's "ambiguous" complaint.
 *
 * @example
 * ```ts
 * import { ok, strictEqual, throws } from "node:assert/strict";
 * const table = {
 *   activities: { kind: "integer", arg: "N", default: 50, min: 1, help: "activities per batch" },
 * } as const satisfies FlagTable;
 * const { values, given } = parseFlags(["--activities", "10"], table);
 * strictEqual(values.activities, 10);
 * ok(given.has("activities"));
 * throws(() => parseFlags(["--activites=10"], table), /unknown option --activites; did you mean --activities\?/);
 * throws(() => parseFlags(["--activities", "0"], table), /--activities must be a whole number ≥ 1, got 0/);
 * ```
 */
export function parseFlags<T extends FlagTable>(
  args: string[],
  table: T,
  { positionals = 0 }: { positionals?: number } = {},
): ParsedFlags<T> {
  const all = withCommon(table);
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = lookup(all, args[i]);
    if (flag && isNumeric(flag) && !args[i].includes("=") && /^-[\d.]/.test(args[i + 1] ?? "")) {
      joined.push(`${args[i]}=${args[++i]}`);
    } else {
      joined.push(args[i]);
    }
  }
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, flag] of Object.entries(all)) {
    options[name] = { type: flag.kind === "boolean" ? "boolean" : "string", ...(flag.short && { short: flag.short }) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals: positionals > 0, tokens: true });
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    throw new UsageError(usageMessage(err, all, joined));
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals]}' (see --help)`);
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const values: Record<string, unknown> = {};
  // --help and --version win over a bad value elsewhere: the user asked for the text.
  const skipChecks = raw.help === true || raw.version === true;
  for (const [name, flag] of Object.entries(all)) {
    values[name] = skipChecks && flag.kind !== "boolean" ? undefined : convert(name, flag, raw[name]);
  }
  const given = new Set(parsed.tokens.flatMap((t) => t.kind === "option" ? [t.name] : []));
  return { values: values as FlagValues<T & typeof COMMON_FLAGS>, given, positionals: parsed.positionals };
}

function defaultNote(flag: Flag): string | undefined {
  if (flag.defaultNote !== undefined) return flag.defaultNote;
  if (flag.kind === "boolean" || flag.default === undefined) return undefined;
  const range = flag.kind === "integer"
    ? flag.max === undefined ? `, at least ${flag.min}` : `, ${flag.min} to ${flag.max}`
    : flag.kind === "number"
    ? `, above ${flag.above}, at most ${flag.max}`
    : "";
  return `default: ${flag.default}${range}`;
}

/** `table` followed by the common flags; a script may reword a common flag's help (its entry wins). */
function withCommon(table: FlagTable): FlagTable {
  const all: FlagTable = {};
  for (const [name, flag] of Object.entries(table)) if (!(name in COMMON_FLAGS)) all[name] = flag;
  for (const [name, flag] of Object.entries(COMMON_FLAGS)) all[name] = table[name] ?? flag;
  return all;
}

/** Widest line of the Options block of `--help`, so it reads in an ordinary terminal. */
export const HELP_WIDTH = 100;

/**
 * The Options block of `--help`: one entry per flag of `table`, then the common flags.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * const table = { db: { kind: "file", arg: "PATH", default: "data/segments.db", help: "database file" } } as const;
 * deepStrictEqual(optionsHelp(table).split("\n"), [
 *   "  --db PATH      database file (default: data/segments.db)",
 *   "  -v, --verbose  show stack traces on errors",
 *   "  --version      print the version and exit",
 *   "  -h, --help     show this help",
 * ]);
 * ```
 */
export function optionsHelp(table: FlagTable): string {
  const entries = Object.entries(withCommon(table)).map(([name, flag]) => {
    const left = `${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.kind === "boolean" ? "" : ` ${flag.arg}`}`;
    const lines = typeof flag.help === "string" ? [flag.help] : [...flag.help];
    return { left, lines, note: defaultNote(flag) };
  });
  const width = Math.max(...entries.map((e) => e.left.length)) + 2;
  // The default goes after the first help line when it fits, else after the last, else on a
  // line of its own: never in the middle of a sentence that continues on the next line.
  const room = HELP_WIDTH - 2 - width;
  for (const { lines, note } of entries) {
    if (!note) continue;
    const suffix = ` (${note})`;
    if (lines[0].length + suffix.length <= room) {
      lines[0] += suffix;
    } else if (lines.length > 1 && lines[lines.length - 1].length + suffix.length <= room) {
      lines[lines.length - 1] += suffix;
    } else lines.push(`(${note})`);
  }
  return entries
    .flatMap(({ left, lines }) => lines.map((line, i) => `  ${(i === 0 ? left : "").padEnd(width)}${line}`))
    .join("\n");
}

/**
 * The whole `--help` text: usage line, description, Options block, then any closing notes.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * const text = helpText({ usage: "update_schema.ts [options]", description: "Creates the database.", flags: {} });
 * ok(text.startsWith("Usage: update_schema.ts [options]\n\nCreates the database.\n\nOptions:\n  -v, --verbose"));
 * ```
 */
export function helpText(
  parts: { usage: string; description: string; flags: FlagTable; notes?: string },
): string {
  const sections = [`Usage: ${parts.usage}`, parts.description, `Options:\n${optionsHelp(parts.flags)}`];
  if (parts.notes) sections.push(parts.notes);
  return sections.join("\n\n");
}
