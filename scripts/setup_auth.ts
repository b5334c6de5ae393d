/**
 * setup_auth.ts: authorize strava-backfill with Strava once (OAuth authorization code flow),
 * and store the token pair in the database `tokens` table and in tokens.json.
 *
 *   deno task auth [--port N] [--scope LIST] [--no-browser] [--code CODE_OR_REDIRECT_URL]
 *
 * The flow itself lives in lib/auth/setup.ts.
 */
import { DEFAULT_PORT, DEFAULT_TIMEOUT_SECONDS, setupAuth, type SetupAuthDeps } from "../lib/auth/setup.ts";
import { intFlag, parseFlags, runMain } from "../lib/cli.ts";
import { DEFAULT_DB_PATH } from "../lib/store/db.ts";
import { UsageError } from "../lib/errors.ts";
import { DEFAULT_SCOPE, normalizeScope, STRAVA_API_SETTINGS_URL } from "../lib/strava/oauth.ts";
import { DEFAULT_TOKENS_PATH } from "../lib/strava/token_store.ts";

export { DEFAULT_PORT, DEFAULT_TIMEOUT_SECONDS, type SetupAuthDeps } from "../lib/auth/setup.ts";
export { openBrowser } from "../lib/auth/browser.ts";

const USAGE = `Usage: setup_auth.ts [options]

Authorizes strava-backfill to read your Strava data (once). Prints a Strava authorization URL
and opens it in your browser; after you click "Authorize", Strava redirects to a small server
this script runs on http://localhost:PORT/callback, and the tokens are saved to the database
(if it exists) and to tokens.json (mode 0600). Needs STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET
(from ${STRAVA_API_SETTINGS_URL}) in the environment or the --env file.

Options:
  --env PATH        env file with STRAVA_* variables (default: .env)
  --db PATH         database to store the tokens in, if it exists (default: ${DEFAULT_DB_PATH})
  --tokens PATH     tokens file (default: ${DEFAULT_TOKENS_PATH})
  --port N          port of the local callback server (default: ${DEFAULT_PORT}; 0 = any free port)
  --scope LIST      comma-separated scopes to request (default: ${DEFAULT_SCOPE})
  --no-browser      only print the URL; do not open a browser
  --code CODE       finish a flow whose redirect could not reach this machine: pass the address the
                    browser ended on (http://localhost:PORT/callback?...&code=...) or just its code
  --timeout SECONDS give up waiting for the redirect after this long (default: ${DEFAULT_TIMEOUT_SECONDS})
  -v, --verbose     show progress details and stack traces on errors
  -h, --help        show this help`;

/** Entry point; returns the exit code. */
export async function main(args: string[], deps: SetupAuthDeps = {}): Promise<number> {
  const { values } = parseFlags(args, {
    env: { type: "string" },
    db: { type: "string" },
    tokens: { type: "string" },
    port: { type: "string" },
    scope: { type: "string" },
    "no-browser": { type: "boolean" },
    code: { type: "string" },
    timeout: { type: "string" },
  });
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const port = intFlag(values.port, "port", DEFAULT_PORT, { min: 0, max: 65535 });
  const timeoutSeconds = intFlag(values.timeout, "timeout", DEFAULT_TIMEOUT_SECONDS, { min: 1 });
  const scope = normalizeScope(values.scope ?? DEFAULT_SCOPE);
  if (scope === "") throw new UsageError("--scope must name at least one scope, e.g. read,activity:read_all");
  await setupAuth({
    envPath: values.env,
    dbPath: values.db ?? DEFAULT_DB_PATH,
    tokensPath: values.tokens ?? DEFAULT_TOKENS_PATH,
    port,
    scope,
    timeoutMs: timeoutSeconds * 1000,
    code: values.code,
    browser: !values["no-browser"],
    verbose: values.verbose === true,
  }, { ...deps, out, err });
  return 0;
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
