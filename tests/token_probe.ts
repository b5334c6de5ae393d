/**
 * Test support (not a tool script): one "run" of a backfill as far as tokens go. It builds the
 * token provider exactly as the backfill scripts do (lib/backfill/session.ts), makes one API call
 * (GET /athlete) through the real client, and prints the athlete id and how many refreshes it
 * made. tests/tokens_test.ts runs it as a subprocess under the backfill's permissions.
 *
 *   token_probe.ts [--db PATH] [--env PATH] [--tokens PATH]
 */
import { parseFlags, runMain } from "../lib/cli.ts";
import { loadConfig } from "../lib/config.ts";
import { type Database, DEFAULT_DB_PATH } from "../lib/store/db.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import { openMigrated } from "../lib/store/schema.ts";
import { StravaClient } from "../lib/strava/client.ts";
import { createTokenProvider, RefreshingTokenProvider } from "../lib/strava/tokens.ts";

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { db: { type: "string" }, env: { type: "string" }, tokens: { type: "string" } });
  const config = loadConfig({ envPath: values.env, envPathExplicit: values.env !== undefined });
  let db: Database | undefined;
  try {
    db = openMigrated(values.db ?? DEFAULT_DB_PATH);
    const tokens = createTokenProvider({ config, db, tokensPath: values.tokens });
    const client = new StravaClient({ apiUrl: config.apiUrl, tokens, limiter: new RateLimiter({ db }) });
    const athlete = await client.getAthlete();
    const refreshes = tokens instanceof RefreshingTokenProvider ? tokens.refreshCount : 0;
    console.log(`athlete ${athlete.id} refreshes ${refreshes}`);
    return 0;
  } finally {
    db?.close();
  }
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
