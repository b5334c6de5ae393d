/**
 * The Deno permissions each script runs with: the single source for `deno.json` tasks
 * (tests/permissions_test.ts holds them to this one list), `deno task compile`, and the tests, which run every
 * script as a subprocess under exactly these flags (plus the simulator's loopback address).
 *
 * Network: the backfill scripts may reach every host Strava serves its API from (the old and
 * the new, STRAVA_API_HOSTS in lib/config.ts), so a user who sets STRAVA_API_URL to the new base,
 * or a binary built today once Strava moves, is not refused by Deno. setup_auth only talks to
 * Strava's OAuth host (authorize, token, revoke), which is not moving, and to its own loopback
 * callback server.
 *
 * Paths are relative to the working directory: the tool's files (data/, .env, tokens.json,
 * backfill.log, backfill_state.json) live in the folder it is run from.
 *
 * A host the scoped permissions do not grant is a usage error (exit 2), never an outage: asking
 * again cannot help. The backfill session checks the API and OAuth hosts before it writes
 * anything (no run counted, no budget reserved); the client checks again before each first
 * request and classifies Deno's refusal (`Deno.errors.NotCapable`) the same way, never retrying it.
 */
import { STRAVA_API_HOSTS, STRAVA_OAUTH_HOST } from "./config.ts";
import { UsageError } from "./errors.ts";

/** The hosts a backfill script may reach: Strava's API hosts, the OAuth host among them. */
export const BACKFILL_HOSTS: readonly string[] = [...new Set([...STRAVA_API_HOSTS, STRAVA_OAUTH_HOST])];
/** The hosts setup_auth may reach: Strava's OAuth host and its callback server on loopback. */
export const SETUP_AUTH_HOSTS: readonly string[] = [STRAVA_OAUTH_HOST, "127.0.0.1", "localhost"];

const FILES = ["--allow-read=.", "--allow-write=."];
const STRAVA_ENV = "--allow-env=STRAVA_*";
const BACKFILL = [...FILES, `--allow-net=${BACKFILL_HOSTS.join(",")}`, STRAVA_ENV];

/** Permission flags of each script (the five scripts, by name), as baked into its binary. */
export const PERMISSIONS = {
  update_schema: FILES,
  // The export archive may be anywhere (usually ~/Downloads), so reading is not scoped; writing is.
  import_archive: ["--allow-read", "--allow-write=."],
  incremental_backfill: BACKFILL,
  manage_backfill: BACKFILL,
  // The callback server listens on loopback; opening the browser needs its launcher.
  setup_auth: [...FILES, `--allow-net=${SETUP_AUTH_HOSTS.join(",")}`, STRAVA_ENV, "--allow-run=xdg-open,open"],
} as const satisfies Record<string, readonly string[]>;

/** One of the five scripts. */
export type ScriptName = keyof typeof PERMISSIONS;

/**
 * The flags for `script`, with extra hosts (tests add the simulator's 127.0.0.1:PORT).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(permissionFlags("update_schema"), ["--allow-read=.", "--allow-write=."]);
 * deepStrictEqual(permissionFlags("update_schema", ["127.0.0.1:8080"]), [
 *   "--allow-read=.",
 *   "--allow-write=.",
 *   "--allow-net=127.0.0.1:8080",
 * ]);
 * ```
 */
export function permissionFlags(script: ScriptName, extraHosts: string[] = []): string[] {
  const flags: string[] = [...PERMISSIONS[script]];
  if (extraHosts.length === 0) return flags;
  const net = flags.findIndex((f) => f.startsWith("--allow-net="));
  if (net >= 0) flags[net] += `,${extraHosts.join(",")}`;
  else flags.push(`--allow-net=${extraHosts.join(",")}`);
  return flags;
}

/** The repository root (where deno.json and scripts/ are). */
export const PROJECT_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/**
 * `deno run` arguments that run `script` exactly as its binary would run (same permissions),
 * from any working folder. Used by the tests and the demo.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(denoRunArgs("update_schema", ["--create"]), [
 *   "run",
 *   "--quiet",
 *   "--no-prompt",
 *   `--config=${PROJECT_ROOT}deno.json`,
 *   ...PERMISSIONS.update_schema,
 *   `${PROJECT_ROOT}scripts/update_schema.ts`,
 *   "--create",
 * ]);
 * ```
 */
export function denoRunArgs(script: ScriptName, args: string[], extraHosts: string[] = []): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    `--config=${PROJECT_ROOT}deno.json`,
    ...permissionFlags(script, extraHosts),
    `${PROJECT_ROOT}scripts/${script}.ts`,
    ...args,
  ];
}

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
