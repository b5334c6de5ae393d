import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { PERMISSIONS, type ScriptName } from "../lib/permissions.ts";
import { ROOT, runScript, tempDir } from "./helpers.ts";

const SCRIPTS = Object.keys(PERMISSIONS) as ScriptName[];

// Each script's --help is a golden file, so help text cannot drift silently. After a deliberate
// change, regenerate it: deno run -A scripts/<script>.ts --help > tests/help/<script>.txt
for (const script of SCRIPTS) {
  Deno.test(`${script}: --help prints tests/help/${script}.txt and exits 0 under its permissions`, async () => {
    await using dir = await tempDir();
    const r = await runScript(script, ["--help"], { cwd: dir.path });
    strictEqual(r.code, 0, r.stderr);
    strictEqual(r.stdout, await Deno.readTextFile(`${ROOT}tests/help/${script}.txt`));
    strictEqual(r.stderr, "");
  });
}

Deno.test("deno.json tasks run each script with exactly its permissions, and none grants all", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const tasks = Object.entries(config.tasks as Record<string, string | { command: string }>)
    .map(([name, t]) => [name, typeof t === "string" ? t : t.command] as const);
  for (const [name, command] of tasks) {
    ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(command), `task ${name} grants all permissions`);
    const match = command.match(/deno run (.*?)\s*scripts\/(\w+)\.ts/);
    if (!match) continue;
    const flags = match[1].split(/\s+/).filter((f) => f.startsWith("--allow"));
    strictEqual(flags.join(" "), PERMISSIONS[match[2] as ScriptName].join(" "), `task ${name}`);
  }
});

Deno.test("compile: one binary per script, with exactly the permissions the tests run it under", async () => {
  const { compileArgs } = await import("../tools/compile.ts");
  for (const script of SCRIPTS) {
    const args = compileArgs(script);
    strictEqual(args[0], "compile");
    deepStrictEqual(args.filter((a) => a.startsWith("--allow")), [...PERMISSIONS[script]]);
    ok(args.includes(`${ROOT}dist/${script}`), args.join(" "));
    strictEqual(args.at(-1), `${ROOT}scripts/${script}.ts`);
  }
});

Deno.test("incremental_backfill: a log file outside the working folder is refused by Deno's permissions", async () => {
  await using dir = await tempDir();
  await using other = await tempDir();
  await runScript("update_schema", ["--create"], { cwd: dir.path });
  const r = await runScript("incremental_backfill", ["--log-file", `${other.path}/b.log`], {
    cwd: dir.path,
    env: { STRAVA_ACCESS_TOKEN: "x" },
  });
  strictEqual(r.code, 2, r.stderr);
  ok(/Requires (read|write) access/.test(r.stderr), r.stderr);
  strictEqual([...Deno.readDirSync(other.path)].length, 0);
});
