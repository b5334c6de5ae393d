/**
 * `manage_backfill --mode stats --html`: the report of a database backfilled from the
 * simulator's athlete, written by the script under its permissions, checked against the
 * database and in a real headless Chromium (Debian's chromium-headless-shell; `.ci/run`
 * installs it). Without the browser these tests fail, saying to run .ci/run.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { collectReport, type ReportData, thinPolyline } from "../lib/backfill/report_data.ts";
import { collectStats } from "../lib/backfill/stats.ts";
import { emptyState } from "../lib/backfill/state_file.ts";
import { encodePolyline } from "../lib/testing/sim_geo.ts";
import { launchBrowser } from "../lib/testing/browser.ts";
import { openDatabase } from "../lib/store/db.ts";
import {
  createDatabase,
  fileDigest,
  runScript,
  type ScriptWorld,
  scriptWorld,
  tempDir,
  withDatabase,
} from "./helpers.ts";
import { SEED_TOOLKIT_SCHEMA } from "./seed_schema.ts";

/** The JSON the page embeds. */
function embedded(html: string): ReportData {
  const m = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/);
  ok(m, "the report embeds its data");
  return JSON.parse(m[1]);
}

/** Waits in the page until its map is drawn (the last step of its script). */
const READY = `new Promise((ok, no) => { const t0 = Date.now(), t = setInterval(() => {
  if (document.body.dataset.ready) { clearInterval(t); ok(true); }
  else if (Date.now() - t0 > 20000) { clearInterval(t); no(new Error("the map was never drawn")); } }, 20); })`;

/** A backfilled athlete with one activity (that has efforts) marked deleted on Strava. */
async function backfilled(): Promise<ScriptWorld & { deleted: string }> {
  const world = await scriptWorld({ seed: 21, activities: 40, segments: 25 });
  const r = await runScript("manage_backfill", ["--mode", "one-time"], world.opts);
  strictEqual(r.code, 0, r.stderr);
  const deleted = withDatabase(world.dir.path, (db) => {
    const row = db.prepare(
      `SELECT CAST(activity_id AS TEXT) a FROM segment_efforts GROUP BY activity_id ORDER BY count(*) DESC LIMIT 1`,
    ).get() as { a: string };
    db.prepare("UPDATE activities SET deleted_at = '2026-01-01T00:00:00Z' WHERE id = ?").run(BigInt(row.a));
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return row.a;
  });
  return Object.assign(world, { deleted });
}

