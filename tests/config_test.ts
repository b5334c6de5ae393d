import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { DEFAULT_API_URL, loadConfig, NEW_API_URL } from "../lib/config.ts";
import type { ScriptName } from "../lib/permissions.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { createDatabase, runScript, simEnv, tempDir } from "./helpers.ts";

const missing = (): string => {
  throw new Deno.errors.NotFound("no file");
};

Deno.test("config: the process environment wins over the env file; blanks are unset", () => {
  const config = loadConfig({
    getEnv: (n) => ({ STRAVA_CLIENT_ID: "env-id", STRAVA_REFRESH_TOKEN: "  " } as Record<string, string>)[n],
    readTextFile: () =>
      'STRAVA_CLIENT_ID=file-id\nSTRAVA_CLIENT_SECRET="s e c"\nSTRAVA_API_URL=http://127.0.0.1:9/api/v3/\n',
  });
  deepStrictEqual(config, {
    accessToken: undefined,
    clientId: "env-id",
    clientSecret: "s e c",
    refreshToken: undefined,
    apiUrl: "http://127.0.0.1:9/api/v3",
    oauthUrl: "https://www.strava.com/oauth",
  });
});

Deno.test("config: a missing default env file is fine, a missing explicit one is a usage error", () => {
  strictEqual(loadConfig({ getEnv: () => undefined, readTextFile: missing }).apiUrl, DEFAULT_API_URL);
  throws(
    () => loadConfig({ getEnv: () => undefined, readTextFile: missing, envPath: "x.env", envPathExplicit: true }),
    /x\.env does not exist/,
  );
});

Deno.test("config: STRAVA_API_URL and STRAVA_OAUTH_URL must be URLs, https off loopback", () => {
  const load = (env: Record<string, string>) => loadConfig({ getEnv: (n) => env[n], readTextFile: missing });
  strictEqual(load({ STRAVA_API_URL: "http://localhost:8080/api/v3/" }).apiUrl, "http://localhost:8080/api/v3");
  strictEqual(load({ STRAVA_API_URL: "https://proxy.example/api/v3" }).apiUrl, "https://proxy.example/api/v3");
  throws(() => load({ STRAVA_API_URL: "not a url" }), {
    name: "UsageError",
    message: "STRAVA_API_URL is not a URL: 'not a url'",
  });
  for (
    const [name, value] of [
      ["STRAVA_API_URL", "ftp://www.strava.com/api/v3"],
      ["STRAVA_API_URL", "http://www.strava.com/api/v3"],
      ["STRAVA_OAUTH_URL", "http://10.0.0.1/oauth"],
    ]
  ) {
    throws(() => load({ [name]: value }), {
      name: "UsageError",
      message: `${name} must use https (plain http is allowed only on 127.0.0.1/localhost), got '${value}'`,
    });
  }
});

Deno.test("config: STRAVA_API_URL takes the new base (no /api/v3); a Strava host with the wrong path is refused", () => {
  const load = (value: string) => loadConfig({ getEnv: (n) => ({ STRAVA_API_URL: value })[n], readTextFile: missing });
  strictEqual(load("https://api-v3.strava.com").apiUrl, NEW_API_URL);
  strictEqual(load("https://api-v3.strava.com/").apiUrl, "https://api-v3.strava.com");
  strictEqual(load("https://www.api-v3.strava.com").apiUrl, "https://www.api-v3.strava.com");
  strictEqual(load("https://www.strava.com/api/v3/").apiUrl, DEFAULT_API_URL);
  strictEqual(loadConfig({ getEnv: () => undefined, readTextFile: missing }).oauthUrl, "https://www.strava.com/oauth");
  // The new base moves only the API: OAuth stays on www.strava.com unless STRAVA_OAUTH_URL says otherwise.
  strictEqual(load(NEW_API_URL).oauthUrl, "https://www.strava.com/oauth");
  throws(() => load("https://api-v3.strava.com/api/v3"), {
    name: "UsageError",
    message: "STRAVA_API_URL 'https://api-v3.strava.com/api/v3' has the wrong path for api-v3.strava.com: the API is " +
      "at https://api-v3.strava.com (no /api/v3 on the new host); set STRAVA_API_URL=https://api-v3.strava.com",
  });
  throws(() => load("https://www.strava.com"), {
    name: "UsageError",
    message: "STRAVA_API_URL 'https://www.strava.com' has the wrong path for www.strava.com: the API is at " +
      "https://www.strava.com/api/v3; set STRAVA_API_URL=https://www.strava.com/api/v3",
  });
});

Deno.test("config: a malformed env file is refused naming the file and line", () => {
  throws(
    () => loadConfig({ getEnv: () => undefined, envPath: "my.env", readTextFile: () => "STRAVA_CLIENT_ID=1\njunk\n" }),
    { name: "ParseError", message: "my.env line 2: expected NAME=value (a setting, a # comment, or a blank line)" },
  );
});

Deno.test("config (subprocess): a malformed .env or a bad STRAVA_API_URL is exit 2, one line, before any request", async () => {
  await using dir = await tempDir();
  createDatabase(dir.path);
  await using sim = await StravaSimulator.start({ seed: 2, activities: 3, segments: 2 });
  const env = simEnv(sim);
  Deno.writeTextFileSync(`${dir.path}/.env`, `STRAVA_CLIENT_ID=1\nSTRAVA_CLIENT_SECRET="unclosed\n`);
  const cases: [ScriptName, string[], Record<string, string>, string][] = [
    [
      "manage_backfill",
      ["--mode", "one-time"],
      env,
      ".env line 2: the quoted value of STRAVA_CLIENT_SECRET is never closed",
    ],
    ["setup_auth", ["--no-browser"], {}, ".env line 2: the quoted value of STRAVA_CLIENT_SECRET is never closed"],
  ];
  for (const [script, args, e, line] of cases) {
    const r = await runScript(script, args, { cwd: dir.path, env: e, hosts: [sim.host] });
    strictEqual(r.code, 2, r.stderr);
    strictEqual(r.stderr, `error: ${line}\n`);
  }
  Deno.removeSync(`${dir.path}/.env`);
  for (const url of ["not a url", "ftp://127.0.0.1/api/v3"]) {
    const r = await runScript("incremental_backfill", ["--mode", "activities"], {
      cwd: dir.path,
      env: { ...env, STRAVA_API_URL: url },
      hosts: [sim.host],
    });
    strictEqual(r.code, 2, r.stderr);
    ok(r.stderr.startsWith("error: STRAVA_API_URL ") && r.stderr.split("\n").length === 2, r.stderr);
  }
  strictEqual(sim.requests.length, 0, "no request was made");
  // The backfill runs also wrote each refusal to their log.
  const log = Deno.readTextFileSync(`${dir.path}/backfill.log`);
  strictEqual(log.match(/\[ERR\] strava-backfill\.run: run ended: .* \(exit 2\)/g)?.length, 3, log);
});
