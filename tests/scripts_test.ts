import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { PERMISSIONS, type ScriptName } from "../lib/permissions.ts";
import { HELP_WIDTH } from "../lib/flags.ts";
import { compareVersions, denoTooOld, MIN_DENO, VERSION } from "../lib/version.ts";
import { createDatabase, ROOT, runScript, scriptWorld, tempDir, withDatabase } from "./helpers.ts";

const SCRIPTS = Object.keys(PERMISSIONS) as ScriptName[];

// Each script's --help is a golden file, so help text cannot drift silently. After a deliberate
// change, regenerate it: deno run -A scripts/<script>.ts --help > tests/help/<script>.txt
for (const script of SCRIPTS) {
  Deno.test(`${script}: --help prints tests/help/${script}.txt and exits 0 under its permissions`, async () => {
    await using dir = await tempDir();
    const r = await runScript(script, ["--help"], { cwd: dir.path });
    strictEqual(r.code, 0, r.stderr);
    strictEqual(r.stdout, await Deno.readTextFile(`${ROOT}tests/help/${script}.txt`));
    for (const line of r.stdout.split("\n")) ok(line.length <= HELP_WIDTH, `--help line too wide: ${line}`);
    strictEqual(r.stderr, "");
  });
}

Deno.test("incremental_backfill: a log file outside the working folder is refused by Deno's permissions", async () => {
  await using dir = await tempDir();
  await using other = await tempDir();
  await runScript("update_schema", ["--create"], { cwd: dir.path });
  const r = await runScript("incremental_backfill", ["--log-file", `${other.path}/b.log`], {
    cwd: dir.path,
    env: { STRAVA_ACCESS_TOKEN: "x" },
  });
  strictEqual(r.code, 2, r.stderr);
  // One line naming the path (the log's folder, made first) and the flag that would grant it.
  ok(
    new RegExp(
      `(read|write) access to ${other.path}\\S* is not allowed by this program's permissions \\(it needs --allow-(read|write)=${other.path}`,
    )
      .test(r.stderr),
    r.stderr,
  );
  strictEqual([...Deno.readDirSync(other.path)].length, 0);
});

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// One row per bad flag: the script, its arguments, and the one line it must print (exit 2). Each
// runs as a subprocess under its permissions beside an existing database, which must stay
// byte-identical.
const BAD_FLAGS: [ScriptName, string[], string][] = [
  ["manage_backfill", ["--activities", "-1"], "--activities must be a whole number ≥ 1, got -1"],
  ["manage_backfill", ["--activities=-1"], "--activities must be a whole number ≥ 1, got -1"],
  ["incremental_backfill", ["--activities", "-1"], "--activities must be a whole number ≥ 1, got -1"],
  ["incremental_backfill", ["--segments", "0"], "--segments must be a whole number ≥ 1, got 0"],
  ["manage_backfill", ["--rate-buffer", "-1"], "--rate-buffer must be a number above 0 and at most 1, got -1"],
  ["manage_backfill", ["--max-runs", "-3"], "--max-runs must be a whole number ≥ 0, got -3"],
  ["manage_backfill", ["--interval", "-1"], "--interval must be a whole number from 1 to 604800, got -1"],
  ["manage_backfill", ["--interval", "0"], "--interval must be a whole number from 1 to 604800, got 0"],
  ["manage_backfill", ["--interval", "3000000"], "--interval must be a whole number from 1 to 604800, got 3000000"],
  ["setup_auth", ["--port", "-1"], "--port must be a whole number from 0 to 65535, got -1"],
  ["setup_auth", ["--timeout", "3000000"], "--timeout must be a whole number from 1 to 86400, got 3000000"],
  ["manage_backfill", ["--activites", "5"], "unknown option --activites; did you mean --activities?"],
  ["import_archive", ["--skip-invalidd", "x.zip"], "unknown option --skip-invalidd; did you mean --skip-invalid?"],
  [
    "manage_backfill",
    ["--mode", "one-time", "--state", "data"],
    "--state data is a directory; give the path of a file",
  ],
  ["manage_backfill", ["--state", "data"], "--state data is a directory; give the path of a file"],
  [
    "incremental_backfill",
    ["--log-file", "data"],
    "--log-file data is a directory; give the path of a file",
  ],
  ["manage_backfill", ["--mode", "one-time", "--json"], "--json applies only to --mode stats (see --help)"],
  [
    "manage_backfill",
    ["--mode", "one-time", "--max-runs", "3"],
    "--max-runs applies only to --mode continuous (see --help)",
  ],
  ["manage_backfill", ["--interval", "60"], "--interval applies only to --mode continuous (see --help)"],
  [
    "manage_backfill",
    ["--retry-failed"],
    "--retry-failed needs --mode one-time or continuous: stats only reads (see --help)",
  ],
];

