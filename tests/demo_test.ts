import { ok, strictEqual } from "node:assert/strict";
import { ROOT, runScript, tempDir } from "./helpers.ts";

Deno.test("quickstart: `deno task demo` runs the whole job against the simulator and ends with nothing pending", async () => {
  const out = await new Deno.Command("deno", {
    args: ["task", "--quiet", "demo"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
  ok(stdout.includes("done: nothing pending"), stdout);
  ok(/Activities\n\s+total\s+150\n/.test(stdout), stdout);
  ok(/demo done in [\d.]+ s: \d+ API requests, 0 answered 429/.test(stdout), stdout);
  ok(/^report: wrote report\.html \(\d+ segments, [1-9]\d* efforts/m.test(stdout), stdout);
  ok((await Deno.readTextFile(`${ROOT}demo/report.html`)).includes('id="report-data"'), "demo/report.html written");
});

Deno.test("`deno task sim --export PATH` serves the simulator and writes its athlete's export for import_archive", async () => {
  await using dir = await tempDir();
  const child = new Deno.Command("deno", {
    args: ["task", "--quiet", "sim", "--activities", "12", "--export", `${dir.path}/try/export.zip`],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!text.includes("--allow-net")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  child.kill("SIGINT");
  await reader.cancel();
  await child.status;
  ok(/STRAVA_API_URL=http:\/\/127\.0\.0\.1:\d+\/api\/v3\n/.test(text), text);
  const imported = await runScript("import_archive", ["--create", "try/export.zip"], { cwd: dir.path });
  strictEqual(imported.code, 0, imported.stderr);
  ok(imported.stdout.includes("12 rows"), imported.stdout);
});
