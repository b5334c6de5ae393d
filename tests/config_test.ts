import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { DEFAULT_API_URL, loadConfig } from "../lib/config.ts";

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
