import { ok, strictEqual } from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { generateArchive } from "../lib/testing/sim_archive.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";

Deno.test("sim archive: one row per activity, deleted, private and manual ones included", () => {
  const sim = StravaSimulator.inProcess({ seed: 5, activities: 120 });
  for (const version of [2025, 2026] as const) {
    const rows: string[][] = parse(generateArchive(sim.truth, { headerVersion: version }), { relax_quotes: false });
    const [header, ...body] = rows;
    strictEqual(header.length, version === 2025 ? 94 : 103);
    strictEqual(body.length, sim.truth.activities.length);
    const byId = new Map(body.map((r) => [r[0], r]));
    for (const a of sim.truth.activities) {
      const row = byId.get(String(a.id))!;
      ok(row, `row for ${a.id}`);
      strictEqual(row[2], a.detail.name);
      strictEqual(row[header.indexOf("Filename")], a.manual ? "" : `activities/${a.id}.fit.gz`);
    }
    ok(sim.truth.activities.some((a) => a.deleted) && sim.truth.activities.some((a) => a.private));
  }
});
