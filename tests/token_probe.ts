/**
 * Test support (not a tool script): one "run" of a backfill as far as tokens go. It builds the
 * token provider exactly as the backfill scripts do (lib/backfill/session.ts), makes one API call
 * (GET /athlete) through the real client, and prints the athlete id and how many refreshes it
 * made. tests/tokens_test.ts runs it as a subprocess under the backfill's permissions.
 *
 *   token_probe.ts [--db PATH] [--env PATH] [--tokens PATH]
 */
import { runMain } from "../lib/cli.ts";
import { parseFlags } from "../lib/flags.ts";
import { CREDENTIAL_FLAGS, DB_FLAG } from "../lib/backfill/flags.ts";
import { loadConfig } from "../lib/config.ts";
import type { Database } from "../lib/store/db.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { openMigrated } from "../lib/store/open.ts";
import { StravaClient } from "../lib/strava/client.ts";
import { createTokenProvider, RefreshingTokenProvider } from "../lib/strava/tokens.ts";

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, given } = parseFlags(args, { ...DB_FLAG, ...CREDENTIAL_FLAGS });
  const config = loadConfig({ envPath: values.env, envPathExplicit: given.has("env") });
  let db: Database | undefined;
  try {
    db = openMigrated(values.db);
    const tokens = createTokenProvider({ config, db, tokensPath: values.tokens });
    const client = new StravaClient({ apiUrl: config.apiUrl, tokens, limiter: new RateLimiter() });
    const athlete = await client.getAthlete();
    const refreshes = tokens instanceof RefreshingTokenProvider ? tokens.refreshCount : 0;
    console.log(`athlete ${athlete.id} refreshes ${refreshes}`);
    return 0;
  } finally {
    db?.close();
  }
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
