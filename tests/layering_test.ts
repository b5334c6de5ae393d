/**
 * The dependency rule of lib/, checked on the real module graph (`deno info --json`):
 * root basics ← store ← strava ← {archive, auth, backfill} ← scripts, and lib/testing only from
 * tests, bench and tools. docs/modules.md states the same rule for readers.
 */
import { ok, strictEqual } from "node:assert/strict";
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
    edges.some(([a, b]) => a === "lib/backfill/request_gate.ts" && b.startsWith("lib/strava/")),
    "backfill → strava edge seen",
  );
  strictEqual(layerViolations(edges).join("\n"), "");
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
