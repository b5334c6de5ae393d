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
 */
import { STRAVA_API_HOSTS, STRAVA_OAUTH_HOST } from "./config.ts";

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
