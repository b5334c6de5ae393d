/**
 * The files the tool writes, and how. Nothing is written through a symlink out of the folder.
 * Deno checks `--allow-write=.` against the name a file is opened by, not against where a symlink
 * leads, so a `backfill.log` linked to a file elsewhere would be appended to. Every file the tool
 * writes (backfill.log and its rotations, the state file, lock files, the shared budget store,
 * tokens.json, a report) is checked here before it is first written: when the name, or a folder
 * on its way, is a symlink that leads where this process may not write, the write is refused with
 * a UsageError (exit 2) naming the file and its target, and the target stays byte-identical. A link
 * that stays inside what the permissions grant is fine; under unscoped permissions (`deno run -A`)
 * every target is granted. The database itself is the file the user named and may be a symlink
 * anywhere (docs/database.md).
 *
 * Files that hold secrets stay private: created 0600, and a warning (with the `chmod` that fixes
 * it) when an existing one is readable by group or others. The mode of an existing file is the
 * user's to change, so it is never changed behind their back.
 */
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { diskFullError, isDiskFull, UsageError } from "./errors.ts";

/** Links followed before giving up (the kernel's own limit is 40); the OS then reports the loop. */
const MAX_LINKS = 40;

function granted(path: string): boolean {
  return Deno.permissions.querySync({ name: "write", path }).state === "granted";
}

/** `dir` with its symlinks resolved, as far as it exists and may be read; the rest as written. */
function realFolder(dir: string): string {
  try {
    return Deno.realPathSync(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && dirname(dir) !== dir) {
      return join(realFolder(dirname(dir)), basename(dir));
    }
    return dir; // not there at all, or not ours to read: Deno's own check decides
  }
}

/**
 * Where writing `path` would land when that is outside what this process may write, through a
 * symlink of the file or of a folder on its way; null when it lands where the permissions allow
 * (or `path` itself is not allowed: Deno refuses that by itself, naming the flag).
 */
function linkedOutside(path: string): string | null {
  let current = resolve(path);
  if (!granted(current)) return null;
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    const place = join(realFolder(dirname(current)), basename(current));
    if (!granted(place)) return place;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(place);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
    if (!info.isSymlink) return null;
    const link = Deno.readLinkSync(place);
    current = isAbsolute(link) ? link : resolve(dirname(place), link);
  }
  return null;
}

/**
 * Refuses (UsageError, exit 2) to write `path` when it leads out of the folder through a symlink.
 *
 * @example
 * ```ts
 * const dir = Deno.makeTempDirSync();
 * assertWriteTarget(`${dir}/backfill.log`); // a plain file (even one not there yet) is always fine
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function assertWriteTarget(path: string): void {
  const target = linkedOutside(path);
  if (target === null) return;
  let link = false;
  try {
    link = Deno.lstatSync(path).isSymlink;
  } catch {
    // a link in a folder on the way: worded as such below
  }
  const how = link ? `is a symlink to ${target}` : `lies in a symlinked folder and would be written to ${target}`;
  throw new UsageError(
    `${path} ${how}, outside the folder this program may write; nothing is written through a symlink ` +
      `out of the folder: replace the link by a file or folder (or remove it) and run again`,
  );
}

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

/**
 * Writes `text` to a temp file beside `path` (same filesystem), syncs it, and renames it
 * over `path`. `mode` applies from creation (and exactly, whatever the umask), so a secret is
 * never readable by others, not even for a moment. Synchronous on purpose: it is small, and
 * callers such as the token store must have the file on disk before they go on. A `path` that is
 * a symlink out of the folder this process may write is refused (assertWriteTarget); a full
 * disk is a DiskFullError naming `path`, and the old content stays.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * writeFileAtomic(`${dir}/tokens.json`, '{"refresh_token":"…"}\n', { mode: 0o600 });
 * strictEqual(Deno.readTextFileSync(`${dir}/tokens.json`), '{"refresh_token":"…"}\n');
 * if (Deno.build.os !== "windows") strictEqual(Deno.statSync(`${dir}/tokens.json`).mode! & 0o777, 0o600);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeFileAtomic(path: string, text: string, options: { mode?: number } = {}): void {
  assertWriteTarget(path);
  const folder = dirname(path);
  Deno.mkdirSync(folder, { recursive: true });
  const temp = join(folder, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  const mode = options.mode ?? 0o644;
  try {
    const file = Deno.openSync(temp, { write: true, createNew: true, mode });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
      file.syncSync();
    } finally {
      file.close();
    }
    if (Deno.build.os !== "windows") Deno.chmodSync(temp, mode);
    Deno.renameSync(temp, path);
  } catch (err) {
    try {
      Deno.removeSync(temp);
    } catch {
      // the temp file was never created or is already renamed; nothing to clean up
    }
    throw isDiskFull(err) ? diskFullError(path, err) : err;
  }
}
