/**
 * docs/contract.md's Commands table, checked against the flag tables the scripts parse with
 * (each script's exported FLAGS, lib/flags.ts): every flag a script takes is in its row and
 * every flag in a row exists, with the table's placeholder, choices and default. The row may say
 * more in words (a range, when a flag applies); `--help` (tests/help/) stays the full reference.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { COMMON_FLAGS, type Flag, type FlagTable } from "../lib/flags.ts";
import { ROOT } from "./helpers.ts";

/** One `--flag ARG (note)` of a row, as written. */
export interface ContractFlag {
  name: string;
  /** The placeholder, or the choices joined by `|` (`--mode both|efforts`); undefined for a switch. */
  arg?: string;
  /** The parenthesized text after it, if any, as written (backticks kept). */
  note?: string;
}

/** The rows of the Commands table: script file name → the flags its row names, in order. */
export function contractRows(markdown: string): Map<string, ContractFlag[]> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Commands\n")) ?? "";
  const rows = new Map<string, ContractFlag[]>();
  for (const line of section.split("\n")) {
    const row = line.match(/^\|\s*`([a-z_]+\.ts)`\s*\|(.*)\|\s*$/);
    if (!row) continue;
    const cell = row[2].replaceAll("\\|", "|");
    const flags: ContractFlag[] = [];
    for (const m of cell.matchAll(/`--([a-z-]+)(?: ([^`]+))?`(?: \(((?:[^()]|\([^()]*\))*)\))?/g)) {
      flags.push({ name: m[1], arg: m[2], note: m[3] });
    }
    rows.set(row[1], flags);
  }
  return rows;
}

/** A default as the contract writes it: `50`, `0.9`, `data/segments.db`. */
function shownDefault(flag: Flag): string | undefined {
  if (flag.kind === "boolean" || !("default" in flag) || flag.default === undefined) return undefined;
  return String(flag.default);
}

/**
 * Where one script's row and its flag table disagree, as lines. `earlier` holds the flags of the
 * rows above with the default they state: a shared flag's default is written once, at its first row.
 */
export function rowMismatches(
  script: string,
  row: ContractFlag[],
  table: FlagTable,
  earlier: Map<string, string>,
): string[] {
  const found: string[] = [];
  const named = new Set(row.map((f) => f.name));
  for (const name of Object.keys(table)) {
    if (!(name in COMMON_FLAGS) && !named.has(name)) found.push(`${script}: --${name} is missing from its row`);
  }
  for (const f of row) {
    const flag = table[f.name];
    if (!flag) {
      found.push(`${script}: its row names --${f.name}, which the script does not take`);
      continue;
    }
    const arg = flag.kind === "boolean" ? undefined : flag.kind === "choice" ? flag.choices.join("|") : flag.arg;
    if (flag.kind === "choice" && f.arg !== undefined) {
      const written = f.arg.split("|").sort().join("|");
      if (written !== [...flag.choices].sort().join("|")) {
        found.push(`${script}: --${f.name} ${f.arg}, but its choices are ${arg}`);
      }
    } else if (f.arg !== arg) {
      found.push(`${script}: --${f.name} ${f.arg ?? "(no value)"}, but the flag table says ${arg ?? "(no value)"}`);
    }
    const value = shownDefault(flag);
    if (value === undefined) continue;
    // `(\`data/segments.db\`)`, `(300; 1 to 604800)`, `(0 = unlimited)`: the value comes first.
    const lead = f.note?.match(/^`([^`]*)`|^[^;,=]+/);
    const stated = lead ? (lead[1] ?? lead[0]).trim() : undefined;
    if (stated !== undefined && stated !== value) {
      found.push(`${script}: --${f.name} (${f.note}), but its default is ${value}`);
    } else if (stated === undefined && earlier.get(f.name) !== value) {
      found.push(`${script}: --${f.name} states no default and no row above states ${value}`);
    }
    if (stated !== undefined && !earlier.has(f.name)) earlier.set(f.name, value);
  }
  return found;
}

Deno.test("contract: the Commands table names each script's flags, placeholders and defaults as its flag table", async () => {
  const rows = contractRows(await Deno.readTextFile(`${ROOT}docs/contract.md`));
  const scripts = [...Deno.readDirSync(`${ROOT}scripts`)].map((e) => e.name).filter((n) => n.endsWith(".ts")).sort();
  deepStrictEqual([...rows.keys()].sort(), scripts, "one row per script");
  const earlier = new Map<string, string>();
  const found: string[] = [];
  for (const script of rows.keys()) {
    const { FLAGS } = await import(`../scripts/${script}`) as { FLAGS: FlagTable };
    found.push(...rowMismatches(script, rows.get(script)!, FLAGS, earlier));
  }
  strictEqual(found.join("\n"), "");
  ok(rows.get("manage_backfill.ts")!.some((f) => f.name === "interval" && f.note?.startsWith("300")), "notes read");
});

Deno.test("contract: a flag missing, unknown, with another placeholder or another default is named", () => {
  const table: FlagTable = {
    mode: { kind: "choice", arg: "MODE", choices: ["a", "b"], default: "a", help: "" },
    db: { kind: "file", arg: "PATH", default: "data/segments.db", help: "" },
    batch: { kind: "integer", arg: "N", default: 50, min: 1, help: "" },
    quiet: { kind: "boolean", help: "" },
    verbose: { kind: "boolean", help: "" },
  };
  const [row] = contractRows(
    "## Commands\n\n| script | flags |\n| --- | --- |\n" +
      "| `x.ts` | `--mode a\\|c` (`a`), `--db FILE` (`data/segments.db`), `--batch N` (60; at least 1), `--loud` |\n" +
      "## Exit codes\n| `y.ts` | `--nothing` |\n",
  ).values();
  deepStrictEqual(rowMismatches("x.ts", row, table, new Map()), [
    "x.ts: --quiet is missing from its row",
    "x.ts: --mode a|c, but its choices are a|b",
    "x.ts: --db FILE, but the flag table says PATH",
    "x.ts: --batch (60; at least 1), but its default is 50",
    "x.ts: its row names --loud, which the script does not take",
  ]);
  const shared = contractRows("## Commands\n| `x.ts` | `--batch N` |\n").get("x.ts")!;
  deepStrictEqual(rowMismatches("x.ts", shared, { batch: table.batch }, new Map([["batch", "50"]])), []);
  deepStrictEqual(rowMismatches("x.ts", shared, { batch: table.batch }, new Map()), [
    "x.ts: --batch states no default and no row above states 50",
  ]);
});
