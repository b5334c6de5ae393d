/**
 * The data of `manage_backfill --mode stats --html` (lib/backfill/report_page.ts draws it): the
 * stats figures, and every detailed segment with its live efforts in date order, its best and its
 * shape. It only reads, like stats, and leaves out efforts of deleted activities as the views do.
 *
 * Kept small for accounts of 10,000 activities: efforts are `[epoch seconds, elapsed s, index
 * into activities]` tuples, ids are exact strings, and each polyline is thinned to what a map of
 * the whole account can show (a point every few metres at most), which takes a Strava segment's
 * full-resolution line from hundreds of points to a few dozen.
 */
import { columnsOf, type Database } from "../store/db.ts";
import { hasDeletedAt, LIVE_EFFORTS } from "../store/views.ts";
import { outcomeText, type Stats } from "./stats.ts";

/** Units the page shows distances in (times are always h:mm:ss). */
export type Units = "metric" | "imperial";

/** One effort: start (epoch seconds, null if unknown), elapsed time (s), index into `ReportData.activities`. */
export type ReportEffort = [number | null, number, number];

/** One detailed segment. Short keys: the file carries 11,000 of them on a large account. */
export interface ReportSegment {
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
  /** Live efforts with an elapsed time, by start date then id. */
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
  const activities: string[] = [];
  const activityIndex = new Map<string, number>();
  const segments: ReportSegment[] = [];
  const byId = new Map<string, ReportSegment>();
  // Stats may meet an older schema (the seed toolkit's): a column it lacks is read as NULL, and
  // without details_status every stored segment counts as detailed (the seed stored only those).
  const has = new Set(columnsOf(db, "segments"));
  const col = (name: string) => has.has(name) ? name : `NULL AS ${name}`;
  const rows = !has.has("id") ? [] : db.prepare(
    `SELECT CAST(id AS TEXT) id, ${["name", "activity_type", "distance", "average_grade", "polyline"].map(col)}
     FROM segments WHERE ${has.has("details_status") ? "details_status = 'ok'" : "1"} ORDER BY id`,
  ).all() as { id: string; name: string | null; activity_type: string | null; [k: string]: unknown }[];
  for (const r of rows) {
    const segment: ReportSegment = {
      i: r.id,
      n: r.name ?? `segment ${r.id}`,
      t: r.activity_type,
      d: typeof r.distance === "number" ? Math.round(r.distance * 10) / 10 : null,
      g: typeof r.average_grade === "number" ? r.average_grade : null,
      p: typeof r.polyline === "string" ? thinPolyline(r.polyline) : "",
      e: [],
      b: -1,
    };
    segments.push(segment);
    byId.set(r.id, segment);
  }
  const live = hasDeletedAt(db) ? LIVE_EFFORTS : "1";
  const effortColumns = new Set(columnsOf(db, "segment_efforts"));
  const readable = ["segment_id", "start_date", "elapsed_time", "activity_id"].every((c) => effortColumns.has(c));
  // In idx_segment_efforts_dated order (segment, date; the id is the rowid), so no sort is needed.
  const efforts = db.prepare(
    `SELECT CAST(segment_id AS TEXT) s, CAST(strftime('%s', start_date) AS INTEGER) t, elapsed_time,
       CAST(activity_id AS TEXT) a
     FROM segment_efforts WHERE elapsed_time IS NOT NULL AND ${live} ORDER BY segment_id, start_date, id`,
  );
  // all() rather than iterate(): a third faster on 30,000 rows, and they are a few MB at most.
  for (const row of (readable && rows.length > 0 ? efforts.all() : []) as Record<string, unknown>[]) {
    const segment = byId.get(row.s as string);
    if (!segment) continue;
    const activity = String(row.a);
    let index = activityIndex.get(activity);
    if (index === undefined) {
      index = activities.push(activity) - 1;
      activityIndex.set(activity, index);
    }
    const started = row.t === null ? NaN : Number(row.t);
    const elapsed = Number(row.elapsed_time);
    // Date order, so a strictly faster effort is the new best: equal times keep the earliest.
    if (segment.b < 0 || elapsed < segment.e[segment.b][1]) segment.b = segment.e.length;
    segment.e.push([Number.isFinite(started) ? started : null, elapsed, index]);
  }
  return {
    generated_at: new Date(now).toISOString().slice(0, 19) + "Z",
    units,
    stats,
    outcome: outcomeText(stats.last_run),
    activities,
    segments,
  };
}