Deno.test("bad flags: one line, exit 2, the database untouched (each script under its permissions)", async () => {
  await using dir = await tempDir();
  createDatabase(dir.path);
  const db = `${dir.path}/data/segments.db`;
  const before = await sha256(db);
  for (const [script, args, line] of BAD_FLAGS) {
    const r = await runScript(script, args, { cwd: dir.path, env: { STRAVA_ACCESS_TOKEN: "x" } });
    const what = `${script} ${args.join(" ")}`;
    strictEqual(r.code, 2, `${what}: ${r.stderr}`);
    strictEqual(r.stderr, `error: ${line}\n`, what);
    strictEqual(r.stdout, "", what);
  }
  strictEqual(await sha256(db), before);
  deepStrictEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["data"], "no file created");
});

Deno.test("--version: every script prints the one version line and exits 0", async () => {
  await using dir = await tempDir();
  for (const script of SCRIPTS) {
    const r = await runScript(script, ["--version"], { cwd: dir.path });
    strictEqual(r.code, 0, r.stderr);
    strictEqual(r.stdout, `strava-backfill ${VERSION} (Deno ${Deno.version.deno})\n`, script);
  }
});

Deno.test("manage_backfill --retry-failed puts failed records back in the queue, as incremental_backfill does", async () => {
  await using world = await scriptWorld({ seed: 4, activities: 6, segments: 5 });
  const { dir, opts } = world;
  strictEqual((await runScript("manage_backfill", ["--mode", "one-time"], opts)).code, 0);
  const failed = withDatabase(dir.path, (db) => {
    const row = db.prepare("SELECT id FROM activities WHERE efforts_status = 'ok' LIMIT 1").get() as { id: number };
    db.prepare(
      "UPDATE activities SET efforts_status = 'failed', efforts_attempts = 3, segment_efforts_processed = 0 WHERE id = ?",
    ).run(row.id);
    return row.id;
  });
  const r = await runScript("manage_backfill", ["--mode", "one-time", "--retry-failed"], opts);
  strictEqual(r.code, 0, r.stderr);
  ok(r.stdout.startsWith("re-queued 1 failed activities and 0 failed segments\n"), r.stdout);
  withDatabase(dir.path, (db) => {
    const row = db.prepare("SELECT efforts_status FROM activities WHERE id = ?").get(failed) as {
      efforts_status: string;
    };
    strictEqual(row.efforts_status, "ok");
  });
});

const TOO_OLD = `error: strava-backfill needs Deno ${MIN_DENO} or newer, this is Deno 2.6.8; ` +
  "install a newer one (npm install -g deno@2.9.6, or deno upgrade)\n";

Deno.test("an older Deno: every script prints one line naming the Deno it needs, exit 2, before any work", async () => {
  await using dir = await tempDir();
  for (const script of SCRIPTS) {
    // Deno.version is replaced before the script is imported, as an old runtime would report it.
    const code = `Object.defineProperty(Deno, "version", { value: { ...Deno.version, deno: "2.6.8" } });
      await import(${JSON.stringify(`${ROOT}scripts/${script}.ts`)});`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", `${ROOT}deno.json`, code],
      cwd: dir.path,
      env: { NO_COLOR: "1" },
    })
      .output();
    strictEqual(r.code, 2, script);
    strictEqual(new TextDecoder().decode(r.stderr), TOO_OLD, script);
    strictEqual(r.stdout.length, 0, script);
  }
  strictEqual([...Deno.readDirSync(dir.path)].length, 0, "nothing created");
});

// Run by hand with a real old Deno (e.g. `npm install --prefix /tmp/old deno@2.6.8`), then
// STRAVA_BACKFILL_OLD_DENO=/tmp/old/node_modules/.bin/deno deno task test.
const OLD_DENO = Deno.env.get("STRAVA_BACKFILL_OLD_DENO");
Deno.test({
  name: "an older Deno (real binary, STRAVA_BACKFILL_OLD_DENO): one line, exit 2",
  ignore: OLD_DENO === undefined,
  async fn() {
    await using dir = await tempDir();
    for (const script of SCRIPTS) {
      const r = await new Deno.Command(OLD_DENO!, {
        args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}scripts/${script}.ts`, "--help"],
        cwd: dir.path,
        env: { NO_COLOR: "1" },
      }).output();
      strictEqual(r.code, 2, script);
      const stderr = new TextDecoder().decode(r.stderr);
      ok(/^error: strava-backfill needs Deno [\d.]+ or newer, this is Deno [\d.]+;[^\n]*\n$/.test(stderr), stderr);
    }
  },
});

Deno.test("deno version: compared numerically; the running Deno is new enough", () => {
  ok(compareVersions("2.10.0", "2.9.6") > 0);
  ok(compareVersions("2.7.0", "2.7.0") === 0);
  ok(compareVersions("2.6.8", "2.7.0") < 0);
  ok(compareVersions("2.7.0-rc.1", "2.7.0") === 0);
  strictEqual(denoTooOld(Deno.version.deno), undefined);
  strictEqual(denoTooOld(MIN_DENO), undefined);
  ok(denoTooOld("1.46.3")?.includes("needs Deno"));
});
