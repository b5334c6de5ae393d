/** Formatting of times and durations for users: local time first, UTC beside it. */

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/**
 * "16:45 (UTC 15:45)" when `ms` falls on the same local day as `now`, else
 * "2026-11-29 01:00 (UTC 2026-11-29 00:00)", so a cron user knows exactly when to come back.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * const now = Date.UTC(2026, 10, 1, 12, 0);
 * ok(formatLocalAndUtc(Date.UTC(2026, 10, 29, 0, 0), now).endsWith(" (UTC 2026-11-29 00:00)"));
 * ok(formatLocalAndUtc(now + 60_000, now).endsWith(" (UTC 12:01)")); // same day: the time only
 * ```
 */
export function formatLocalAndUtc(ms: number, now: number): string {
  const d = new Date(ms);
  const localDay = (x: Date) => `${x.getFullYear()}-${pad(x.getMonth() + 1)}-${pad(x.getDate())}`;
  const utcDay = (x: Date) => x.toISOString().slice(0, 10);
  // The date is shown only when it is not today's (in that time zone).
  const dateIfOther = (dayOf: (x: Date) => string) => dayOf(d) === dayOf(new Date(now)) ? "" : `${dayOf(d)} `;
  return `${dateIfOther(localDay)}${pad(d.getHours())}:${pad(d.getMinutes())} ` +
    `(UTC ${dateIfOther(utcDay)}${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())})`;
}

/**
 * "2h 05m", "14m 09s", "9s": a duration short enough for a progress line.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(formatDuration(7_500_000), "2h 05m");
 * strictEqual(formatDuration(849_000), "14m 09s");
 * strictEqual(formatDuration(8_200), "9s"); // rounded up: a wait is never shown shorter than it is
 * ```
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

/**
 * ISO-8601 UTC without milliseconds, the database's date format.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(isoSeconds(Date.UTC(2026, 10, 29, 7, 5, 9, 123)), "2026-11-29T07:05:09Z");
 * ```
 */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