/** Decodes a Google encoded polyline into its integer coordinates (degrees x 1e5): lat, lng, lat, lng, … */
export function decodePolyline(text: string): Int32Array {
  const out = new Int32Array(text.length + 1);
  let i = 0, n = 0, value = 0;
  while (i < text.length) {
    let result = 0, shift = 0, byte;
    do {
      byte = text.charCodeAt(i++) - 63;
      result |= (byte & 0x1f) << shift;
      shift += 5;
    } while (byte >= 0x20 && i < text.length);
    // Latitude deltas add to the previous latitude, longitude deltas to the previous longitude.
    value = (n >= 2 ? out[n - 2] : 0) + (result & 1 ? ~(result >> 1) : result >> 1);
    out[n++] = value;
  }
  return out.subarray(0, n - (n % 2));
}

/** Encodes integer coordinates (degrees x 1e5, lat, lng, …) as a Google encoded polyline. */
export function encodePolyline(coords: ArrayLike<number>): string {
  const codes: number[] = [];
  for (let k = 0; k < coords.length; k++) {
    const v = coords[k] - (k >= 2 ? coords[k - 2] : 0);
    let n = v < 0 ? ~(v << 1) : v << 1;
    while (n >= 0x20) {
      codes.push((0x20 | (n & 0x1f)) + 63);
      n >>= 5;
    }
    codes.push(n + 63);
  }
  let out = "";
  for (let k = 0; k < codes.length; k += 8192) out += String.fromCharCode(...codes.slice(k, k + 8192));
  return out;
}

/** How far (metres) a thinned line may stray from the stored one: finer than a map of an account shows. */
const THIN_METRES = 8;

/**
 * The polyline with the points a map does not need dropped (Douglas-Peucker, THIN_METRES). On
 * typed arrays: a large account has millions of stored points, and this is most of the report's time.
 */
export function thinPolyline(text: string): string {
  const c = decodePolyline(text), count = c.length / 2;
  if (count <= 2) return encodePolyline(c);
  const kx = 1.1132 * Math.cos((c[0] / 1e5) * Math.PI / 180), ky = 1.1054; // metres per 1e-5 degree
  const m = new Float64Array(c.length);
  for (let k = 0; k < c.length; k += 2) {
    m[k] = c[k] * ky;
    m[k + 1] = c[k + 1] * kx;
  }
  const keep = new Uint8Array(count);
  keep[0] = keep[count - 1] = 1;
  const stack = [0, count - 1];
  while (stack.length > 0) {
    const to = stack.pop()!, from = stack.pop()!;
    const ay = m[2 * from], ax = m[2 * from + 1];
    const dy = m[2 * to] - ay, dx = m[2 * to + 1] - ax;
    const length = Math.hypot(dx, dy);
    let far = -1, farthest = THIN_METRES;
    for (let k = from + 1; k < to; k++) {
      const py = m[2 * k] - ay, px = m[2 * k + 1] - ax;
      const d = length === 0 ? Math.hypot(px, py) : Math.abs(dx * py - dy * px) / length;
      if (d > farthest) {
        far = k;
        farthest = d;
      }
    }
    if (far < 0) continue;
    keep[far] = 1;
    stack.push(from, far, far, to);
  }
  const kept: number[] = [];
  for (let k = 0; k < count; k++) if (keep[k]) kept.push(c[2 * k], c[2 * k + 1]);
  return encodePolyline(kept);
}

/** The line naming the written report, printed after the stats table. */
export function reportLine(path: string, data: ReportData, html: string): string {
  const efforts = data.segments.reduce((n, s) => n + s.e.length, 0);
  const kb = Math.ceil(new TextEncoder().encode(html).length / 1024);
  return `report: wrote ${path} (${data.segments.length} segments, ${efforts} efforts, ${kb} KB); ` +
    `open it in a browser (works offline)`;
}
