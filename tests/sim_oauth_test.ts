import { deepStrictEqual, notDeepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type Json, StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { get, postForm } from "./sim_helpers.ts";

const BASE = {
  client_id: "777",
  redirect_uri: "http://127.0.0.1:8721/callback",
  response_type: "code",
  approval_prompt: "force",
  scope: "read,activity:read_all",
  state: "st8",
};

/** A simulator of app 777/s3cret, with helpers for /oauth/authorize and /oauth/token. */
async function oauthSim() {
  const clock = new VirtualClock();
  const sim = await StravaSimulator.start({ now: clock.now, clientId: "777", clientSecret: "s3cret" });
  const authorize = async (q: Record<string, string>) => {
    const res = await fetch(`${sim.oauthUrl}/authorize?${new URLSearchParams(q)}`, { redirect: "manual" });
    const text = await res.text();
    return { status: res.status, location: res.headers.get("location"), text };
  };
  const token = (form: Record<string, string>) =>
    postForm(`${sim.oauthUrl}/token`, { client_id: "777", client_secret: "s3cret", ...form });
  const code = async () => new URL((await authorize(BASE)).location!).searchParams.get("code")!;
  return { clock, sim, authorize, token, code };
}

Deno.test("sim: OAuth authorize redirects with state, scope and a code; bad requests answer 400", async () => {
  const { sim, authorize } = await oauthSim();
  await using _ = sim;
  const ok1 = await authorize(BASE);
  strictEqual(ok1.status, 302);
  const loc = new URL(ok1.location!);
  strictEqual(loc.origin + loc.pathname, "http://127.0.0.1:8721/callback");
  strictEqual(loc.searchParams.get("state"), "st8");
  strictEqual(loc.searchParams.get("scope"), "read,activity:read_all");
  ok(/^[0-9a-f]{40}$/.test(loc.searchParams.get("code")!));

  deepStrictEqual(JSON.parse((await authorize({ ...BASE, client_id: "1" })).text), {
    message: "Bad Request",
    errors: [{ resource: "Application", field: "client_id", code: "invalid" }],
  });
  strictEqual((await authorize({ ...BASE, redirect_uri: "http://evil.example/cb" })).status, 400);
  strictEqual((await authorize({ ...BASE, scope: "view_private" })).status, 400);
  strictEqual((await authorize({ ...BASE, response_type: "token" })).status, 400);
});

Deno.test("sim: OAuth consent: unticked scopes are not granted, Cancel redirects with access_denied", async () => {
  const { sim, authorize } = await oauthSim();
  await using _ = sim;
  // The user unticks activity:read_all, then cancels.
  sim.setConsent({ scope: "read,activity:read" });
  const unticked = new URL((await authorize(BASE)).location!);
  strictEqual(unticked.searchParams.get("scope"), "read");
  sim.setConsent({ deny: true });
  const denied = new URL((await authorize(BASE)).location!);
  strictEqual(denied.searchParams.get("error"), "access_denied");
  strictEqual(denied.searchParams.get("code"), null);
  strictEqual(denied.searchParams.get("state"), "st8");
});

Deno.test("sim: OAuth code grant: the recorded token body, codes are single-use, the secret is checked", async () => {
  const { clock, sim, token, code } = await oauthSim();
  await using _ = sim;
  const c = await code();
  const wrongSecret = await token({ client_secret: "x", code: c, grant_type: "authorization_code" });
  strictEqual(wrongSecret.status, 400);
  const exchanged = await token({ code: c, grant_type: "authorization_code" });
  strictEqual(exchanged.status, 200);
  deepStrictEqual(Object.keys(exchanged.body), [
    "token_type",
    "expires_at",
    "expires_in",
    "refresh_token",
    "access_token",
    "athlete",
  ]);
  strictEqual(exchanged.body.expires_at, Math.floor(clock.now() / 1000) + 21600);
  strictEqual((exchanged.body.athlete as Json).id, Number(sim.truth.athleteId));
  const reused = await token({ code: c, grant_type: "authorization_code" });
  strictEqual(reused.status, 400);
  deepStrictEqual(reused.body.errors, [{ resource: "RequestToken", field: "code", code: "invalid" }]);
});

Deno.test("sim: OAuth refresh rotates both tokens, the old refresh token dies, revocation kills the rest", async () => {
  const { sim, token, code } = await oauthSim();
  await using _ = sim;
  const c = await code();
  const exchanged = await token({ code: c, grant_type: "authorization_code" });
  const refresh1 = exchanged.body.refresh_token as string;
  const rotated = await token({ grant_type: "refresh_token", refresh_token: refresh1 });
  strictEqual(rotated.status, 200);
  ok(!("athlete" in rotated.body));
  notDeepStrictEqual(rotated.body.refresh_token, refresh1);
  notDeepStrictEqual(rotated.body.access_token, exchanged.body.access_token);
  const old = await token({ grant_type: "refresh_token", refresh_token: refresh1 });
  strictEqual(old.status, 400);
  deepStrictEqual(old.body.errors, [{ resource: "RefreshToken", field: "refresh_token", code: "invalid" }]);
  strictEqual(sim.validRefreshTokens(), 1);
  strictEqual((await get(sim, "/athlete", rotated.body.access_token as string)).status, 200);

  sim.revokeRefreshTokens();
  const revoked = await token({ grant_type: "refresh_token", refresh_token: rotated.body.refresh_token as string });
  strictEqual(revoked.status, 400);

  // No secret, code or token is recorded in the request log.
  const log = JSON.stringify(sim.requests);
  for (const secret of [c, "s3cret", refresh1, exchanged.body.access_token as string]) ok(!log.includes(secret));
});

/** POST /oauth/revoke with `form`, and Basic credentials when given. */
async function revoke(sim: StravaSimulator, form: Record<string, string>, basic?: string, query = "") {
  const headers: Record<string, string> = basic === undefined ? {} : { Authorization: `Basic ${btoa(basic)}` };
  const res = await fetch(`${sim.oauthUrl}/revoke${query}`, {
    method: "POST",
    headers,
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: JSON.parse(await res.text()) as Json };
}

Deno.test("sim: oauth/revoke needs Basic client credentials, takes either token and revokes the pair", async () => {
  const { sim, token, code } = await oauthSim();
  await using _ = sim;
  const pair = (await token({ code: await code(), grant_type: "authorization_code" })).body;
  const refresh = pair.refresh_token as string;
  const access = pair.access_token as string;
  // Without Basic credentials, or with the secret in the form as oauth/token takes it: 401.
  strictEqual((await revoke(sim, { token: refresh })).status, 401);
  const posted = await revoke(sim, { token: refresh, client_id: "777", client_secret: "s3cret" });
  strictEqual(posted.status, 401);
  deepStrictEqual(posted.body, {
    message: "Authorization Error",
    errors: [{ resource: "Application", field: "client_id", code: "invalid" }],
  });
  strictEqual((await revoke(sim, { token: refresh }, "777:wrong")).status, 401);
  strictEqual((await revoke(sim, {}, "777:s3cret")).status, 400);
  strictEqual((await revoke(sim, { token: refresh, token_type_hint: "id_token" }, "777:s3cret")).status, 400);
  strictEqual((await revoke(sim, {}, "777:s3cret", `?token=${refresh}`)).status, 400, "no token in the query");
  strictEqual(sim.validRefreshTokens(), 1, "nothing was revoked by a refused request");

  const done = await revoke(sim, { token: refresh, token_type_hint: "refresh_token" }, "777:s3cret");
  strictEqual(done.status, 200);
  deepStrictEqual(done.body, {});
  strictEqual(sim.validRefreshTokens(), 0);
  strictEqual((await get(sim, "/athlete", access)).status, 401, "revoking the refresh token revokes its access token");
  const again = await revoke(sim, { token: refresh }, "777:s3cret");
  strictEqual(again.status, 400);
  deepStrictEqual(again.body, {
    message: "Bad Request",
    errors: [{ resource: "Token", field: "token", code: "invalid" }],
  });

  // An access token revokes its refresh token too.
  const second = (await token({ code: await code(), grant_type: "authorization_code" })).body;
  strictEqual((await revoke(sim, { token: second.access_token as string }, "777:s3cret")).status, 200);
  const dead = await token({ grant_type: "refresh_token", refresh_token: second.refresh_token as string });
  strictEqual(dead.status, 400);
  const log = JSON.stringify(sim.requests);
  for (const secret of ["s3cret", refresh, access]) ok(!log.includes(secret));
});

Deno.test("sim: an access token in the query or a form body is refused (401), even beside a valid header", async () => {
  await using sim = await StravaSimulator.start({ seed: 3 });
  const { access_token } = sim.issueTokens();
  const inQuery = await get(sim, `/athlete?access_token=${access_token}`, access_token);
  strictEqual(inQuery.status, 401);
  deepStrictEqual(JSON.parse(inQuery.text).errors, [
    { resource: "Application", field: "access_token", code: "not_in_header" },
  ]);
  const inBody = await fetch(`${sim.oauthUrl}/deauthorize`, {
    method: "POST",
    body: new URLSearchParams({ access_token }),
  });
  await inBody.body?.cancel();
  strictEqual(inBody.status, 401);
  const apiBody = await fetch(`${sim.apiUrl}/athlete`, { method: "POST", body: new URLSearchParams({ access_token }) });
  await apiBody.body?.cancel();
  strictEqual(apiBody.status, 401);
  deepStrictEqual(sim.requests.map((r) => r.tokenOutsideHeader), ["query", "body", "body"]);
  strictEqual((await get(sim, "/athlete", access_token)).status, 200, "the header alone is accepted");
});
