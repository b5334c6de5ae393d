/**
 * setup_auth.ts: authorize strava-backfill with Strava once (OAuth authorization code flow),
 * and store the token pair in the database `tokens` table and in tokens.json.
 *
 *   deno task auth [--port N] [--scope LIST] [--no-browser] [--code CODE_OR_REDIRECT_URL]
 *   deno task auth --revoke
 *
 * The flow itself lives in lib/auth/setup.ts; --revoke (disconnecting) in lib/auth/revoke.ts.
 */
import "../lib/require_deno.ts"; // first: one line instead of a stack trace on an old Deno
import { DEFAULT_PORT, DEFAULT_TIMEOUT_SECONDS, setupAuth, type SetupAuthDeps } from "../lib/auth/setup.ts";
import { printedInfo, runMain } from "../lib/cli.ts";
import { type FlagTable, helpText, parseFlags } from "../lib/flags.ts";
import { CREDENTIAL_FLAGS, DB_FLAG } from "../lib/backfill/flags.ts";
import { revokeAuthorization } from "../lib/auth/revoke.ts";
import { UsageError } from "../lib/errors.ts";
import { DEFAULT_SCOPE, normalizeScope, STRAVA_API_SETTINGS_URL } from "../lib/strava/oauth.ts";

/** This script's flags. */
export const FLAGS = {
  env: CREDENTIAL_FLAGS.env,
  db: { ...DB_FLAG.db, help: "database to store the tokens in, if it exists" },
  tokens: { ...CREDENTIAL_FLAGS.tokens, help: "tokens file" },
  port: {
    kind: "integer",
    arg: "N",
    default: DEFAULT_PORT,
    min: 0,
    max: 65535,
    help: "port of the local callback server; 0 = any free port",
  },
  scope: { kind: "string", arg: "LIST", default: DEFAULT_SCOPE, help: "comma-separated scopes to request" },
  "no-browser": { kind: "boolean", help: "only print the URL; do not open a browser" },
  code: {
    kind: "string",
    arg: "CODE",
    help: [
      "finish a flow whose redirect could not reach this machine: pass the address the",
      "browser ended on (http://localhost:PORT/callback?...&code=...) or just its code",
    ],
  },
  timeout: {
    kind: "integer",
    arg: "SECONDS",
    default: DEFAULT_TIMEOUT_SECONDS,
    min: 1,
    // A day is plenty for a click, and stays far below the timer's maximum (about 24.8 days).
    max: 86_400,
    help: "give up waiting for the redirect after this long",
  },
  revoke: {
    kind: "boolean",
    help: [
      "disconnect instead: revoke the authorization at Strava, then delete the tokens",
      "from the database and the tokens file (the env file is never edited)",
    ],
  },
  verbose: { kind: "boolean", short: "v", help: "show progress details and stack traces on errors" },
} as const satisfies FlagTable;

/** The flags of the authorization flow, which --revoke does not take. */
const FLOW_FLAGS = ["port", "scope", "no-browser", "code", "timeout"] as const;

const USAGE = helpText({
  usage: "setup_auth.ts [options]",
  description: `Authorizes strava-backfill to read your Strava data (once). Prints a Strava authorization URL
and opens it in your browser; after you click "Authorize", Strava redirects to a small server
this script runs on http://localhost:PORT/callback, and the tokens are saved to the database
(if it exists) and to tokens.json (mode 0600). Needs STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET
(from ${STRAVA_API_SETTINGS_URL}) in the environment or the --env file. --revoke undoes it.`,
  flags: FLAGS,
});

/** Entry point; returns the exit code. */
export async function main(args: string[], deps: SetupAuthDeps = {}): Promise<number> {
  const { values, given } = parseFlags(args, FLAGS);
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  if (printedInfo(values, USAGE, out)) return 0;
  if (values.revoke) {
    const flow = FLOW_FLAGS.find((name) => given.has(name));
    if (flow) throw new UsageError(`--revoke cannot be combined with --${flow} (see --help)`);
    const envPath = given.has("env") ? values.env : undefined;
    await revokeAuthorization({ envPath, dbPath: values.db, tokensPath: values.tokens }, { ...deps, out, err });
    return 0;
  }
  const scope = normalizeScope(values.scope);
  if (scope === "") throw new UsageError("--scope must name at least one scope, e.g. read,activity:read_all");
  await setupAuth({
    envPath: given.has("env") ? values.env : undefined,
    dbPath: values.db,
    tokensPath: values.tokens,
    port: values.port,
    scope,
    timeoutMs: values.timeout * 1000,
    code: values.code,
    browser: !values["no-browser"],
    verbose: values.verbose === true,
  }, { ...deps, out, err });
  return 0;
}

if (import.meta.main) Deno.exit(await runMain(main, Deno.args));
