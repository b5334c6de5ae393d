/**
 * A host the scoped permissions do not grant is a usage error (exit 2), never an outage: asking
 * again cannot help. The backfill session checks the API and OAuth hosts before it writes
 * anything (no run counted, no budget reserved); the client checks again before each first
 * request and classifies Deno's refusal (`Deno.errors.NotCapable`) the same way, never retrying it.
 */
import { UsageError } from "./errors.ts";

/**
 * Whether this process may connect to `url`'s host (and port).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const state = Deno.permissions.querySync({ name: "net", host: "api-v3.strava.com" }).state;
 * strictEqual(netGranted("https://api-v3.strava.com"), state === "granted");
 * ```
 */
export function netGranted(url: string): boolean {
  return Deno.permissions.querySync({ name: "net", host: new URL(url).host }).state === "granted";
}

/**
 * The one line for a host the permissions refuse: the host, the setting that pointed there
 * (`setting`, e.g. STRAVA_API_URL), and the permission that would grant it. A compiled binary's
 * permissions are baked in (`compiled`, default: whether this is one), so there the way out is
 * the setting or `deno run`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const err = netRefusal("https://strava.example.org/api/v3", "STRAVA_API_URL", false);
 * strictEqual(
 *   err.message,
 *   "STRAVA_API_URL points at strava.example.org, which this program's permissions do not allow " +
 *     "(it needs --allow-net=strava.example.org); unset STRAVA_API_URL, or run the script with --allow-net=strava.example.org",
 * );
 * strictEqual(err.exitCode, 2);
 * ```
 */
export function netRefusal(url: string, setting?: string, compiled: boolean = Deno.build.standalone): UsageError {
  const host = new URL(url).host;
  const grant = `--allow-net=${host}`;
  const what = setting ? `${setting} points at ${host}` : `connecting to ${host}`;
  const undo = setting ? `unset ${setting}` : "use Strava's own host";
  const how = compiled
    ? `this binary's permissions are baked in when it is compiled: ${undo}, or run the script with deno run ${grant}`
    : `${undo}, or run the script with ${grant}`;
  return new UsageError(`${what}, which this program's permissions do not allow (it needs ${grant}); ${how}`);
}

/**
 * Throws `netRefusal` unless this process may connect to `url`'s host.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * const url = "https://api-v3.strava.com";
 * if (netGranted(url)) assertNetGranted(url, "STRAVA_API_URL"); // granted: nothing happens
 * else throws(() => assertNetGranted(url, "STRAVA_API_URL"), /STRAVA_API_URL points at api-v3\.strava\.com, which/);
 * ```
 */
export function assertNetGranted(url: string, setting?: string): void {
  if (!netGranted(url)) throw netRefusal(url, setting);
}
