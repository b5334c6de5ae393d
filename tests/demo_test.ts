import { ok, strictEqual } from "node:assert/strict";
import { ROOT } from "./helpers.ts";

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
});
