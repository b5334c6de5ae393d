/**
 * The data of `manage_backfill --mode stats --html` (lib/backfill/report_page.ts draws it): the
 * stats figures, and every detailed segment with its live efforts in date order, its best and its
 * shape. It only reads, like stats, and leaves out efforts of deleted activities as the views do.
 *
 * Kept small for accounts of 10,000 activities: efforts are `[epoch seconds, elapsed s, index
 * into activities]` tuples, ids are exact strings, and each polyline is thinned to what a map of
 * the whole account can show (a point every few metres at most), which takes a Strava segment's
 * full-resolution line from hundreds of points to a few dozen.
 *
 * Kept fast too (the goal: a few times plain stats; docs/performance.md): one query per table
 * with only the columns shown, rows as arrays, efforts in the order of idx_segment_efforts_dated
 * (no sort), and each polyline decoded, thinned and re-encoded in one pass over its text.
 */
import type { StatementSync } from "node:sqlite";
import { columnsOf, type Database } from "../store/db.ts";
import { hasDeletedAt, LIVE_EFFORTS } from "../store/views.ts";
import { outcomeText, type Stats } from "./stats.ts";

/** Units the page shows distances in (times are always h:mm:ss). */
type Units = "metric" | "imperial";

/** One effort: start (epoch seconds, null if unknown), elapsed time (s), index into `ReportData.activities`. */
type ReportEffort = [number | null, number, number];

/** One detailed segment. Short keys: the file carries 11,000 of them on a large account. */
interface ReportSegment {
  /** Segment id (exact). */
  i: string;
  /** Name. */
  n: string;
  /** Strava's activity_type (Ride, Run, …). */
  t: string | null;
  /** Distance, metres. */
  d: number | null;
  /** Average grade, percent. */
  g: number | null;
  /** The shape, a thinned Google encoded polyline ("" when Strava sent none). */
  p: string;
  /** Live efforts with an elapsed time, by start date. */
  e: ReportEffort[];
  /** Index into `e` of the best effort (the earliest of equal times, as segment_bests), or -1. */
  b: number;
}

/** Everything the page shows. */
export interface ReportData {
  generated_at: string;
  units: Units;
  stats: Stats;
  /** The last run's outcome in words (as the stats table says it). */
  outcome: string;
  /** Activity ids (exact) the efforts point at. */
  activities: string[];
  segments: ReportSegment[];
}

/** Gathers the report's data from `db` and what stats computed from it. */
export function collectReport(db: Database, stats: Stats, now: number, units: Units = "metric"): ReportData {
  const segments = readSegments(db);
  return {
    generated_at: new Date(now).toISOString().slice(0, 19) + "Z",
    units,
    stats,
    outcome: outcomeText(stats.last_run),
    activities: segments.length > 0 ? readEfforts(db, segments) : [],
    segments,
  };
}

/** Every detailed segment, its polyline thinned; no efforts yet. */
function readSegments(db: Database): ReportSegment[] {
  // Stats may meet an older schema (the seed toolkit's): a column it lacks is read as NULL, and
  // without details_status every stored segment counts as detailed (the seed stored only those).
  const has = new Set(columnsOf(db, "segments"));
  if (!has.has("id")) return [];
  const col = (name: string) => has.has(name) ? name : `NULL AS ${name}`;
  const query = db.prepare(
    `SELECT CAST(id AS TEXT), ${["name", "activity_type", "distance", "average_grade", "polyline"].map(col)}
     FROM segments WHERE ${has.has("details_status") ? "details_status = 'ok'" : "1"}`,
  );
  // Arrays, not objects: a third less time on 11,000 rows.
  arrays(query);
  const segments: ReportSegment[] = [];
  // Indexed, not destructured: the array iterator is slow in code not yet optimized, and this
  // runs once per process.
  const rows = query.all() as unknown as unknown[][];
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k], id = r[0], name = r[1], type = r[2], distance = r[3], grade = r[4], polyline = r[5];
    segments.push({
      i: id as string,
      n: typeof name === "string" ? name : `segment ${id}`,
      t: typeof type === "string" ? type : null,
      d: typeof distance === "number" ? Math.round(distance * 10) / 10 : null,
      g: typeof grade === "number" ? grade : null,
      p: typeof polyline === "string" ? thinPolyline(polyline) : "",
      e: [],
      b: -1,
    });
  }
  // By the id's text, as the file always listed them (the page sorts them itself). Here, not in
  // SQL: SQLite's sorter would copy every row with its polyline, 6 MB on a large account.
  return segments.sort((a, b) => a.i < b.i ? -1 : a.i > b.i ? 1 : 0);
}