Deno.test("report: every detailed segment with its live efforts and the best of segment_bests; the database stays byte-identical", async () => {
  await using world = await backfilled();
  const { dir, opts } = world;
  const db = `${dir.path}/data/segments.db`;
  const before = await fileDigest(db);
  const r = await runScript("manage_backfill", ["--mode", "stats", "--html", "report.html"], opts);
  strictEqual(r.code, 0, r.stderr);
  ok(
    /^report: wrote report\.html \(\d+ segments, \d+ efforts, \d+ KB\); open it in a browser/m.test(r.stdout),
    r.stdout,
  );
  ok(r.stdout.includes("Activities\n"), "the stats table is printed too");
  strictEqual(await fileDigest(db), before, "the database is byte-identical");
  strictEqual((await Deno.stat(`${dir.path}/report.html`)).mode! & 0o777, 0o600);
  const html = await Deno.readTextFile(`${dir.path}/report.html`);
  // Self-contained: nothing is loaded from anywhere, and the page forbids it.
  ok(!/<(link|img|iframe)\b|\bsrc=/i.test(html), "no external resource");
  ok(html.includes(`content="default-src 'none';`), "a CSP that forbids loading");
  const data = embedded(html);
  withDatabase(dir.path, (database) => {
    const detailed = database.prepare(
      "SELECT CAST(id AS TEXT) id, name FROM segments WHERE details_status = 'ok' ORDER BY id",
    ).all() as { id: string; name: string }[];
    ok(detailed.length > 10, `${detailed.length} detailed segments`);
    deepStrictEqual(data.segments.map((s) => s.i), detailed.map((s) => s.id), "every detailed segment, once");
    const bests = new Map(
      (database.prepare(
        `SELECT CAST(segment_id AS TEXT) s, best_elapsed_time t, CAST(activity_id AS TEXT) a, start_date d
         FROM segment_bests`,
      ).all() as { s: string; t: number; a: string; d: string }[]).map((b) => [b.s, b]),
    );
    const counts = new Map(
      (database.prepare(
        `SELECT CAST(segment_id AS TEXT) s, count(*) n FROM segment_history
         WHERE elapsed_time IS NOT NULL GROUP BY segment_id`,
      ).all() as { s: string; n: number }[]).map((c) => [c.s, Number(c.n)]),
    );
    let withEfforts = 0;
    for (const s of data.segments) {
      const best = bests.get(s.i);
      strictEqual(s.e.length, counts.get(s.i) ?? 0, `segment ${s.i}: its live efforts`);
      for (const e of s.e) ok(data.activities[e[2]] !== world.deleted, "no effort of the deleted activity");
      if (!best) {
        strictEqual(s.b, -1);
        continue;
      }
      withEfforts++;
      const [start, elapsed, activity] = s.e[s.b];
      strictEqual(elapsed, Number(best.t), `segment ${s.i}: best time`);
      strictEqual(data.activities[activity], best.a, `segment ${s.i}: the best's activity`);
      strictEqual(start, Date.parse(best.d) / 1000, `segment ${s.i}: the best's date`);
    }
    ok(withEfforts > 10, `${withEfforts} segments with efforts`);
    ok(data.segments.some((s) => s.p.length > 0), "shapes are kept");
  });
});

