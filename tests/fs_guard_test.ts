/**
 * Issue 17 items 4-7, as a user meets them: the scripts run as subprocesses under exactly their
 * binaries' permissions (lib/permissions.ts) against the simulator, and each test checks what the
 * user would: the exit code, the one line, the reads spent (the simulator's request log), that
 * nothing is lost, and that a file outside the folder stays byte-identical.
 *
 * - a database deleted or replaced while continuous mode runs stops the run (exit 1) before the
 *   next request;
 * - a full disk (a real tmpfs of a few MiB, in a private mount namespace) says so and names the
 *   database, and the next run on the same data completes;
 * - a file the tool writes that is a symlink out of the folder is refused (exit 2), its target
 *   untouched;
 * - a Strava host the permissions do not grant is a usage error (exit 2) at once: no request, no
 *   run counted, no budget reserved.
 */
import { ok, strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { denoRunArgs } from "../lib/permissions.ts";
import { readState } from "../lib/backfill/state_file.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { assertMatchesTruth } from "./truth.ts";
import {
  baseEnv,
  fileDigest,
  runScript,
  type ScriptResult,
  scriptWorld,
  simEnv,
  spawnScript,
  tempDir,
  withDatabase,
} from "./helpers.ts";

const DB = "data/segments.db";
const ACTIVITY = /\/activities\/\d+$/;

async function waitFor(what: string, condition: () => boolean, ms = 60_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function removeIfThere(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** The lines a run printed on stderr (warnings included). */
function lines(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** Asserts the run ended with `code` and exactly one stderr line, the error, containing every `part`. */
function assertOneLine(r: ScriptResult, code: number, ...parts: string[]): string {
  strictEqual(r.code, code, `exit code; stderr: ${r.stderr}; stdout: ${r.stdout}`);
  const errs = lines(r.stderr);
  strictEqual(errs.length, 1, `one line on stderr: ${r.stderr}`);
  for (const part of parts) ok(errs[0].includes(part), `"${part}" in: ${errs[0]}`);
  ok(errs[0].startsWith("error: "), errs[0]);
  return errs[0];
}

/**
 * Runs continuous mode with every activity response taking 1.5 s, does `act` to the database
 * while a response is in flight, and hands `check` the run's end and the requests that arrived
 * after `act`, then `checkFolder` the folder.
 */
async function continuousWhile(
  act: (dir: string) => void,
  check: (r: ScriptResult, after: { path: string }[]) => void,
  checkFolder: (dir: string) => Promise<void>,
): Promise<void> {
  await using world = await scriptWorld({ seed: 4, activities: 40, segments: 20 });
  const { dir, sim, opts } = world;
  sim.addFault({ path: ACTIVITY, kind: "slow", delayMs: 1500, times: 1000 });
  const child = spawnScript("manage_backfill", ["--mode", "continuous", "--interval", "1", "--activities", "5"], opts);
  await waitFor("an activity request in flight", () => sim.requests.some((r) => ACTIVITY.test(r.path)));
  act(dir.path);
  const before = sim.requests.length;
  // Unnoticed, continuous mode would go on for ever: end it, and the assertions below fail.
  const guard = setTimeout(() => child.kill("SIGTERM"), 60_000);
  const out = await child.output();
  clearTimeout(guard);
  const decoder = new TextDecoder();
  const r = { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
  check(r, sim.requests.slice(before));
  await checkFolder(dir.path);
}

Deno.test("database deleted while continuous mode runs: exit 1 naming it, no read after, no 'state saved'", async () => {
  await continuousWhile((dir) => Deno.removeSync(`${dir}/${DB}`), (r, after) => {
    // Before: 66-86 more reads in 10 s into the unlinked file, then "stopped on signal; state saved".
    assertOneLine(r, 1, `database ${DB} was deleted or moved away while this run was using it`);
    strictEqual(after.length, 0, `requests after the rm: ${JSON.stringify(after.map((e) => e.path))}`);
    ok(!r.stdout.includes("state saved"), r.stdout);
  }, async (dir) => {
    const { state } = await readState(`${dir}/backfill_state.json`);
    strictEqual(state.last_outcome, "failed");
    ok(state.last_error?.startsWith(`database ${DB} was deleted`), state.last_error ?? "");
  });
});

Deno.test("database replaced (a backup moved over it) in continuous mode: exit 1, the new file untouched", async () => {
  let restored = new Uint8Array();
  await continuousWhile((dir) => {
    // A backup of the main file alone: an older, consistent database, as a restore brings back.
    Deno.copyFileSync(`${dir}/${DB}`, `${dir}/backup.db`);
    restored = Deno.readFileSync(`${dir}/backup.db`);
    Deno.renameSync(`${dir}/backup.db`, `${dir}/${DB}`);
  }, (r, after) => {
    assertOneLine(r, 1, `database ${DB} was replaced by another file`, "nothing was written to the new file");
    strictEqual(after.length, 0, `requests after the mv: ${JSON.stringify(after.map((e) => e.path))}`);
  }, (dir) => {
    ok(restored.length > 0);
    strictEqual(Buffer.compare(Deno.readFileSync(`${dir}/${DB}`), restored), 0, "the restored file is byte-identical");
    return Promise.resolve();
  });
});

/** The files a backfill writes, each tried as a symlink to a file outside the folder. */
const WRITTEN = [
  "backfill.log",
  "backfill.log.3",
  "backfill_state.json",
  "strava_budget.db",
  "tokens.json",
  "tokens.json.lock",
  `${DB}.lock`,
];

Deno.test("a file the backfill writes that is a symlink out of the folder: exit 2 naming it, target untouched", async () => {
  await using world = await scriptWorld({ seed: 4, activities: 6, segments: 4 });
  await using outside = await tempDir();
  const { dir, sim, opts } = world;
  const target = `${outside.path}/victim.txt`;
  Deno.writeTextFileSync(target, "another program's file\n");
  const digest = await fileDigest(target);
  for (const name of WRITTEN) {
    removeIfThere(`${dir.path}/${name}`); // an earlier round's run made it
    Deno.symlinkSync(target, `${dir.path}/${name}`);
    const r = await runScript("manage_backfill", ["--mode", "one-time"], opts);
    // Before: backfill.log was appended to (exit 0) under --allow-write=. .
    assertOneLine(r, 2, `${name} is a symlink to ${target}, outside the folder this program may write`);
    strictEqual(await fileDigest(target), digest, `${name}: the target is byte-identical`);
    strictEqual(sim.requests.length, 0, `${name}: no request`);
    Deno.removeSync(`${dir.path}/${name}`);
  }
  // A log kept elsewhere through a symlinked folder is refused the same way.
  Deno.symlinkSync(outside.path, `${dir.path}/logs`);
  const folder = await runScript("manage_backfill", ["--mode", "one-time", "--log-file", "logs/run.log"], opts);
  assertOneLine(folder, 2, `logs/run.log lies in a symlinked folder and would be written to ${outside.path}/run.log`);
  strictEqual([...Deno.readDirSync(outside.path)].length, 1, "nothing created outside");
  // A link that stays in the folder is the user's arrangement, and works.
  Deno.mkdirSync(`${dir.path}/kept`);
  Deno.writeTextFileSync(`${dir.path}/kept/backfill.log`, "");
  removeIfThere(`${dir.path}/backfill.log`);
  Deno.symlinkSync("kept/backfill.log", `${dir.path}/backfill.log`);
  const inside = await runScript("manage_backfill", ["--mode", "one-time"], opts);
  strictEqual(inside.code, 0, inside.stderr);
  ok(Deno.readTextFileSync(`${dir.path}/kept/backfill.log`).includes("stored"), "the log went through the link");
  withDatabase(dir.path, (db) => assertMatchesTruth(db, sim));
});

Deno.test("STRAVA_API_URL at a host the permissions do not grant: exit 2 at once, no request, no run, no budget", async () => {
  await using world = await scriptWorld({ seed: 4, activities: 6, segments: 4 });
  const { dir, sim, opts } = world;
  const refused = { ...opts, hosts: [] }; // the simulator's address is not in --allow-net
  for (const script of ["manage_backfill", "incremental_backfill"] as const) {
    const args = script === "manage_backfill" ? ["--mode", "one-time"] : [];
    const r = await runScript(script, args, refused);
    // Before: 5 attempts over 12 s, exit 1 "nothing was lost, run again later", a run counted, 5 reads reserved.
    assertOneLine(r, 2, `STRAVA_API_URL points at ${sim.host}`, `--allow-net=${sim.host}`);
    ok(!r.stderr.includes("run again later"), r.stderr);
  }
  strictEqual(sim.requests.length, 0, "no request reached Strava");
  strictEqual((await readState(`${dir.path}/backfill_state.json`)).state.runs, 0, "not counted as a run");
  const stats = await runScript("manage_backfill", ["--mode", "stats", "--json"], opts);
  strictEqual(stats.code, 0, stats.stderr);
  const budget = JSON.parse(stats.stdout).budget;
  strictEqual(budget.window.reads_left, budget.window.reads_allowed, "no budget spent or reserved");
  strictEqual(JSON.parse(stats.stdout).last_run.runs, 0);
  // The OAuth host is checked as well, before anything is written.
  const oauth = await runScript("manage_backfill", ["--mode", "one-time"], {
    ...opts,
    env: { ...opts.env, STRAVA_OAUTH_URL: "https://127.0.0.9:9" },
  });
  assertOneLine(oauth, 2, "STRAVA_OAUTH_URL points at 127.0.0.9:9", "--allow-net=127.0.0.9:9");
  strictEqual(sim.requests.length, 0);
  // Granted, the same folder runs to completion.
  const granted = await runScript("manage_backfill", ["--mode", "one-time"], opts);
  strictEqual(granted.code, 0, granted.stderr);
  withDatabase(dir.path, (db) => assertMatchesTruth(db, sim));
});

/**
 * How this process can mount a small file system of its own: `unshare -m` (root) or
 * `unshare -rm` (a user namespace, where the kernel allows them); null when neither works.
 */
function mountNamespace(): string[] | null {
  for (const flags of [["-m"], ["-r", "-m"]]) {
    try {
      const probe = new Deno.Command("unshare", {
        args: [...flags, "sh", "-c", 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d"'],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (probe.success) return flags;
    } catch {
      // no unshare on this machine
    }
  }
  return null;
}

const NAMESPACE = mountNamespace();
const shellQuote = (args: string[]) => args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");

/** Free space left on the tmpfs when the backfill starts: the listing and a few activities fit (6 of 40 here). */
const FREE_KIB = 700;

Deno.test({
  name: "disk full: exit 1, one line saying the disk holding the database is full; the next run loses nothing",
  // Needs a real small file system; without a mount namespace this machine cannot make one.
  ignore: NAMESPACE === null,
  async fn() {
    await using dir = await tempDir(); // the mount point: the run's folder on a 6 MiB tmpfs
    await using out = await tempDir(); // where the folder is copied after the run, outside the tmpfs
    await using sim = await StravaSimulator.start({ seed: 6, activities: 40, segments: 30 });
    const deno = Deno.execPath();
    const script = [
      `mount -t tmpfs -o size=6m tmpfs . && cd "$PWD"`,
      `${deno} ${shellQuote(denoRunArgs("update_schema", ["--create"]))} >/dev/null 2>&1`,
      // Fill the disk, then free FREE_KIB: what the backfill finds.
      `(dd if=/dev/zero of=filler bs=4k 2>/dev/null; truncate -s -${FREE_KIB}K filler)`,
      `${deno} ${shellQuote(denoRunArgs("manage_backfill", ["--mode", "one-time"], [sim.host]))} ` +
      `>"$OUT/stdout" 2>"$OUT/stderr"; echo $? >"$OUT/code"`,
      `rm filler && cp -a data backfill_state.json backfill.log "$OUT/"`,
    ].join(" && ");
    const env = { ...baseEnv(), ...simEnv(sim), OUT: out.path };
    const sh = await new Deno.Command("unshare", { args: [...NAMESPACE!, "sh", "-c", script], cwd: dir.path, env })
      .output();
    strictEqual(sh.code, 0, new TextDecoder().decode(sh.stderr));
    const read = (name: string) => Deno.readTextFileSync(`${out.path}/${name}`);
    const r = { code: Number(read("code")), stdout: read("stdout"), stderr: read("stderr") };
    const listed = sim.requests.filter((e) => e.path.endsWith("/athlete/activities")).length;
    const fetched = sim.requests.filter((e) => ACTIVITY.test(e.path)).length;
    ok(
      listed > 0 && fetched > 0,
      `the disk filled in the middle of the backfill (${listed} pages, ${fetched} activities)`,
    );
    // Before: "No space left on device (os error 28)", from the state file written after the failure.
    assertOneLine(r, 1, `the disk holding ${DB} is full`);
    ok(!/rollback|os error/.test(r.stderr), r.stderr);
    ok(read("backfill.log").includes(`the disk holding ${DB} is full`), "the log has the cause too");
    // Nothing lost: with space again, the same folder's next run completes the backfill exactly.
    const again = await runScript("manage_backfill", ["--mode", "one-time"], {
      cwd: out.path,
      env: simEnv(sim),
      hosts: [sim.host],
    });
    strictEqual(again.code, 0, again.stderr);
    withDatabase(out.path, (db) => assertMatchesTruth(db, sim));
  },
});
