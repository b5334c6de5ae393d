/** Writing a file so that readers see the old or the new content, never a torn one. */
import { basename, dirname, join } from "node:path";
import { diskFullError, isDiskFull } from "./errors.ts";
import { assertWriteTarget } from "./write_target.ts";

/**
 * Writes `text` to a temp file beside `path` (same filesystem), syncs it, and renames it
 * over `path`. `mode` applies from creation (and exactly, whatever the umask), so a secret is
 * never readable by others, not even for a moment. Synchronous on purpose: it is small, and
 * callers such as the token store must have the file on disk before they go on. A `path` that is
 * a symlink out of the folder this process may write is refused (lib/write_target.ts); a full
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