Deno.test("report: in headless Chromium it draws the table, map and history without a JavaScript error", async () => {
  await using world = await backfilled();
  const { dir, opts } = world;
  const r = await runScript("manage_backfill", ["--mode", "stats", "--html", "out/report.html"], opts);
  strictEqual(r.code, 0, r.stderr);
  const path = `${dir.path}/out/report.html`;
  const data = embedded(await Deno.readTextFile(path));
  await using browser = await launchBrowser({ width: 1280, height: 900 });
  await browser.open(`file://${path}`);
  await browser.evaluate(READY);
  const drawn = await browser.evaluate<Record<string, number | string>>(`({
    rows: document.querySelectorAll("#segments tbody tr").length,
    sparks: document.querySelectorAll("#segments tbody svg polyline").length,
    lines: [...document.querySelectorAll("#map path.rides")].map((p) => p.getAttribute("d") || "").join("")
      .split("M").length - 1,
    distance: document.querySelector("#segments tbody td:nth-child(3)").textContent,
    dots: document.querySelectorAll("#chart circle").length,
    prs: document.querySelectorAll("#chart circle.pr").length,
    best: document.querySelectorAll("#chart path.best").length,
    title: document.getElementById("hname").textContent,
    status: document.getElementById("status").textContent,
  })`);
  const top = [...data.segments].sort((a, b) => b.e.length - a.e.length)[0];
  strictEqual(drawn.rows, Math.min(50, data.segments.length));
  ok(Number(drawn.sparks) > 0, "trend lines drawn");
  strictEqual(drawn.lines, data.segments.filter((s) => s.p).length, "one map line per segment with a shape");
  ok(/^\d+\.\d\d km$/.test(String(drawn.distance)), String(drawn.distance));
  strictEqual(drawn.title, top.n, "the most ridden segment is shown first");
  strictEqual(drawn.dots, top.e.length, "one dot per effort");
  ok(Number(drawn.prs) >= 1 && drawn.best === 1, "PRs marked and the running best drawn");
  ok(String(drawn.status).includes("Last run"), String(drawn.status));

  // Choosing a segment in the table or on the map shows its history; the filter narrows both.
  const other = data.segments.find((s) => s !== top && s.e.length > 0 && s.p)!;
  const picked = await browser.evaluate(`(() => {
    const tr = [...document.querySelectorAll("#segments tbody tr")].find((t) => t.seg.i === ${JSON.stringify(other.i)});
    tr.children[1].click();
    return [document.getElementById("hname").textContent, document.querySelectorAll("#chart circle").length];
  })()`);
  deepStrictEqual(picked, [other.n, other.e.length]);
  // A click on the map, at a point of the segment's line as the browser placed it on the screen.
  const mapped = await browser.evaluate(`(() => {
    const m = document.getElementById("map"), s = D.segments.find((x) => x.i === ${JSON.stringify(top.i)});
    const p = m.createSVGPoint();
    [p.x, p.y] = [s.xy[0], s.xy[1]];
    const at = p.matrixTransform(m.getScreenCTM());
    m.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: at.x, clientY: at.y }));
    return [document.getElementById("hname").textContent, m.querySelector("path.sel").getAttribute("d") === s.line];
  })()`);
  deepStrictEqual(mapped, [top.n, true]);
  const word = other.n.split(" ")[0];
  const filtered = await browser.evaluate<number[]>(`new Promise((ok) => {
    const input = document.getElementById("filter");
    input.value = ${JSON.stringify(word)};
    input.dispatchEvent(new Event("input"));
    setTimeout(() => ok([document.querySelectorAll("#segments tbody tr").length,
      [...document.querySelectorAll("#map path.hit")].map((p) => p.getAttribute("d") || "").join("")
        .split("M").length - 1, document.querySelectorAll("#map path.dim").length]), 400);
  })`);
  const matching = data.segments.filter((s) => s.n.toLowerCase().includes(word.toLowerCase()));
  ok(matching.length < data.segments.length, `the filter ${word} leaves some out`);
  deepStrictEqual(
    filtered,
    [Math.min(50, matching.length), matching.filter((s) => s.p).length, 5],
    "matches drawn over the rest, dimmed",
  );
  const sorted = await browser.evaluate<string[]>(`(() => {
    document.getElementById("filter").value = "";
    document.querySelector('th[data-k="n"]').click();
    return [...document.querySelectorAll("#segments tbody tr")].slice(0, 3).map((t) => t.seg.n);
  })()`);
  deepStrictEqual(sorted, [...data.segments].map((s) => s.n).sort((a, b) => a.localeCompare(b)).slice(0, 3));

  const png = await browser.screenshot();
  deepStrictEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
  deepStrictEqual(browser.errors, [], "no JavaScript error on the console");
  // Not blank: the screenshot, drawn on a canvas, has many colours.
  await browser.open("about:blank");
  const colours = await browser.evaluate<number>(`new Promise((ok) => {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = img.width; c.height = img.height;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const px = g.getImageData(0, 0, c.width, c.height).data, seen = new Set();
      for (let i = 0; i < px.length; i += 4 * 7) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
      ok(seen.size);
    };
    img.src = "data:image/png;base64,${btoa(String.fromCharCode(...png))}";
  })`);
  ok(colours > 50, `the screenshot has only ${colours} colours`);
});

Deno.test("report: --units imperial shows miles; --html and --units outside their mode are exit 2", async () => {
  await using world = await backfilled();
  const { dir, opts } = world;
  const r = await runScript("manage_backfill", ["--html", "r.html", "--units", "imperial", "--json"], opts);
  strictEqual(r.code, 0, r.stderr);
  JSON.parse(r.stdout);
  ok(r.stderr.startsWith("report: wrote r.html"), "with --json the line goes to stderr");
  const data = embedded(await Deno.readTextFile(`${dir.path}/r.html`));
  strictEqual(data.units, "imperial");
  await using browser = await launchBrowser();
  await browser.open(`file://${dir.path}/r.html`);
  await browser.evaluate(READY);
  const cell = await browser.evaluate<string>(`document.querySelector("#segments tbody td:nth-child(3)").textContent`);
  ok(/^\d+\.\d\d mi$/.test(cell), cell);
  deepStrictEqual(browser.errors, []);

  for (
    const [args, line] of [
      [["--mode", "one-time", "--html", "x.html"], "--html applies only to --mode stats (see --help)"],
      [["--units", "imperial"], "--units applies only to --html (see --help)"],
      [["--html", "x.html", "--units", "furlongs"], "--units must be one of metric, imperial, got 'furlongs'"],
    ] as const
  ) {
    const bad = await runScript("manage_backfill", [...args], opts);
    strictEqual(bad.code, 2, bad.stderr);
    strictEqual(bad.stderr.trim(), `error: ${line}`);
  }
});

