/**
 * The dependency rules of lib/, checked on the real module graph (`deno info --json`, type imports
 * included): root basics ← store ← strava ← {archive, auth, backfill} ← scripts, lib/testing only
 * from tests, bench and tools, no module cycle anywhere (inside a folder too), each script loads only
 * the parts its job needs, and no barrel files. docs/modules.md states the same rules for readers.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ROOT } from "./helpers.ts";

/** Rank of each production part: a module may import only parts of a lower rank, or its own part. */
const RANK: Record<string, number> = { root: 0, store: 1, strava: 2, archive: 3, auth: 3, backfill: 3, scripts: 4 };

/** The part a repository-relative path belongs to: root, store, …, scripts, testing, or other (tests, bench, tools). */
export function partOf(path: string): string {
  if (path.startsWith("scripts/")) return "scripts";
  const m = path.match(/^lib\/(?:([a-z_]+)\/)?[^/]+\.ts$/);
  if (!m) return "other";
  return m[1] ?? "root";
}

/** Each import edge `from → to` (repository-relative paths) that breaks the rule, as a readable line. */
export function layerViolations(edges: Iterable<[string, string]>): string[] {
  const found: string[] = [];
  for (const [from, to] of edges) {
    const a = partOf(from);
    const b = partOf(to);
    if (a === "other" || a === "testing" || a === b) continue;
    if (b === "testing") found.push(`${from} imports ${to}: production code must not reach lib/testing`);
    else if (b === "other") found.push(`${from} imports ${to}: production code must not import tests, bench or tools`);
    else if (RANK[b] >= RANK[a]) found.push(`${from} (${a}) imports ${to} (${b}): imports must run one way`);
  }
  return found;
}

/** The import graph as adjacency sets (each module's direct imports). */
function graphOf(edges: Iterable<[string, string]>): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [from, to] of edges) {
    if (!graph.has(from)) graph.set(from, new Set());
    if (!graph.has(to)) graph.set(to, new Set());
    graph.get(from)!.add(to);
  }
  return graph;
}

/**
 * Every import cycle, one line each (`a.ts → b.ts → a.ts`): one cycle per strongly connected group
 * of modules (Tarjan), starting at its first module in sorted order, so a reader sees the imports
 * to cut. Type-only imports count: a cycle of types is still two modules that cannot be read apart.
 */
export function moduleCycles(edges: Iterable<[string, string]>): string[] {
  const graph = graphOf(edges);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || graph.get(v)!.has(v)) groups.push(group.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return groups.sort((a, b) => a[0].localeCompare(b[0])).map((group) => {
    // The shortest way back to the group's first module, through the group only (breadth-first).
    const start = group[0];
    const inGroup = new Set(group);
    const previous = new Map<string, string>();
    const queue = [start];
    let last: string | undefined;
    while (queue.length > 0 && last === undefined) {
      const v = queue.shift()!;
      for (const w of [...graph.get(v)!].sort()) {
        if (w === start) {
          last = v;
          break;
        }
        if (inGroup.has(w) && !previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = last!; v !== start; v = previous.get(v)!) path.splice(1, 0, v);
    const more = group.length > path.length
      ? ` (and ${group.length - path.length} more modules in cycles with these)`
      : "";
    return `import cycle: ${[...path, start].join(" → ")}${more}`;
  });
}

/**
 * What each script may load, by part (partOf), where lib/backfill/flags.ts (the flags scripts
 * share) counts as `flags` and the rest of lib/backfill as the engine (`backfill`), and
 * lib/strava/client.ts (the HTTP client) as `client`: a script that never calls Strava's API does
 * not load the engine or the client, and no script loads another's job.
 */
export const SCRIPT_LOADS: Record<string, string[]> = {
  "scripts/update_schema.ts": ["root", "store", "strava", "flags"],
  "scripts/import_archive.ts": ["root", "store", "strava", "flags", "archive"],
  "scripts/setup_auth.ts": ["root", "store", "strava", "flags", "auth"],
  "scripts/incremental_backfill.ts": ["root", "store", "strava", "client", "flags", "backfill"],
  "scripts/manage_backfill.ts": ["root", "store", "strava", "client", "flags", "backfill"],
};

/** The part of a module for SCRIPT_LOADS. */
function loadPartOf(path: string): string {
  if (path === "lib/backfill/flags.ts") return "flags";
  if (path === "lib/strava/client.ts") return "client";
  return partOf(path);
}

/**
 * Each module a script loads (directly or through others) outside what SCRIPT_LOADS allows it, as
 * a line naming the chain of imports that brings it in; a script missing from SCRIPT_LOADS is named too.
 */
export function scriptLoadViolations(edges: Iterable<[string, string]>, loads = SCRIPT_LOADS): string[] {
  const graph = graphOf(edges);
  const found: string[] = [];
  for (const script of [...graph.keys()].filter((p) => partOf(p) === "scripts").sort()) {
    const allowed = loads[script];
    if (allowed === undefined) {
      found.push(`${script} is not in SCRIPT_LOADS: say which parts of lib/ it may load`);
      continue;
    }
    const via = new Map<string, string>([[script, ""]]);
    const queue = [script];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of [...graph.get(v)!].sort()) {
        if (via.has(w)) continue;
        via.set(w, v);
        const part = loadPartOf(w);
        if (allowed.includes(part)) {
          queue.push(w);
          continue;
        }
        const chain = [w];
        for (let u = v; u !== ""; u = via.get(u)!) chain.unshift(u);
        found.push(`${script} loads ${w} (${part}): ${chain.join(" → ")}; it may load only ${allowed.join(", ")}`);
      }
    }
  }
  return found;
}

