/**
 * Every public function of the lib/ root modules (what every part uses) shows its use in an
 * `@example`, which `deno task test` runs (`deno test --doc`), so the example cannot go stale.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ROOT } from "./helpers.ts";

/** The exported functions of `source` whose JSDoc has no `@example` (or that have no JSDoc). */
export function functionsWithoutExample(source: string): string[] {
  const missing: string[] = [];
  for (const m of source.matchAll(/^export (?:async )?function (\w+)/gm)) {
    const before = source.slice(0, m.index).trimEnd();
    const doc = before.endsWith("*/") ? before.slice(before.lastIndexOf("/**")) : "";
    if (!doc.includes("@example")) missing.push(m[1]);
  }
  return missing;
}

Deno.test("doc examples: every exported function of a lib/ root module has an @example", async () => {
  const found: string[] = [];
  let functions = 0;
  for await (const entry of Deno.readDir(`${ROOT}lib`)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(`${ROOT}lib/${entry.name}`);
    functions += [...source.matchAll(/^export (?:async )?function /gm)].length;
    found.push(...functionsWithoutExample(source).map((name) => `lib/${entry.name}: ${name} has no @example`));
  }
  ok(functions > 20, `only ${functions} exported functions found`);
  strictEqual(found.sort().join("\n"), "");
});

Deno.test("doc examples: a function without JSDoc, or with JSDoc but no example, is named", () => {
  const source = [
    "/**",
    " * Documented and shown.",
    " *",
    " * @example",
    " * ```ts",
    " * shown();",
    " * ```",
    " */",
    "export function shown(): void {}",
    "",
    "/** Documented only. */",
    "export async function told(): Promise<void> {}",
    "",
    "export function bare(): void {}",
    "function internal(): void {}",
  ].join("\n");
  deepStrictEqual(functionsWithoutExample(source), ["told", "bare"]);
});
