/**
 * The tool's version, printed by every script's `--version` (one place; bump it with a release),
 * and the oldest Deno it runs on, checked by every script before anything else (lib/require_deno.ts).
 * An older Deno would fail somewhere inside with a stack trace; this says in one line what to install.
 * This module imports nothing and uses nothing a Deno 2 lacks, and no module of the tool imports an
 * export an older Deno 2 is missing at link time (that would fail before any code runs).
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

/**
 * The oldest Deno the scripts are tested on (README, "Install"): the whole test suite passes on
 * 2.7.1, the first 2.7 release on npm (run with deno.json's "test" block removed, which that
 * Deno cannot parse; `deno task test` itself needs a newer Deno).
 */
export const MIN_DENO = "2.7.1";

/** The Deno to install, and how (Deno is on npm). */
const INSTALL_HINT = "npm install -g deno@2.9.6";

/**
 * Compares two `x.y.z` versions numerically (a pre-release suffix is ignored).
 *
 * @example
 * ```ts
 * import { ok, strictEqual } from "node:assert/strict";
 * ok(compareVersions("2.10.0", "2.9.6") > 0);
 * strictEqual(compareVersions("2.7.1-rc.1", "2.7.1"), 0);
 * ```
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[-+]/)[0].split(".").map((n) => Number(n) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

/**
 * The one line to print when `version` is older than MIN_DENO, or undefined when it will do.
 *
 * @example
 * ```ts
 * import { ok, strictEqual } from "node:assert/strict";
 * strictEqual(denoTooOld(MIN_DENO), undefined);
 * ok(denoTooOld("2.0.0")?.startsWith(`error: strava-backfill needs Deno ${MIN_DENO} or newer, this is Deno 2.0.0`));
 * ```
 */
export function denoTooOld(version: string): string | undefined {
  if (compareVersions(version, MIN_DENO) >= 0) return undefined;
  return `error: strava-backfill needs Deno ${MIN_DENO} or newer, this is Deno ${version}; ` +
    `install a newer one (${INSTALL_HINT}, or deno upgrade)`;
}
