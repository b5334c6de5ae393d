import { ok, strictEqual } from "node:assert/strict";
import { PERMISSIONS, type ScriptName } from "../lib/permissions.ts";
import { ROOT, runScript, tempDir } from "./helpers.ts";

const SCRIPTS = Object.keys(PERMISSIONS) as ScriptName[];

for (const script of SCRIPTS) {
  Deno.test(`${script}: --help prints usage and exits 0 under its permissions`, async () => {
    await using dir = await tempDir();
    const r = await runScript(script, ["--help"], { cwd: dir.path });
    strictEqual(r.code, 0, r.stderr);
    ok(r.stdout.startsWith(`Usage: ${script}.ts`), r.stdout);
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