Deno.test("report: mid-backfill, before any segment is detailed, it shows what is pending and an ETA", async () => {
  await using world = await scriptWorld({ seed: 5, activities: 40, segments: 25, limits: { read15: 30 } });
  const { dir, opts } = world;
  // floor(30 * 0.9) = 27 reads: the list and some of the 40 activities' efforts (efforts come first).
  strictEqual((await runScript("manage_backfill", ["--mode", "one-time", "--no-wait"], opts)).code, 0);
  const r = await runScript("manage_backfill", ["--mode", "stats", "--html", "report.html"], opts);
  strictEqual(r.code, 0, r.stderr);
  const data = embedded(await Deno.readTextFile(`${dir.path}/report.html`));
  const pending = withDatabase(dir.path, (db) => ({
    activities: Number(db.prepare("SELECT count(*) n FROM activities WHERE segment_efforts_processed = 0").get()!.n),
    detailed: Number(db.prepare("SELECT count(*) n FROM segments WHERE details_status = 'ok'").get()!.n),
  }));
  ok(pending.activities > 0, "the backfill stopped midway");
  strictEqual(data.stats.activities.pending, pending.activities);
  strictEqual(pending.detailed, 0);
  strictEqual(data.segments.length, 0);
  ok(data.stats.eta.requests_needed! > 0 && data.stats.eta.finish_at !== null, JSON.stringify(data.stats.eta));
  strictEqual(data.outcome, "stopped at rate budget");
  await using browser = await launchBrowser();
  await browser.open(`file://${dir.path}/report.html`);
  await browser.evaluate(READY);
  const status = await browser.evaluate<string>(`document.getElementById("status").innerText`);
  ok(status.includes(`${pending.activities} pending`), status);
  ok(status.includes("stopped at rate budget"), status);
  ok(status.includes(`${data.stats.eta.finish_at!.slice(0, 16).replace("T", " ")} UTC`), status);
  const empty = await browser.evaluate<string>(`document.getElementById("map").textContent`);
  strictEqual(empty, "no segment has a shape yet");
  deepStrictEqual(browser.errors, []);
});

