/**
 * One writer per database file (issue "Never stuck" 3), as users set it up: the lock is on the
 * real file, so a second backfill through a symlink is refused, also when the symlink points at
 * a database outside the folder the scripts may write (then the lock lives beside the links).
 */
import { ok, strictEqual } from "node:assert/strict";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { runScript, simEnv, spawnScript, tempDir } from "./helpers.ts";
import { acquireRunLock } from "../lib/store/run_lock.ts";
import { openDatabase } from "../lib/store/db.ts";

async function until(what: string, test: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("run lock: two symlinks to a database on another disk share one lock; each works alone", async () => {
  await using dir = await tempDir();
  await using disk = await tempDir(); // outside the working folder: not writable under the scripts' permissions
  await using sim = await StravaSimulator.start({ seed: 4, activities: 6, segments: 4 });
  const created = await runScript("update_schema", ["--db", "x.db", "--create"], { cwd: disk.path });
  strictEqual(created.code, 0, created.stderr);
  Deno.symlinkSync(`${disk.path}/x.db`, `${dir.path}/a.db`);
  Deno.symlinkSync(`${disk.path}/x.db`, `${dir.path}/b.db`);
  const opts = { cwd: dir.path, env: simEnv(sim), hosts: [sim.host] };
  const first = spawnScript("manage_backfill", ["--db", "a.db", "--mode", "continuous", "--interval", "60"], opts);
  try {
    await until("the first run's requests", () => sim.requests.length > 0);
    const second = await runScript("incremental_backfill", ["--db", "b.db"], opts);
    strictEqual(second.code, 1, second.stderr);
    ok(
      second.stderr.includes(`another backfill is already running on b.db (the same file as `) &&
        second.stderr.includes(`(pid ${first.pid})`),
      second.stderr,
    );
  } finally {
    first.kill("SIGTERM");
    const out = await first.output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  }
  const alone = await runScript("incremental_backfill", ["--db", "b.db"], opts);
  strictEqual(alone.code, 0, alone.stderr);
  strictEqual(
    [...Deno.readDirSync(disk.path)].filter((e) => e.name.endsWith(".lock")).length,
    0,
    "nothing written beside the real file outside the folder but SQLite's own files",
  );
});

Deno.test("run lock: the lock file is created 0600, like every file the tool writes beside the tokens", async () => {
  await using dir = await tempDir();
  const dbPath = `${dir.path}/m.db`;
  openDatabase(dbPath, { create: true }).close();
  using lock = acquireRunLock(dbPath);
  strictEqual((Deno.statSync(lock.path).mode ?? 0) & 0o777, 0o600);
});
