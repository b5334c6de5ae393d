/**
 * Imported first by every script, for its effect: on a Deno older than MIN_DENO it prints one
 * line naming the version needed and exits 2, before any other module of the script runs.
 */
import { denoTooOld } from "./version.ts";

const tooOld = denoTooOld(Deno.version.deno);
if (tooOld !== undefined) {
  console.error(tooOld);
  Deno.exit(2);
}