/** Adds each segment's live efforts and best; returns the activity ids the efforts point at. */
function readEfforts(db: Database, segments: ReportSegment[]): string[] {
  const columns = new Set(columnsOf(db, "segment_efforts"));
  if (!["segment_id", "start_date", "elapsed_time", "activity_id"].every((c) => columns.has(c))) return [];
  // In the order of idx_segment_efforts_dated (segment, date, time, activity, rowid), so SQLite
  // reads the index alone and sorts nothing; ordering ties by the id cost a sort, a third of the
  // query. The id breaks ties of date and time as segment_bests does; read as REAL because it is
  // only compared, and an integer beyond 2^53 read as a number would throw.
  const query = db.prepare(
    `SELECT CAST(segment_id AS TEXT), unixepoch(start_date), elapsed_time, CAST(activity_id AS TEXT),
       CAST(id AS REAL)
     FROM segment_efforts WHERE elapsed_time IS NOT NULL AND ${hasDeletedAt(db) ? LIVE_EFFORTS : "1"}
     ORDER BY segment_id, start_date, elapsed_time, activity_id, id`,
  );
  arrays(query);
  const byId = new Map<string, ReportSegment>();
  for (const s of segments) byId.set(s.i, s);
  const activities: string[] = [];
  const activityIndex = new Map<string, number>();
  // The rows come grouped by segment, so bestId is always the current segment's best's id.
  let segmentId: unknown = null, segment: ReportSegment | undefined, bestId = 0;
  // all() rather than iterate(): a third faster on 30,000 rows, and they are a few MB at most.
  const rows = query.all() as unknown as [string, number | null, number, string, number][];
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k], s = r[0], t = r[1], time = r[2], a = r[3], id = r[4];
    if (s !== segmentId) {
      segmentId = s;
      segment = byId.get(s);
    }
    if (segment === undefined) continue;
    let index = activityIndex.get(a);
    if (index === undefined) {
      index = activities.push(a) - 1;
      activityIndex.set(a, index);
    }
    const elapsed = Number(time), started = t === null ? null : Number(t);
    // Date order, so a strictly faster effort is the new best; an equal time at the same
    // second is the new best only with a lower id (segment_bests orders by time, date, id).
    const best = segment.b < 0 ? null : segment.e[segment.b];
    if (best === null || elapsed < best[1] || (elapsed === best[1] && started === best[0] && id < bestId)) {
      segment.b = segment.e.length;
      bestId = id;
    }
    segment.e.push([started, elapsed, index]);
  }
  return activities;
}

/**
 * Makes `query` return rows as arrays: node:sqlite has StatementSync.setReturnArrays (Node 24,
 * Deno 2.9) but @types/node's StatementSync in Deno's types does not declare it yet.
 */
function arrays(query: StatementSync): void {
  (query as unknown as { setReturnArrays(enabled: boolean): void }).setReturnArrays(true);
}

/** How far (metres) a thinned line may stray from the stored one: finer than a map of an account shows. */
const THIN_METRES = 8;

/** The thinned line's text, reused across calls (a polyline's longest point is 12 characters). */
let out = new Uint8Array(1 << 16);
const ascii = new TextDecoder();

/**
 * The polyline with the points a map does not need dropped: every dropped point lies within
 * THIN_METRES of the kept line (sleeve fitting, Zhao and Saalfeld 1997). From a kept point
 * (the anchor) the line goes on while some straight line from the anchor passes within 8 m of
 * every point so far, the cone of allowed directions narrowing with each point, and no point
 * lies farther from the anchor than the last (so no point passes the end of the kept stretch).
 * The first point that breaks this makes the point before it the next anchor.
 *
 * One pass over the encoded text, on integer coordinates (degrees x 1e5) and local metres,
 * with no array per point: a large account stores millions of points, and this was the
 * report's largest cost. Over ~60 lines: decoding, the cone and encoding share their state.
 */
