/**
 * One writer per database: an exclusive OS lock (flock) on `<db>.lock`. The kernel releases it
 * when the holder dies, so a lock left by a killed process is simply taken over; the file only
 * carries the holder's pid for the "already running" message. Needs no extra permission.
 */
import { RuntimeError } from "../errors.ts";

/** A held lock; dispose to release. */
export interface RunLock extends Disposable {
  path: string;
}

/** Takes the lock for `dbPath`, or throws RuntimeError "already running (pid N)". */
export function acquireRunLock(dbPath: string): RunLock {
  const path = `${dbPath}.lock`;
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = file.tryLockSync(true);
    if (!locked) {
      const holder = new TextDecoder().decode(Deno.readFileSync(path)).trim().split(/\s+/)[0] || "unknown";
      throw new RuntimeError(
        `another backfill is already running on ${dbPath} (pid ${holder}); wait for it to finish or stop it`,
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
