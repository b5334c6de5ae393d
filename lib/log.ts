/**
 * Logging setup for the long-running scripts: plain lines in `--log-file` (default
 * backfill.log, rotated at 10 MiB), each written at once so a kill -9 loses no line. Modules log through
 * `getLogger(["strava-backfill", ...])`, which is silent until a script calls `setupLogging`.
 *
 * Which scripts write the log: the backfill runs (incremental_backfill, manage_backfill one-time and
 * continuous), the ones cron runs unattended; their session sets logging up before it reads the
 * configuration or opens the database, so every error that ends such a run reaches the log
 * (`runMain` writes it there as well as to stderr). `manage_backfill --mode stats` only reads and
 * creates no file; update_schema, import_archive and setup_auth are run by hand and report on
 * stderr only.
 */
import {
  configure,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  reset,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";
import { dirname } from "node:path";
import { assertWriteTarget, createPrivateFile } from "./files.ts";

/** How many rotated files are kept: backfill.log.1 (the newest) … backfill.log.5. */
const ROTATIONS = 5;

/** Default `--log-file`. */
export const DEFAULT_LOG_PATH = "backfill.log";

/**
 * The logger of a module: `logger("backfill")`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(logger("backfill").category, ["strava-backfill", "backfill"]);
 * ```
 */
export function logger(...category: string[]): Logger {
  return getLogger(["strava-backfill", ...category]);
}

/** Options for `setupLogging`. */
interface LoggingOptions {
  /** Path of the log file. */
  path: string;
  /** Log debug lines too (each request, each usage header). */
  verbose?: boolean;
  /** Size at which the file is rotated (default 10 MiB). */
  maxBytes?: number;
}

/**
 * Sends every strava-backfill log line to the log file. Returns a disposer that flushes and
 * closes it; `runMain` calls `closeLogging` after the script ends, once any error that ended
 * it is logged.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const close = await setupLogging({ path: `${dir}/backfill.log` });
 * logger("run").info("run started");
 * await close();
 * ok(Deno.readTextFileSync(`${dir}/backfill.log`).includes("[INF] strava-backfill.run: run started"));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<() => Promise<void>> {
  // Deno allows appending to a symlink in the folder whatever its target: refuse one leading out.
  for (let i = 0; i <= ROTATIONS; i++) assertWriteTarget(i === 0 ? options.path : `${options.path}.${i}`);
  if (dirname(options.path) !== ".") Deno.mkdirSync(dirname(options.path), { recursive: true });
  const formatter = getTextFormatter({
    timestamp: "rfc3339",
    category: ".",
    // Ids are bigints; "123n" in a log line would not match the database.
    value: (v, inspect) => typeof v === "string" || typeof v === "bigint" ? String(v) : inspect(v),
  });
  await configure({
    reset: true,
    // Months of runs: rotate at 10 MiB, keeping the last five files.
    sinks: { file: rotatingFileSink(options.path, options.maxBytes ?? 10 * 1024 * 1024, formatter) },
    loggers: [
      { category: ["strava-backfill"], lowestLevel: options.verbose ? "debug" : "info", sinks: ["file"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["file"] },
    ],
  });
  return () => reset();
}

/**
 * Writes the error that ends a run to the log, with its time and exit code. Silent for a script
 * that set up no logging. Messages are the one line the user sees on stderr, worded never to
 * carry a token or secret.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * logRunError("nothing is written", 1); // no logging set up: silent
 * const dir = Deno.makeTempDirSync();
 * await setupLogging({ path: `${dir}/backfill.log` });
 * logRunError("--db data/segments.db is a directory; give the path of a file", 2);
 * await closeLogging();
 * ok(Deno.readTextFileSync(`${dir}/backfill.log`).includes("run ended: --db data/segments.db is a directory"));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function logRunError(message: string, exitCode: number): void {
  logger("run").error("run ended: {message} (exit {code})", { message, code: exitCode });
}

/**
 * Flushes and closes the log file, if a script opened one.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * await setupLogging({ path: `${dir}/backfill.log` });
 * logger("run").info("the last line");
 * await closeLogging(); // flushed and closed: the file can be read, moved or removed
 * strictEqual(Deno.readTextFileSync(`${dir}/backfill.log`).trimEnd().split("\n").length, 1);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export async function closeLogging(): Promise<void> {
  await reset();
}

/**
 * The log file. Each line is one write, at once, so a kill -9 loses none; there is no fsync per
 * line (it cost more than the rest of a request's logging, docs/performance.md): as for the
 * database (WAL, `synchronous = NORMAL`), only a power cut can drop the last lines. A line that
 * would take the file past `maxBytes` first rotates it (.4 to .5, …, the file to .1). The tool
 * creates each new file 0600; an existing log keeps the mode its owner gave it.
 */
function rotatingFileSink(path: string, maxBytes: number, formatter: TextFormatter): Sink & Disposable {
  const encoder = new TextEncoder();
  const open = () => {
    createPrivateFile(path);
    return Deno.openSync(path, { append: true, create: true });
  };
  let file = open();
  let size = file.statSync().size;
  const sink = (record: LogRecord) => {
    const bytes = encoder.encode(formatter(record));
    if (size > 0 && size + bytes.length > maxBytes) {
      file.close();
      for (let i = ROTATIONS - 1; i > 0; i--) {
        try {
          Deno.renameSync(`${path}.${i}`, `${path}.${i + 1}`);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
      Deno.renameSync(path, `${path}.1`);
      file = open();
      size = 0;
    }
    for (let written = 0; written < bytes.length;) written += file.writeSync(bytes.subarray(written));
    size += bytes.length;
  };
  return Object.assign(sink, { [Symbol.dispose]: () => file.close() });
}