export function thinPolyline(text: string): string {
  const end = text.length;
  let i = 0, n = 0;
  // Decoded integers; the anchor (kept) and the point before the current one.
  let lat = 0, lng = 0, aLat = 0, aLng = 0, pLat = 0, pLng = 0;
  let kx = 0, ax = 0, ay = 0, px = 0, py = 0;
  // The cone of directions from the anchor, right edge (rx, ry) counter-clockwise to the left
  // edge (lx, ly); `open` while no point has narrowed it. far2: the farthest point's distance².
  let open = true, rx = 0, ry = 0, lx = 0, ly = 0, far2 = 0, points = 0;
  const KY = 1.1054, TOL = THIN_METRES, TOL2 = TOL * TOL; // metres per 1e-5 degree of latitude
  while (i < end) {
    // Two zig-zag varints, the deltas of latitude and longitude.
    let result = 0, shift = 0, byte = 0;
    do {
      byte = text.charCodeAt(i++) - 63;
      result |= (byte & 0x1f) << shift;
      shift += 5;
    } while (byte >= 0x20 && i < end);
    if (i >= end) break; // a latitude without its longitude
    lat += result & 1 ? ~(result >> 1) : result >> 1;
    result = shift = 0;
    do {
      byte = text.charCodeAt(i++) - 63;
      result |= (byte & 0x1f) << shift;
      shift += 5;
    } while (byte >= 0x20 && i < end);
    lng += result & 1 ? ~(result >> 1) : result >> 1;
    if (points++ === 0) {
      kx = 1.1132 * Math.cos((lat / 1e5) * Math.PI / 180);
      n = put(n, lat, lng, 0, 0);
      aLat = pLat = lat, aLng = pLng = lng, ax = px = lng * kx, ay = py = lat * KY;
      continue;
    }
    const x = lng * kx, y = lat * KY;
    let vx = x - ax, vy = y - ay, d2 = vx * vx + vy * vy;
    if (d2 < far2 || (!open && (rx * vy - ry * vx < 0 || vx * ly - vy * lx < 0))) {
      // The previous point becomes the anchor: from it, this point is always a valid end.
      n = put(n, pLat, pLng, aLat, aLng);
      aLat = pLat, aLng = pLng, ax = px, ay = py;
      vx = x - ax, vy = y - ay, d2 = vx * vx + vy * vy;
      open = true, far2 = 0;
    }
    if (d2 > TOL2) {
      // The directions passing within TOL of this point: its own turned by ± asin(TOL / d), as
      // vectors of length d² (only the signs of cross products are used: no division).
      const h = Math.sqrt(d2 - TOL2);
      const cRx = vx * h + vy * TOL, cRy = vy * h - vx * TOL, cLx = vx * h - vy * TOL, cLy = vy * h + vx * TOL;
      if (open || rx * cRy - ry * cRx > 0) rx = cRx, ry = cRy;
      if (open || lx * cLy - ly * cLx < 0) lx = cLx, ly = cLy;
      open = false;
    }
    if (d2 > far2) far2 = d2;
    pLat = lat, pLng = lng, px = x, py = y;
  }
  if (points > 1) n = put(n, pLat, pLng, aLat, aLng);
  return ascii.decode(out.subarray(0, n));
}

/** Appends a point to `out` at `n` as deltas from the previous kept point; returns the new length. */
function put(n: number, lat: number, lng: number, fromLat: number, fromLng: number): number {
  if (n + 24 > out.length) {
    const grown = new Uint8Array(out.length * 2);
    grown.set(out);
    out = grown;
  }
  return varint(varint(n, lat - fromLat), lng - fromLng);
}

/** Appends one signed value of the Google polyline encoding (zig-zag, 5 bits a character). */
function varint(n: number, value: number): number {
  let v = value < 0 ? ~(value << 1) : value << 1;
  while (v >= 0x20) {
    out[n++] = (0x20 | (v & 0x1f)) + 63;
    v >>= 5;
  }
  out[n++] = v + 63;
  return n;
}

/** The line naming the written report, printed after the stats table. */
export function reportLine(path: string, data: ReportData, html: string): string {
  const efforts = data.segments.reduce((n, s) => n + s.e.length, 0);
  const kb = Math.ceil(new TextEncoder().encode(html).length / 1024);
  return `report: wrote ${path} (${data.segments.length} segments, ${efforts} efforts, ${kb} KB); ` +
    `open it in a browser (works offline)`;
}
