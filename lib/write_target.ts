/**
 * Nothing is written through a symlink out of the folder. Deno checks `--allow-write=.` against
 * the name a file is opened by, not against where a symlink leads, so a `backfill.log` linked to
 * a file elsewhere would be appended to. Every file the tool writes (backfill.log and its
 * rotations, the state file, lock files, the shared budget store, tokens.json, a report) is checked
 * here before it is first written: when the name, or a folder on its way, is a symlink that leads
 * where this process may not write, the write is refused with a UsageError (exit 2) naming the
 * file and its target, and the target stays byte-identical. A link that stays inside what the
 * permissions grant is fine; under unscoped permissions (`deno run -A`) every target is granted.
 * The database itself is the file the user named and may be a symlink anywhere (docs/database.md).
 */
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { UsageError } from "./errors.ts";

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
