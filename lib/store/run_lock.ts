/**
 * One writer per database file: an exclusive OS lock (flock) on `<real path of the db>.lock`.
 * The real path (symlinks resolved) makes every name of the file share one lock, so a second
 * backfill through a symlink is refused; a second hard link is refused before this (lib/store/db.ts).
 * The kernel releases the lock when the holder dies, so a lock left by a killed process is simply
 * taken over; the file only carries the holder's pid for the "already running" message. Needs no
 * extra permission: when the real file lies outside the folder the process may write (a symlink
 * to another disk), the lock goes beside the link instead, named by the file's device and inode,
 * so every link in that folder shares it.
 */
import { basename, dirname, join, resolve } from "node:path";
import { RuntimeError } from "../errors.ts";
import { assertWriteTarget, PRIVATE_MODE } from "../files.ts";

/** A held lock; dispose to release. */
interface RunLock extends Disposable {
  path: string;
}

/** The lock file of the database at `dbPath` (see the module comment), and the real file's path. */
function runLockPath(dbPath: string, access: "read" | "write" = "write"): { path: string; real: string } {
  const real = Deno.realPathSync(dbPath);
  const beside = `${real}.lock`;
  if (Deno.permissions.querySync({ name: access, path: beside }).state === "granted") return { path: beside, real };
  const { dev, ino } = Deno.statSync(dbPath); // follows the link, checked against dbPath's permission
  const name = dev === null || ino === null ? `${basename(dbPath)}.lock` : `.strava-backfill-${dev}-${ino}.lock`;
  return { path: join(dirname(dbPath), name), real };
}

/** Takes the lock for `dbPath`, or throws RuntimeError "already running (pid N)". */
export function acquireRunLock(dbPath: string): RunLock {
  const { path, real } = runLockPath(dbPath);
  assertWriteTarget(path);
  // Private like every file the tool writes beside the tokens (tokens.json.lock is 0600 too).
  const file = Deno.openSync(path, { read: true, write: true, create: true, mode: PRIVATE_MODE });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
    if (!locked) {
      const holder = new TextDecoder().decode(Deno.readFileSync(path)).trim().split(/\s+/)[0] || "unknown";
      const alias = real === resolve(dbPath) ? "" : ` (the same file as ${real})`;
      throw new RuntimeError(
        `another backfill is already running on ${dbPath}${alias} (pid ${holder}); wait for it to finish or stop it`,
      );
    }
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(`${Deno.pid} ${new Date().toISOString()}\n`));
  } catch (err) {
    if (locked) file.unlockSync();
    file.close();
    throw err;
  }
  return {
    path,
    [Symbol.dispose]() {
      try {
        file.truncateSync(0);
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

/**
 * Whether a backfill holds the lock for `dbPath` right now (for stats: a state file that says
 * `running` while nobody holds the lock was left by a killed process). Reads only: it never
 * creates the lock file, and takes a shared lock for an instant. A writer starting in that
 * instant is refused as "already running"; a re-run then succeeds.
 */
export function runLockHeld(dbPath: string): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(runLockPath(dbPath, "read").path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
  try {
    if (!file.tryLockSync(false)) return true;
    file.unlockSync();
    return false;
  } finally {
    file.close();
  }
}
