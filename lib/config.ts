/**
 * Configuration: STRAVA_* variables from the process environment first, then from the
 * `--env` file (lib/env_file.ts; a malformed file is refused naming its line). Only STRAVA_*
 * names are read, which is also all the scripts' permissions allow. Both service URLs are
 * checked here, before any request: a typo would otherwise be retried as a network error.
 */
import { parseEnvFile } from "./env_file.ts";
import { UsageError } from "./errors.ts";

/**
 * Default API base (docs/contract.md). Strava's new base (NEW_API_URL) is not the default yet:
 * it answers only from 4 January 2027, and the old one has no published end (README, "Strava's
 * new API host").
 */
export const DEFAULT_API_URL = "https://www.strava.com/api/v3";
/** Strava's new API base (from 4 January 2027): its own host, and no /api/v3 path. */
export const NEW_API_URL = "https://api-v3.strava.com";
/** Strava's OAuth host (authorize, token, revoke), which stays where it is. */
export const STRAVA_OAUTH_HOST = "www.strava.com";
/**
 * Every host Strava serves its API from: the old one, the new one, and the spelling some of
 * Strava's announcements use. The scripts' --allow-net (lib/permissions.ts) grants these, and
 * the client sends the access token only to these (or to the origin STRAVA_API_URL names).
 */
export const STRAVA_API_HOSTS: readonly string[] = ["www.strava.com", "api-v3.strava.com", "www.api-v3.strava.com"];
/** Default OAuth base (docs/contract.md). */
const DEFAULT_OAUTH_URL = "https://www.strava.com/oauth";
/** Default `--env` path. */
export const DEFAULT_ENV_PATH = ".env";

/** Resolved configuration. */
export interface Config {
  accessToken?: string;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  apiUrl: string;
  oauthUrl: string;
}

/** Options for `loadConfig`. */
interface LoadConfigOptions {
  /** Path of the env file. */
  envPath?: string;
  /** Whether the user named the env file explicitly: then a missing file is an error. */
  envPathExplicit?: boolean;
  /** Reads a variable from the process environment (injectable for tests). */
  getEnv?: (name: string) => string | undefined;
  /** Reads the env file (injectable for tests). */
  readTextFile?: (path: string) => string;
}

/**
 * The variables of the env file at `path` ({} when it is missing and was not named explicitly).
 * Read only: the tool never writes the env file.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(readEnvFile(".env", false, () => "STRAVA_CLIENT_ID=12345\n"), { STRAVA_CLIENT_ID: "12345" });
 * const missing = () => {
 *   throw new Deno.errors.NotFound();
 * };
 * deepStrictEqual(readEnvFile(".env", false, missing), {}); // not named by the user: no file is fine
 * ```
 */
export function readEnvFile(
  path: string,
  explicit: boolean,
  read: (p: string) => string = Deno.readTextFileSync,
): Record<string, string> {
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !explicit) return {};
    if (err instanceof Deno.errors.NotFound) throw new UsageError(`env file ${path} does not exist`);
    if (err instanceof Deno.errors.IsADirectory) throw new UsageError(`env file ${path} is a directory`);
    throw err;
  }
  return parseEnvFile(text, path);
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Checks a service URL (STRAVA_API_URL, STRAVA_OAUTH_URL): a URL, https anywhere, plain http
 * only on loopback (the simulator). Returns it without trailing slashes.
 *
 * @example
 * ```ts
 * import { strictEqual, throws } from "node:assert/strict";
 * strictEqual(checkServiceUrl("STRAVA_API_URL", "http://127.0.0.1:8080/api/v3/"), "http://127.0.0.1:8080/api/v3");
 * throws(() => checkServiceUrl("STRAVA_API_URL", "http://example.com/api/v3"), /must use https/);
 * ```
 */
export function checkServiceUrl(name: "STRAVA_API_URL" | "STRAVA_OAUTH_URL", value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name} is not a URL: '${value}'`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
    throw new UsageError(`${name} must use https (plain http is allowed only on 127.0.0.1/localhost), got '${value}'`);
  }
  return value.replace(/\/+$/, "");
}

/**
 * Checks the path of an API base on one of Strava's hosts: the old host serves the API under
 * /api/v3, the new ones at the root. A wrong path would answer every record with 404, which the
 * backfill would take for deleted records, so it is refused before any request.
 */
function checkApiBase(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (!STRAVA_API_HOSTS.includes(url.hostname)) return apiUrl;
  const path = url.pathname.replace(/\/+$/, "");
  const want = url.hostname === "www.strava.com" ? "/api/v3" : "";
  if (path === want) return apiUrl;
  const fix = want === "" ? `https://${url.hostname}` : `https://www.strava.com/api/v3`;
  throw new UsageError(
    `STRAVA_API_URL '${apiUrl}' has the wrong path for ${url.hostname}: the API is at ${fix}${
      want === "" ? " (no /api/v3 on the new host)" : ""
    }; set STRAVA_API_URL=${fix}`,
  );
}

/**
 * Loads the configuration; blank values count as unset.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const config = loadConfig({
 *   getEnv: (name) => name === "STRAVA_CLIENT_ID" ? "12345" : undefined,
 *   readTextFile: () => "STRAVA_CLIENT_ID=999\nSTRAVA_CLIENT_SECRET=s3cret\n",
 * });
 * strictEqual(config.clientId, "12345"); // the environment wins over the file
 * strictEqual(config.clientSecret, "s3cret");
 * strictEqual(config.apiUrl, DEFAULT_API_URL);
 * ```
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const getEnv = options.getEnv ?? ((name: string) => Deno.env.get(name));
  const file = readEnvFile(
    options.envPath ?? DEFAULT_ENV_PATH,
    options.envPathExplicit ?? false,
    options.readTextFile ?? Deno.readTextFileSync,
  );
  const get = (name: `STRAVA_${string}`): string | undefined => {
    const value = getEnv(name)?.trim() || file[name]?.trim();
    return value ? value : undefined;
  };
  return {
    accessToken: get("STRAVA_ACCESS_TOKEN"),
    clientId: get("STRAVA_CLIENT_ID"),
    clientSecret: get("STRAVA_CLIENT_SECRET"),
    refreshToken: get("STRAVA_REFRESH_TOKEN"),
    apiUrl: checkApiBase(checkServiceUrl("STRAVA_API_URL", get("STRAVA_API_URL") ?? DEFAULT_API_URL)),
    oauthUrl: checkServiceUrl("STRAVA_OAUTH_URL", get("STRAVA_OAUTH_URL") ?? DEFAULT_OAUTH_URL),
  };
}
