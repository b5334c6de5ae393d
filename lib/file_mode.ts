/**
 * Files that hold secrets stay private: created 0600, and a warning (with the `chmod` that
 * fixes it) when an existing one is readable by group or others. The mode of an existing
 * file is the user's to change, so it is never changed behind their back.
 */

/** Mode of files that hold tokens or describe the user's runs. */
export const PRIVATE_MODE = 0o600;

/**
 * Creates `path` empty with mode 0600 when it does not exist (an existing file keeps its
 * content and mode). Returns whether it created the file. The explicit chmod defeats an
 * unusual umask; on Windows modes do not apply.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * strictEqual(createPrivateFile(`${dir}/backfill.log`), true);
 * strictEqual(createPrivateFile(`${dir}/backfill.log`), false); // there already: content and mode kept
 * if (Deno.build.os !== "windows") strictEqual(Deno.statSync(`${dir}/backfill.log`).mode! & 0o777, PRIVATE_MODE);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function createPrivateFile(path: string): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { write: true, createNew: true, mode: PRIVATE_MODE });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
  file.close();
  if (Deno.build.os !== "windows") Deno.chmodSync(path, PRIVATE_MODE);
  return true;
}

/**
 * The path, quoted for a shell when it needs it (in messages that show a command).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(shellPath("data/segments.db"), "data/segments.db");
 * strictEqual(shellPath("my rides/it's.db"), "'my rides/it'\\''s.db'");
 * ```
 */
export function shellPath(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

const warned = new Set<string>();

/**
 * Warns once per file and process when `path`, which holds `what`, is readable by group or
 * others (never on Windows, where modes do not apply). `write` receives the one line (default: stderr).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * const lines: string[] = [];
 * const options = { info: { mode: 0o100644 } as Deno.FileInfo, write: (line: string) => lines.push(line) };
 * warnIfShared("example/tokens.json", "tokens", options);
 * warnIfShared("example/tokens.json", "tokens", options); // once per file and process
 * deepStrictEqual(lines, Deno.build.os === "windows" ? [] : [
 *   "warning: example/tokens.json holds tokens and is readable by other users (mode 0644); " +
 *   "make it private with: chmod 600 example/tokens.json",
 * ]);
 * ```
 */
export function warnIfShared(
  path: string,
  what: string,
  options: { info?: Deno.FileInfo; write?: (line: string) => void } = {},
): void {
  if (Deno.build.os === "windows") return;
  const mode = (options.info ?? Deno.statSync(path)).mode;
  if (mode === null || (mode & 0o044) === 0 || warned.has(path)) return;
  warned.add(path);
  const line = `warning: ${path} holds ${what} and is readable by other users (mode ${
    (mode & 0o777).toString(8).padStart(4, "0")
  }); make it private with: chmod 600 ${shellPath(path)}`;
  (options.write ?? ((l: string) => console.error(l)))(line);
}