Deno.test("report: a database of the seed toolkit (older schema) is read as it is, untouched", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/data/segments.db`;
  const db = openDatabase(path, { create: true });
  db.exec(SEED_TOOLKIT_SCHEMA);
  db.exec(`INSERT INTO activities (id, name, start_date) VALUES (1, 'a', '2025-01-01T08:00:00Z'),
      (2, 'b', '2025-02-01T08:00:00Z');
    INSERT INTO segments (id, name, distance) VALUES (10, 'Hill', 1200), (11, 'Flat', 800);
    INSERT INTO segment_efforts (id, activity_id, segment_id, elapsed_time, start_date) VALUES
      (100, 1, 10, 300, '2025-01-01T08:10:00Z'), (101, 2, 10, 290, '2025-02-01T08:10:00Z'),
      (102, 2, 11, 120, '2025-02-01T08:20:00Z');
    PRAGMA wal_checkpoint(TRUNCATE);`);
  db.close();
  const before = await fileDigest(path);
  const r = await runScript("manage_backfill", ["--html", "report.html"], { cwd: dir.path });
  strictEqual(r.code, 0, r.stderr);
  strictEqual(await fileDigest(path), before);
  const data = embedded(await Deno.readTextFile(`${dir.path}/report.html`));
  deepStrictEqual(
    data.segments.map((s) => [s.i, s.n, s.d, s.p, s.e.length, s.e[s.b][1]]),
    [["10", "Hill", 1200, "", 2, 290], ["11", "Flat", 800, "", 1, 120]],
  );
});

/** Decodes a Google encoded polyline into [lat, lng] degrees. */
function decoded(text: string): [number, number][] {
  const points: [number, number][] = [];
  let i = 0, lat = 0, lng = 0;
  const next = () => {
    let r = 0, shift = 0, b;
    do {
      b = text.charCodeAt(i++) - 63;
      r |= (b & 31) << shift;
      shift += 5;
    } while (b >= 32);
    return r & 1 ? ~(r >> 1) : r >> 1;
  };
  while (i < text.length) points.push([(lat += next()) / 1e5, (lng += next()) / 1e5]);
  return points;
}

Deno.test("report: a thinned polyline keeps its ends and strays at most 8 m from every stored point, hairpins too", () => {
  // A winding road (a point every 10 m), then one that goes 400 m out and comes back beside itself.
  let lat = 40.015, lng = -105.27, heading = 0.3, turn = 0;
  const road: [number, number][] = [[lat, lng]];
  for (let k = 1; k < 600; k++) {
    turn = turn * 0.9 + Math.sin(k * 0.37) * 0.05;
    heading += turn;
    road.push([lat += 10 * Math.cos(heading) / 110_540, lng += 10 * Math.sin(heading) / 85_280]);
  }
  const hairpin: [number, number][] = [];
  for (let k = 0; k <= 40; k++) hairpin.push([40 + k * 10 / 110_540, -105]);
  for (let k = 40; k >= 0; k--) hairpin.push([40 + k * 10 / 110_540, -105 + 6 / 85_280]);
  for (const line of [road, hairpin]) {
    const stored = decoded(encodePolyline(line)), thin = decoded(thinPolyline(encodePolyline(line)));
    ok(thin.length < stored.length / 2, `${thin.length} of ${stored.length} points kept`);
    deepStrictEqual([thin[0], thin.at(-1)], [stored[0], stored.at(-1)], "the ends are kept");
    const metres = ([a, b]: [number, number]) => [b * 85_280, a * 110_540];
    let worst = 0;
    for (const p of stored) {
      const [px, py] = metres(p);
      let nearest = Infinity;
      for (let k = 1; k < thin.length; k++) {
        const [ax, ay] = metres(thin[k - 1]), [bx, by] = metres(thin[k]);
        const dx = bx - ax,
          dy = by - ay,
          t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
        nearest = Math.min(nearest, Math.hypot(px - ax - t * dx, py - ay - t * dy));
      }
      worst = Math.max(worst, nearest);
    }
    ok(worst <= 8.05, `a stored point lies ${worst.toFixed(1)} m from the thinned line`);
  }
});

Deno.test("report: of two equal best times at the same second, the best is segment_bests' (the lower effort id)", async () => {
  await using dir = await tempDir();
  createDatabase(dir.path);
  withDatabase(dir.path, (db) => {
    db.exec(`INSERT INTO activities (id, name, start_date) VALUES (1, 'a', '2025-03-01T08:00:00Z'),
        (2, 'b', '2025-03-01T08:00:00Z');
      INSERT INTO segments (id, name, details_status) VALUES (10, 'Hill', 'ok');
      INSERT INTO segment_efforts (id, activity_id, segment_id, elapsed_time, start_date) VALUES
        (100, 2, 10, 300, '2025-03-01T08:10:00Z'), (101, 1, 10, 300, '2025-03-01T08:10:00Z'),
        (102, 1, 10, 310, '2025-02-01T08:10:00Z');`);
    const best = db.prepare("SELECT CAST(activity_id AS TEXT) a FROM segment_bests").get() as { a: string };
    const data = collectReport(db, collectStats(db, emptyState(), 0), 0);
    const [segment] = data.segments;
    deepStrictEqual([segment.e.length, segment.e[segment.b][1], data.activities[segment.e[segment.b][2]]], [
      3,
      300,
      best.a,
    ]);
    strictEqual(best.a, "2");
  });
});
