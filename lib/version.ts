/**
 * The tool's version, printed by every script's `--version` (one place; bump it with a release).
 */

/** strava-backfill's version. */
export const VERSION = "1.0.0";

/**
 * The `--version` line: the tool, and the Deno that runs it.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(versionLine(), `strava-backfill ${VERSION} (Deno ${Deno.version.deno})`);
 * ```
 */
export function versionLine(): string {
  return `strava-backfill ${VERSION} (Deno ${Deno.version.deno})`;
}
