/**
 * Tokens only in headers (Strava, from 2027): a whole backfill, a token refresh and a refresh run
 * against the simulator, which refuses an access token sent as a query or form parameter and
 * logs where every token came from. No request may carry one anywhere but its Authorization header.
 */
import { ok, strictEqual } from "node:assert/strict";
import { writeTokensFile } from "../lib/strava/token_store.ts";
import { apiRoute } from "../lib/testing/sim_api.ts";
import { runScript, scriptWorld } from "./helpers.ts";

Deno.test("no request carries a token in its query string or body: backfill, token refresh and refresh mode", async () => {
  await using world = await scriptWorld({ seed: 22, activities: 8, segments: 5 });
  const { dir, sim } = world;
  const pair = sim.issueTokens();
  // An expired pair: the first run refreshes it at oauth/token before any API request.
  writeTokensFile(`${dir.path}/tokens.json`, {
    athleteId: null,
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: pair.expires_at - 7 * 3600,
    scope: "read,activity:read_all",
    updatedAt: null,
  });
  const opts = {
    cwd: dir.path,
    hosts: [sim.host],
    env: {
      STRAVA_CLIENT_ID: "12345",
      STRAVA_CLIENT_SECRET: "sim-secret",
      STRAVA_API_URL: sim.apiUrl,
      STRAVA_OAUTH_URL: sim.oauthUrl,
    },
  };
  for (const args of [["--mode", "one-time"], ["--mode", "one-time", "--retry-failed"]]) {
    const r = await runScript("manage_backfill", args, opts);
    strictEqual(r.code, 0, r.stderr);
  }
  const refresh = await runScript("incremental_backfill", ["--mode", "refresh", "--refresh-after", "0"], opts);
  strictEqual(refresh.code, 0, refresh.stderr);

  const api = sim.requests.filter((q) => apiRoute(q.path) !== null);
  ok(api.length > 8, `the runs made their API requests (${api.length})`);
  ok(sim.requests.some((q) => q.path === "/oauth/token"), "the expired pair was refreshed");
  for (const q of sim.requests) {
    strictEqual(q.tokenOutsideHeader, undefined, `${q.method} ${q.path}?${q.query} carried a token outside its header`);
    ok(!q.query.includes("[redacted]"), `${q.method} ${q.path}: a secret in the query (${q.query})`);
  }
  for (const q of api) {
    ok(/^token#\d+$/.test(q.auth ?? ""), `${q.method} ${q.path}: no valid bearer header (${q.auth})`);
  }
});
