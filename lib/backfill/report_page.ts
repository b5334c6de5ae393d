/**
 * The page of `manage_backfill --mode stats --html`: one self-contained HTML file (style, script
 * and drawings inline, a Content-Security-Policy that forbids loading anything), that works
 * offline and from file://. Plain DOM and SVG, no framework. The data (lib/backfill/report_data.ts)
 * is embedded as JSON; the script draws the status, a table of every segment (sortable, filtered,
 * rendered 50 rows at a time as it scrolls), a Web Mercator map of their polylines and one
 * segment's history chart. The map is drawn after the first paint, so a large account's page
 * shows its figures at once.
 */
import type { ReportData } from "./report_data.ts";

/** The whole HTML file for `data`. */
export function reportHtml(data: ReportData): string {
  // Inside <script> only "</script" or "<!--" could end the JSON early; no "<" survives.
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strava segments: strava-backfill report</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>Your Strava segments</h1><p id="generated"></p></header>
<section id="status" aria-label="Where the backfill stands"></section>
<section id="views">
  <figure id="mapbox"><svg id="map" role="img" aria-label="Map of the segments"></svg>
    <figcaption><span id="legend"></span> <button id="fit" type="button">Fit all</button>
    <small>wheel: zoom, drag: pan; click a segment to see its history</small>
    <span id="maphover"></span></figcaption></figure>
  <figure id="historybox"><figcaption id="hname">Choose a segment on the map or in the table</figcaption>
    <svg id="chart" viewBox="0 0 640 280" role="img" aria-label="Segment history"></svg>
    <p id="hover">&nbsp;</p><p id="hinfo"></p></figure>
</section>
<section id="tablebox">
  <p class="controls"><input id="filter" type="search" placeholder="Filter by name" aria-label="Filter by name">
    <select id="sport" aria-label="Sport"><option value="">every sport</option></select>
    <span id="shown"></span></p>
  <table id="segments"><thead><tr>
    <th data-k="n">Segment</th><th data-k="t">Sport</th><th data-k="d" class="r">Distance</th>
    <th data-k="g" class="r">Grade</th><th data-k="c" class="r">Efforts</th><th data-k="bt" class="r">Best</th>
    <th data-k="bd">Best on</th><th data-k="l">Last effort</th><th>Trend</th></tr></thead><tbody></tbody></table>
  <p><button id="more" type="button">Show more</button></p>
</section>
<script type="application/json" id="report-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1280px;padding:0 16px;color:#222;background:#fafafa}
h1{font-size:22px;margin:16px 0 0}header p{margin:2px 0 12px;color:#666}
#status{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:10px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px}
.card h2{font-size:12px;text-transform:uppercase;color:#777;margin:0}.card .big{font-size:20px;font-weight:600}
.card p{margin:2px 0;color:#444}
#views{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px;margin:12px 0}
@media (max-width:900px){#views{grid-template-columns:1fr}}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
#map{width:100%;height:360px;background:#eef2f0;cursor:grab;display:block}
#map path{fill:none;stroke-linecap:round;stroke-linejoin:round}#map path.sel{stroke:#06c}#map path.dim{stroke-opacity:.12}
#chart{width:100%;height:auto;display:block}#chart text{font-size:11px;fill:#555}
#chart .grid{stroke:#eee}#chart .best{fill:none;stroke:#e8590c;stroke-width:2}
#chart circle{fill:#4a7ab5;fill-opacity:.65}#chart circle.pr{fill:#e8590c;fill-opacity:1;stroke:#fff}
#hover{margin:4px 0;color:#444;min-height:1.4em}#hinfo{margin:0;color:#444}
figcaption{font-weight:600;margin-bottom:4px}#mapbox figcaption{font-weight:400;margin:4px 0 0}
.sw{display:inline-block;width:14px;height:4px;margin:0 3px 2px 8px;vertical-align:middle}
.controls input{width:240px;padding:4px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th[data-k]{cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" \\25b2"}
th[aria-sort=descending]::after{content:" \\25bc"}.r{text-align:right}
td:first-child{white-space:normal}tbody tr{cursor:pointer}tbody tr:hover{background:#f3f6fa}
tbody tr.sel{background:#dde9f7}a{color:#06c}
`;

// Plain browser JavaScript, no template placeholders (a String.raw literal without "${").
const SCRIPT = String.raw`
"use strict";
const D = JSON.parse(document.getElementById("report-data").textContent);
const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const STRAVA = "https://www.strava.com/";
const IMPERIAL = D.units === "imperial";
function svg(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function h(tag, text, parent, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}
function link(text, href, parent) { const a = h("a", text, parent); a.href = href; a.target = "_blank"; a.rel = "noopener"; return a; }
const pad = (n) => (n < 10 ? "0" : "") + n;
function hms(s) {
  if (s == null) return "-";
  s = Math.round(s);
  const hh = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return (hh ? hh + ":" + pad(m) : m) + ":" + pad(x);
}
const num = (n) => n == null ? "unknown" : n.toLocaleString("en");
const dist = (m) => m == null ? "-" : IMPERIAL ? (m / 1609.344).toFixed(2) + " mi" : (m / 1000).toFixed(2) + " km";
const day = (t) => t == null ? "-" : new Date(t * 1000).toISOString().slice(0, 10);
const when = (iso) => iso ? iso.replace("T", " ").replace("Z", " UTC") : "-";

// Derived per segment: count, best and last effort, for sorting and the table.
for (const s of D.segments) {
  s.c = s.e.length;
  const best = s.b >= 0 ? s.e[s.b] : null;
  s.bt = best ? best[1] : null;
  s.bd = best ? best[0] : null;
  s.l = s.c ? s.e[s.c - 1][0] : null;
}

function status() {
  const st = D.stats, box = $("status");
  $("generated").textContent = "Generated " + when(D.generated_at) + " from the local database; nothing was fetched.";
  function card(title, big, lines) {
    const c = h("div", null, box, "card");
    h("h2", title, c);
    h("div", big, c, "big");
    for (const line of lines) h("p", line, c);
  }
  const a = st.activities, g = st.segments;
  card("Activities", num(a.total), [num(a.processed) + " processed, " + num(a.pending) + " pending",
    (a.deleted ? num(a.deleted) + " deleted on Strava (left out)" : "")]);
  card("Segment efforts", num(st.efforts), [num(st.distinct_segments_ridden) + " distinct segments"]);
  card("Segments", num(g.detailed) + " detailed", [num(g.pending) + " pending, " + num(g.total) + " in all"]);
  const r = st.last_run;
  card("Last run", D.outcome, ["started " + when(r.last_start), "ended " + when(r.last_end)].concat(
    r.last_error ? ["error: " + r.last_error] : []));
  const e = st.eta;
  card("Estimate", e.requests_needed === 0 ? "complete" : e.finish_at ? when(e.finish_at).slice(0, 16) + " UTC" : "unknown", [
    num(e.requests_needed) + " requests needed",
    e.days_at_daily_limit == null || !e.requests_needed ? "" : e.days_at_daily_limit + " days at the daily limit",
    "reads left today: " + st.budget.day.reads_left + " of " + st.budget.day.reads_allowed]);
}

// ---- the table: sorted and filtered in memory, rendered PAGE rows at a time.
const PAGE = 50;
let rows = D.segments.slice(), shown = 0, sortKey = "c", sortDir = -1, selected = null;
const tbody = document.querySelector("#segments tbody");
function compare(a, b) {
  const x = a[sortKey], y = b[sortKey];
  if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1;
  return (typeof x === "string" ? collator.compare(x, y) : x - y) * sortDir;
}
const collator = new Intl.Collator("en");
let drawnFor = null;
function applyFilter() {
  const text = $("filter").value.trim().toLowerCase(), sport = $("sport").value;
  rows = D.segments.filter((s) => (!sport || s.t === sport) && (!text || s.n.toLowerCase().includes(text)));
  rows.sort(compare);
  for (const th of document.querySelectorAll("th[data-k]")) {
    th.setAttribute("aria-sort", th.dataset.k === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
  }
  tbody.textContent = "";
  shown = 0;
  more();
  $("shown").textContent = rows.length.toLocaleString("en") + " of " + D.segments.length.toLocaleString("en") + " segments";
  // A new order alone leaves the map as it is.
  if (mapReady && drawnFor !== text + "\u0000" + sport) {
    drawnFor = text + "\u0000" + sport;
    redrawMap();
  }
}
function more() {
  const end = Math.min(rows.length, shown + PAGE);
  for (; shown < end; shown++) row(rows[shown]);
  $("more").hidden = shown >= rows.length;
}
function row(s) {
  const tr = h("tr", null, tbody);
  tr.seg = s;
  if (s === selected) tr.className = "sel";
  link(s.n, STRAVA + "segments/" + s.i, h("td", null, tr));
  h("td", s.t || "-", tr);
  h("td", dist(s.d), tr, "r");
  h("td", s.g == null ? "-" : s.g.toFixed(1) + " %", tr, "r");
  h("td", String(s.c), tr, "r");
  h("td", hms(s.bt), tr, "r");
  const bd = h("td", null, tr);
  if (s.b >= 0) link(day(s.bd), STRAVA + "activities/" + D.activities[s.e[s.b][2]], bd);
  h("td", day(s.l), tr);
  spark(s, h("td", null, tr));
}
function spark(s, td) {
  const e = s.e.slice(-30), W = 80, H = 18;
  const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, class: "spark" }, td);
  if (e.length < 2) return;
  let lo = Infinity, hi = -Infinity;
  for (const x of e) { lo = Math.min(lo, x[1]); hi = Math.max(hi, x[1]); }
  const pts = e.map((x, k) => (k * (W - 2) / (e.length - 1) + 1).toFixed(1) + "," +
    (H - 2 - (hi === lo ? 0.5 : (x[1] - lo) / (hi - lo)) * (H - 4)).toFixed(1));
  svg("polyline", { points: pts.join(" "), fill: "none", stroke: "#4a7ab5", "stroke-width": 1.2 }, g);
}

// ---- one segment's history: every effort over its date, the running best, PRs marked.
function select(s) {
  selected = s;
  for (const tr of tbody.children) tr.classList.toggle("sel", tr.seg === s);
  if (mapReady) $("map").querySelector("path.sel").setAttribute("d", s.line || "");
  const cap = $("hname");
  cap.textContent = "";
  link(s.n, STRAVA + "segments/" + s.i, cap);
  const info = $("hinfo");
  info.textContent = [s.t || "", dist(s.d), s.g == null ? "" : s.g.toFixed(1) + " %", s.c + " efforts"]
    .filter(Boolean).join(" \u00b7 ") + (s.b >= 0 ? " \u00b7 best " + hms(s.bt) + " on " : "");
  if (s.b >= 0) link(day(s.bd), STRAVA + "activities/" + D.activities[s.e[s.b][2]], info);
  chart(s);
}
function chart(s) {
  const c = $("chart"), W = 640, H = 280, L = 56, R = 12, T = 10, B = 28;
  c.textContent = "";
  const e = s.e.filter((x) => x[0] != null);
  if (!e.length) { svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, c).textContent = "no dated effort"; return; }
  let t0 = e[0][0], t1 = e[e.length - 1][0], lo = Infinity, hi = -Infinity;
  for (const x of e) { lo = Math.min(lo, x[1]); hi = Math.max(hi, x[1]); }
  if (t1 - t0 < 86400) { t0 -= 86400; t1 += 86400; }
  const span = Math.max(hi - lo, 10);
  lo = Math.max(0, lo - span * 0.1); hi = hi + span * 0.1;
  const X = (t) => L + (t - t0) / (t1 - t0) * (W - L - R), Y = (v) => T + (hi - v) / (hi - lo) * (H - T - B);
  for (let k = 0; k <= 4; k++) {
    const v = lo + (hi - lo) * k / 4, y = Y(v).toFixed(1);
    svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }, c);
    svg("text", { x: L - 6, y: +y + 4, "text-anchor": "end" }, c).textContent = hms(v);
    const t = t0 + (t1 - t0) * k / 4;
    svg("text", { x: X(t), y: H - 8, "text-anchor": k ? (k === 4 ? "end" : "middle") : "start" }, c).textContent = day(t);
  }
  let best = Infinity, d = "";
  const dots = svg("g", {}, c);
  for (const x of e) {
    const pr = x[1] < best;
    if (pr) best = x[1];
    d += (d ? "H" + X(x[0]).toFixed(1) + "V" : "M" + X(x[0]).toFixed(1) + ",") + Y(best).toFixed(1);
    const dot = svg("circle", { cx: X(x[0]).toFixed(1), cy: Y(x[1]).toFixed(1), r: pr ? 4.5 : 3, class: pr ? "pr" : "" }, dots);
    const label = day(x[0]) + ": " + hms(x[1]) + (pr ? " (PR)" : "");
    svg("title", {}, dot).textContent = label;
    dot.addEventListener("mouseenter", () => { $("hover").textContent = label + ", activity " + D.activities[x[2]]; });
  }
  d += "H" + (W - R);
  c.insertBefore(svg("path", { d, class: "best" }), dots);
}

// ---- the map: every segment's polyline in Web Mercator, coloured by how often it was ridden.
const COLOURS = [[1, "#fcbf49"], [2, "#f77f00"], [5, "#d62828"], [10, "#9d0208"], [25, "#370617"]];
let mapReady = false, full = null, view = null;
function decode(text) {
  const pts = [];
  let i = 0, lat = 0, lng = 0;
  const next = () => {
    let r = 0, sh = 0, b;
    do { b = text.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32 && i < text.length);
    return r & 1 ? ~(r >> 1) : r >> 1;
  };
  while (i < text.length) { lat += next(); if (i >= text.length) break; lng += next(); pts.push([lat / 1e5, lng / 1e5]); }
  return pts;
}
// Web Mercator on a square world of 4e7 units (a metre at the equator; y down), less an origin
// near the segments so that the browser's single-precision coordinates stay exact to a metre.
const WORLD = 4e7, DEG = WORLD / 360;
let ox = 0, oy = 0;
const mx = (lng) => (lng + 180) * DEG - ox;
const my = (lat) => (1 - Math.log(Math.tan(Math.PI / 4 + Math.max(-85, Math.min(85, lat)) * Math.PI / 360)) / Math.PI) * WORLD / 2 - oy;
const bucket = (n) => { let k = 0; COLOURS.forEach(([min], j) => { if (n >= min) k = j; }); return k; };
// One path per colour (again for a filter's matches; one for the chosen segment): 11,000 path
// elements made every filter, zoom and pan take a second to style and paint; five long ones do not.
function drawMap() {
  const m = $("map");
  let any = false;
  const shaped = D.segments.filter((s) => s.p);
  const first = shaped.length ? decode(shaped.reduce((a, b) => (b.c > a.c ? b : a)).p)[0] : null;
  if (first) { ox = mx(first[1]); oy = my(first[0]); }
  for (const s of shaped) {
    const pts = decode(s.p), xy = new Float64Array(pts.length * 2);
    let d = "";
    pts.forEach(([la, ln], k) => {
      const x = (xy[2 * k] = Math.round(mx(ln))), y = (xy[2 * k + 1] = Math.round(my(la)));
      d += (d ? "L" : "M") + x + "," + y;
      if (s.x0 == null) { s.x0 = s.x1 = x; s.y0 = s.y1 = y; }
      s.x0 = Math.min(s.x0, x); s.x1 = Math.max(s.x1, x); s.y0 = Math.min(s.y0, y); s.y1 = Math.max(s.y1, y);
    });
    if (s.x0 == null) continue;
    any = true;
    s.line = d;
    s.xy = xy;
  }
  const all = COLOURS.map(() => []);
  for (const s of shaped) if (s.line) all[bucket(s.c)].push(s.line);
  COLOURS.forEach(([, col], k) => svg("path", { stroke: col, class: "rides", d: all[k].join("") }, m));
  for (const [, col] of COLOURS) svg("path", { stroke: col, class: "hit" }, m);
  svg("path", { class: "sel" }, m);
  mapReady = true;
  applyFilter();
  if (selected) select(selected);
  if (!any) { svg("text", { x: 500, y: 500, "text-anchor": "middle", "font-size": 40 }, m).textContent = "no segment has a shape yet"; full = view = [0, 0, 1000, 1000]; return setView(view); }
  full = bounds(shaped);
  // Open on where most segments are (the busiest 1-degree cell and its neighbours): a trip
  // abroad or a virtual world would otherwise make home a dot.
  const cells = new Map(), cell = (s) => Math.floor(s.x0 / DEG) + ":" + Math.floor(s.y0 / DEG);
  let top = null;
  for (const s of shaped) {
    if (s.x0 == null) continue;
    const k = cell(s), n = (cells.get(k) || 0) + 1;
    cells.set(k, n);
    if (!top || n > cells.get(top)) top = k;
  }
  const [cx, cy] = top.split(":").map(Number);
  view = bounds(shaped.filter((s) => {
    if (s.x0 == null) return false;
    const [x, y] = cell(s).split(":").map(Number);
    return Math.abs(x - cx) <= 1 && Math.abs(y - cy) <= 1;
  }));
  setView(view);
}
function bounds(list) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const s of list) {
    if (s.x0 == null) continue;
    x0 = Math.min(x0, s.x0); y0 = Math.min(y0, s.y0); x1 = Math.max(x1, s.x1); y1 = Math.max(y1, s.y1);
  }
  return box(x0, y0, x1, y1);
}
// A filter dims every line and draws the matching ones over them; the full lines are drawn once
// (setting them again took most of a second on 11,000 segments).
function redrawMap() {
  const m = $("map"), filtered = rows.length < D.segments.length, parts = COLOURS.map(() => []);
  if (filtered) for (const s of rows) if (s.line) parts[bucket(s.c)].push(s.line);
  const hits = m.querySelectorAll("path.hit");
  parts.forEach((p, k) => hits[k].setAttribute("d", p.join("")));
  for (const p of m.querySelectorAll("path.rides")) p.classList.toggle("dim", filtered);
}
// The shown segment nearest to a point of the screen, within 8 pixels (the most ridden on a tie).
function nearest(cx, cy) {
  const r = $("map").getBoundingClientRect(), scale = view[2] / r.width;
  const px = view[0] + (cx - r.left) * scale, py = view[1] + (cy - r.top) * scale, tol = 8 * scale;
  let found = null, best = tol;
  for (const s of rows) {
    if (!s.xy || px < s.x0 - tol || px > s.x1 + tol || py < s.y0 - tol || py > s.y1 + tol) continue;
    const xy = s.xy, last = xy.length - 2;
    for (let k = 0; k <= last; k += 2) {
      const ax = xy[k], ay = xy[k + 1], bx = k < last ? xy[k + 2] : ax, by = k < last ? xy[k + 3] : ay;
      const dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
      const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
      const d = Math.hypot(px - ax - t * dx, py - ay - t * dy);
      if (d < best || (d === best && found && s.c > found.c)) [found, best] = [s, d];
    }
  }
  return found;
}
function box(x0, y0, x1, y1) {
  const r = $("map").getBoundingClientRect(), aspect = (r.width || 640) / (r.height || 360);
  let w = Math.max(x1 - x0, 100) * 1.1, hh = Math.max(y1 - y0, 100) * 1.1;
  if (w / hh < aspect) w = hh * aspect; else hh = w / aspect;
  return [(x0 + x1 - w) / 2, (y0 + y1 - hh) / 2, w, hh];
}
// Stroke widths in map units of 1 pixel (4 for the chosen segment). Wider lines, or
// vector-effect: non-scaling-stroke, made each zoom or pan frame of a large account take seconds
// (the browser strokes a one-pixel line in a fast path).
function setView(v) {
  const m = $("map"), px = v[2] / (m.clientWidth || 640);
  view = v;
  m.setAttribute("viewBox", v.map((n) => n.toFixed(1)).join(" "));
  for (const p of m.querySelectorAll("path")) p.setAttribute("stroke-width", (p.classList.contains("sel") ? 4 : 1) * px);
}
let hovering = 0;
function hoverMap(ev) {
  if (!mapReady || hovering) return;
  hovering = requestAnimationFrame(() => {
    hovering = 0;
    const s = nearest(ev.clientX, ev.clientY);
    $("map").style.cursor = s ? "pointer" : "";
    $("maphover").textContent = s ? s.n + ": " + s.c + " efforts" : "";
  });
}
function mapEvents() {
  const m = $("map");
  let drag = null, moved = false;
  m.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = m.getBoundingClientRect(), f = ev.deltaY > 0 ? 1.25 : 0.8;
    const px = view[0] + (ev.clientX - r.left) / r.width * view[2], py = view[1] + (ev.clientY - r.top) / r.height * view[3];
    setView([px - (px - view[0]) * f, py - (py - view[1]) * f, view[2] * f, view[3] * f]);
  }, { passive: false });
  m.addEventListener("pointerdown", (ev) => { drag = [ev.clientX, ev.clientY, view[0], view[1]]; moved = false; });
  m.addEventListener("pointermove", (ev) => {
    if (!drag) return void hoverMap(ev);
    const r = m.getBoundingClientRect(), dx = ev.clientX - drag[0], dy = ev.clientY - drag[1];
    if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
    setView([drag[2] - dx / r.width * view[2], drag[3] - dy / r.height * view[3], view[2], view[3]]);
  });
  addEventListener("pointerup", () => { drag = null; });
  m.addEventListener("click", (ev) => {
    const s = moved ? null : nearest(ev.clientX, ev.clientY);
    if (s) select(s);
  });
  $("fit").addEventListener("click", () => full && setView(full));
  const legend = $("legend");
  h("span", "efforts:", legend);
  COLOURS.forEach(([min, col], k) => {
    h("span", null, legend, "sw").style.background = col;
    h("span", k + 1 < COLOURS.length ? min + (COLOURS[k + 1][0] - 1 > min ? "-" + (COLOURS[k + 1][0] - 1) : "") : min + "+", legend);
  });
}

// ---- wiring: figures and the first rows at once, the map after the first paint.
status();
const sports = [...new Set(D.segments.map((s) => s.t).filter(Boolean))].sort();
for (const t of sports) h("option", t, $("sport")).value = t;
let typing = 0;
$("filter").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(applyFilter, 150); });
$("sport").addEventListener("change", applyFilter);
for (const th of document.querySelectorAll("th[data-k]")) {
  th.addEventListener("click", () => {
    sortDir = th.dataset.k === sortKey ? -sortDir : (th.dataset.k === "n" || th.dataset.k === "t" ? 1 : -1);
    sortKey = th.dataset.k;
    applyFilter();
  });
}
tbody.addEventListener("click", (ev) => { const tr = ev.target.closest("tr"); if (tr && ev.target.tagName !== "A") select(tr.seg); });
$("more").addEventListener("click", more);
new IntersectionObserver((es) => { if (es.some((x) => x.isIntersecting)) more(); }).observe($("more"));
mapEvents();
applyFilter();
if (rows.length) select(rows[0]);
// When the figures and table were ready, and the map (read by bench/report_bench.ts).
window.reportTimes = { table_ms: Math.round(performance.now()) };
requestAnimationFrame(() => setTimeout(() => {
  drawMap();
  document.body.dataset.ready = "1";
  reportTimes.map_ms = Math.round(performance.now());
}, 0));
`;
