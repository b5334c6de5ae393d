/**
 * Places and times for the simulated athlete: home (Boulder, CO) and Watopia, Denver's UTC
 * offset, Strava's date format, encoded polylines and leaderboard times.
 */

/** Home of the simulated athlete (Boulder, CO). */
export const HOME: readonly [number, number] = [40.015, -105.2705];
/** Where Zwift puts virtual rides. */
export const WATOPIA: readonly [number, number] = [-11.6363, 166.9728];
/** The athlete's time zone as Strava writes it. */
export const TIMEZONE = "(GMT-07:00) America/Denver";

const dayCache = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? "0" : "") + n;

/** `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (Strava's format, also for local times). */
export function isoSeconds(epochSeconds: number): string {
  const s = Math.floor(epochSeconds);
  const day = Math.floor(s / 86400);
  // Formatting dates dominated generation time; the date part repeats for every effort of a day.
  let date = dayCache.get(day);
  if (date === undefined) {
    date = new Date(day * 86400000).toISOString().slice(0, 10);
    if (dayCache.size < 100_000) dayCache.set(day, date);
  }
  const t = s - day * 86400;
  return `${date}T${pad2(Math.floor(t / 3600))}:${pad2(Math.floor(t / 60) % 60)}:${pad2(t % 60)}Z`;
}

/** Google encoded polyline of [lat, lng] points (what map.polyline holds). */
export function encodePolyline(points: readonly (readonly [number, number])[]): string {
  let out = "";
  let lastLat = 0;
  let lastLng = 0;
  for (const [lat, lng] of points) {
    const la = Math.round(lat * 1e5);
    const ln = Math.round(lng * 1e5);
    out += encodeSigned(la - lastLat) + encodeSigned(ln - lastLng);
    lastLat = la;
    lastLng = ln;
  }
  return out;
}

function encodeSigned(value: number): string {
  let v = value < 0 ? ~(value << 1) : value << 1;
  let out = "";
  while (v >= 0x20) {
    out += String.fromCharCode((0x20 | (v & 0x1f)) + 63);
    v >>>= 5;
  }
  return out + String.fromCharCode(v + 63);
}

/** Offset of America/Denver at an instant (US DST: 2nd Sunday of March to 1st Sunday of November). */
export function denverOffsetSeconds(epochSeconds: number): number {
  const ms = epochSeconds * 1000;
  const year = new Date(ms).getUTCFullYear();
  const march8 = new Date(Date.UTC(year, 2, 8)).getUTCDay();
  const dstStart = Date.UTC(year, 2, 8 + ((7 - march8) % 7), 9);
  const nov1 = new Date(Date.UTC(year, 10, 1)).getUTCDay();
  const dstEnd = Date.UTC(year, 10, 1 + ((7 - nov1) % 7), 8);
  return ms >= dstStart && ms < dstEnd ? -21600 : -25200;
}

/** A leaderboard time ("m:ss" or "h:mm:ss") for a duration in seconds. */
export function clockText(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s).padStart(2, "0")}`
    : `${m}:${String(s).padStart(2, "0")}`;
}