/** Every module `script` loads, itself included. */
function loadedBy(edges: Iterable<[string, string]>, script: string): Set<string> {
  const graph = graphOf(edges);
  const seen = new Set<string>();
  const queue = [script];
  while (queue.length > 0) {
    const v = queue.shift()!;
    if (seen.has(v)) continue;
    seen.add(v);
    queue.push(...graph.get(v) ?? []);
  }
  return seen;
}

/**
 * Files allowed to re-export, each with the change that removes it; the test fails when one no
 * longer does, so the list only shrinks.
 */
const REEXPORTS_PENDING: Record<string, string> = {};

/**
 * Each re-export in a module's source (`export { … } from`, `export * from`, `export { name }` of
 * an imported name), as a line: a module exports only what it declares, so an import names the
 * file that defines the symbol and a reader finds it in one step.
 */
export function reexports(path: string, source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^export\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?)[^;]*;/gm)) {
    const line = source.slice(0, m.index).split("\n").length;
    found.push(`${path}:${line} re-exports (${m[0].replace(/\s+/g, " ").slice(0, 80)}): import from the defining file`);
  }
  return found;
}

async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await listTs(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Every local import edge among the given files, from one `deno info --json` over all of them. */
async function importEdges(files: string[]): Promise<[string, string][]> {
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(ROOT + f).href)};`).join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `--config=${ROOT}deno.json`, entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
    const graph = JSON.parse(new TextDecoder().decode(out.stdout));
    const rel = (url: string) => relative(ROOT, fileURLToPath(url));
    const edges: [string, string][] = [];
    for (const mod of graph.modules ?? []) {
      if (!mod.specifier?.startsWith("file:") || mod.local === entry) continue;
      for (const dep of mod.dependencies ?? []) {
        const target = dep.code?.specifier ?? dep.type?.specifier;
        if (target?.startsWith("file:")) edges.push([rel(mod.specifier), rel(target)]);
      }
    }
    return edges;
  } finally {
    await Deno.remove(entry);
  }
}

Deno.test("layering: every import in lib/ and scripts/ runs one way, and lib/testing serves tests only", async () => {
  const files = [...await listTs("lib"), ...await listTs("scripts")];
  const edges = await importEdges(files);
  ok(edges.length > 50, `only ${edges.length} edges found: is the graph read right?`);
  ok(
    edges.some(([a, b]) => a === "lib/backfill/run_scope.ts" && b.startsWith("lib/strava/")),
    "backfill → strava edge seen",
  );
  strictEqual(layerViolations(edges).join("\n"), "");
});

Deno.test("layering: no module cycle anywhere (lib, scripts, tests, bench, tools), type imports included", async () => {
  const dirs = ["lib", "scripts", "tests", "bench", "tools"];
  const edges = await importEdges((await Promise.all(dirs.map(listTs))).flat());
  ok(edges.some(([a, b]) => a === "lib/backfill/summary.ts" && b === "lib/backfill/run_types.ts"), "type edge seen");
  strictEqual(moduleCycles(edges).join("\n"), "");
});

Deno.test("layering: each script loads only the parts of lib/ its job needs", async () => {
  const edges = await importEdges(await listTs("scripts"));
  strictEqual(scriptLoadViolations(edges).join("\n"), "");
  const schema = loadedBy(edges, "scripts/update_schema.ts");
  ok(schema.has("lib/store/schema.ts") && schema.has("lib/backfill/flags.ts"), [...schema].join(" "));
  ok(![...schema].some((p) => p.startsWith("lib/backfill/") && p !== "lib/backfill/flags.ts"), "no engine module");
});

Deno.test("layering: no barrel files: a module in lib/ or scripts/ exports only what it declares", async () => {
  const found: string[] = [];
  const files = [...await listTs("lib"), ...await listTs("scripts")].sort();
  for (const pending of Object.keys(REEXPORTS_PENDING)) {
    ok(files.includes(pending), `${pending} is gone: remove it from REEXPORTS_PENDING`);
  }
  for (const path of files) {
    if (partOf(path) === "testing") continue;
    const lines = reexports(path, await Deno.readTextFile(ROOT + path));
    if (path in REEXPORTS_PENDING) {
      ok(lines.length > 0, `${path} no longer re-exports: remove it from REEXPORTS_PENDING`);
    } else {
      found.push(...lines);
    }
  }
  strictEqual(found.join("\n"), "");
});

Deno.test("layering: a re-export is named with its line; a declared export is not", () => {
  const source = [
    'import { a } from "./a.ts";',
    "export const b = 1;",
    'export { c, type D } from "./c.ts";',
    'export * from "./e.ts";',
    "export type {",
    "  F,",
    '} from "./f.ts";',
    "export { a };",
    "export function g(): void {}",
  ].join("\n");
  deepStrictEqual(reexports("lib/x.ts", source).map((l) => l.split(" ")[0]), [
    "lib/x.ts:3",
    "lib/x.ts:4",
    "lib/x.ts:5",
    "lib/x.ts:8",
  ]);
});

Deno.test("layering: a cycle is named as the chain of imports, self-imports and type cycles included", () => {
  const cycles = moduleCycles([
    ["lib/backfill/summary.ts", "lib/backfill/manage.ts"],
    ["lib/backfill/manage.ts", "lib/backfill/idle_refresh.ts"],
    ["lib/backfill/idle_refresh.ts", "lib/backfill/refresh.ts"],
    ["lib/backfill/refresh.ts", "lib/backfill/summary.ts"],
    ["lib/backfill/refresh.ts", "lib/store/db.ts"],
    ["lib/backfill/run_scope.ts", "lib/backfill/probe.ts"],
    ["lib/backfill/probe.ts", "lib/backfill/run_scope.ts"],
    ["lib/json.ts", "lib/json.ts"],
    ["lib/store/db.ts", "lib/errors.ts"],
  ]);
  deepStrictEqual(cycles, [
    "import cycle: lib/backfill/idle_refresh.ts → lib/backfill/refresh.ts → lib/backfill/summary.ts → " +
    "lib/backfill/manage.ts → lib/backfill/idle_refresh.ts",
    "import cycle: lib/backfill/probe.ts → lib/backfill/run_scope.ts → lib/backfill/probe.ts",
    "import cycle: lib/json.ts → lib/json.ts",
  ]);
  deepStrictEqual(moduleCycles([["lib/a.ts", "lib/b.ts"], ["lib/b.ts", "lib/c.ts"]]), []);
});

Deno.test("layering: a script that loads the engine is named with the imports that bring it in", () => {
  const violations = scriptLoadViolations([
    ["scripts/update_schema.ts", "lib/backfill/flags.ts"],
    ["lib/backfill/flags.ts", "lib/backfill/refresh.ts"],
    ["lib/backfill/refresh.ts", "lib/strava/client.ts"],
    ["lib/backfill/flags.ts", "lib/store/db.ts"],
    ["scripts/import_archive.ts", "lib/auth/setup.ts"],
    ["scripts/new_script.ts", "lib/cli.ts"],
  ]);
  deepStrictEqual(violations, [
    "scripts/import_archive.ts loads lib/auth/setup.ts (auth): scripts/import_archive.ts → lib/auth/setup.ts; " +
    "it may load only root, store, strava, flags, archive",
    "scripts/new_script.ts is not in SCRIPT_LOADS: say which parts of lib/ it may load",
    "scripts/update_schema.ts loads lib/backfill/refresh.ts (backfill): scripts/update_schema.ts → " +
    "lib/backfill/flags.ts → lib/backfill/refresh.ts; it may load only root, store, strava, flags",
  ]);
});

Deno.test("layering: an upward import or a production import of lib/testing is named", () => {
  const violations = layerViolations([
    ["lib/store/db.ts", "lib/strava/client.ts"],
    ["lib/backfill/engine.ts", "lib/archive/import.ts"],
    ["lib/cli.ts", "lib/testing/strava_sim.ts"],
    ["scripts/manage_backfill.ts", "tests/helpers.ts"],
    ["lib/strava/client.ts", "lib/store/db.ts"],
    ["tests/db_test.ts", "lib/testing/strava_sim.ts"],
  ]);
  strictEqual(violations.length, 4, violations.join("\n"));
  ok(violations[0].startsWith("lib/store/db.ts (store) imports lib/strava/client.ts (strava)"), violations[0]);
  ok(violations[1].includes("(backfill) imports lib/archive/import.ts (archive)"), violations[1]);
  ok(violations[2].includes("must not reach lib/testing"), violations[2]);
});
