import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { RuntimeError, UsageError } from "../lib/errors.ts";
import {
  blamesClient,
  buildAuthorizeUrl,
  checkOAuthUrl,
  exchangeCode,
  GrantRejectedError,
  normalizeScope,
  refreshTokens,
  revokeToken,
  validateCallback,
} from "../lib/strava/oauth.ts";
import { basicCredentials } from "../lib/testing/sim_http.ts";
import { CLIENT, ERRORS, FIXTURES, json, OAUTH } from "./token_helpers.ts";

Deno.test("oauth: authorize URL has Strava's parameters and comma-separated scopes", () => {
  const url = buildAuthorizeUrl({
    oauthUrl: "https://www.strava.com/oauth",
    clientId: "12345",
    redirectUri: "http://localhost:8721/callback",
    scope: normalizeScope(" read, activity:read_all ,read "),
    state: "st",
  });
  strictEqual(url.origin + url.pathname, "https://www.strava.com/oauth/authorize");
  deepStrictEqual(Object.fromEntries(url.searchParams), {
    client_id: "12345",
    redirect_uri: "http://localhost:8721/callback",
    response_type: "code",
    approval_prompt: "auto",
    scope: "read,activity:read_all",
    state: "st",
  });
});

Deno.test("oauth: plain http is refused except on loopback", () => {
  checkOAuthUrl("https://www.strava.com/oauth");
  checkOAuthUrl("http://127.0.0.1:5000/oauth");
  checkOAuthUrl("http://localhost:5000/oauth");
  throws(() => checkOAuthUrl("http://strava.example/oauth"), UsageError);
  throws(() => checkOAuthUrl("not a url"), UsageError);
});

Deno.test("oauth: the callback state is checked; errors and scope are read", () => {
  const check = (q: string, state?: string) => validateCallback(OAUTH, "12345", new URLSearchParams(q), state);
  strictEqual(check("code=c&scope=read&state=good", "good").kind, "code");
  strictEqual(check("code=c&scope=read&state=bad", "good").kind, "invalid");
  strictEqual(check("code=c&scope=read", "good").kind, "invalid");
  strictEqual(check("state=good", "good").kind, "invalid");
  // A forged denial with the wrong state does not end the flow either.
  strictEqual(check("error=access_denied&state=bad", "good").kind, "invalid");
  deepStrictEqual(check("error=access_denied&state=good", "good"), {
    kind: "error",
    error: "access_denied",
    description: undefined,
  });
  const ok1 = check("code=c&scope=read,activity:read&state=good", "good");
  strictEqual(ok1.kind === "code" && ok1.scope, "read,activity:read");
  strictEqual(check("code=c&state=whatever", undefined).kind, "code"); // --code: state unknowable
});

Deno.test("oauth: code exchange posts client_secret_post and reads Strava's answer (fixture)", async () => {
  const fixture = FIXTURES.authorization_code_exchange;
  let sent: URLSearchParams | undefined;
  let url = "";
  const fakeFetch = (input: string | URL | Request, init?: RequestInit) => {
    url = String(input);
    sent = new URLSearchParams(String(init?.body));
    return Promise.resolve(json(200, fixture.body));
  };
  const params = validateCallback(OAUTH, "12345", new URLSearchParams("code=deadbeef&state=s"), "s");
  ok(params.kind === "code");
  const issued = await exchangeCode({ ...CLIENT, fetch: fakeFetch }, params.params, "http://localhost:1/callback");
  strictEqual(url, `${OAUTH}/token`);
  strictEqual(sent?.get("grant_type"), "authorization_code");
  strictEqual(sent?.get("code"), "deadbeef");
  strictEqual(sent?.get("client_id"), "12345");
  strictEqual(sent?.get("client_secret"), CLIENT.clientSecret);
  strictEqual(sent?.get("code_verifier"), null);
  deepStrictEqual(issued, {
    accessToken: fixture.body.access_token,
    refreshToken: fixture.body.refresh_token,
    expiresAt: fixture.body.expires_at,
    athleteId: 12342176n,
    athleteName: "Daniel Block",
  });
});

Deno.test("oauth: refresh answer without athlete (fixture); rejections and failures are typed, tokenless", async () => {
  const fixture = FIXTURES.refresh_token_grant;
  const answer = (r: Response | Error) => () => r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  const refresh = (r: Response | Error) => refreshTokens({ ...CLIENT, fetch: answer(r) }, "old-refresh-SECRET");
  deepStrictEqual(await refresh(json(200, fixture.body)), {
    accessToken: "new-access-token",
    refreshToken: "new-refresh-token",
    expiresAt: fixture.body.expires_at,
  });
  const noSecrets = (err: unknown) => {
    const text = `${(err as Error).message} ${(err as Error).stack}`;
    ok(!text.includes("SECRET") && !text.includes(CLIENT.clientSecret) && !text.includes("leaked"), text);
    return true;
  };
  const badRefresh = { message: "Bad Request", errors: [{ resource: "RefreshToken", field: "refresh_token" }] };
  await rejects(refresh(json(400, badRefresh)), (e) => e instanceof GrantRejectedError && e.rejected === "grant");
  await rejects(refresh(json(401, ERRORS["401_authorization_error"].body)), (e) => e instanceof GrantRejectedError);
  await rejects(
    refresh(json(400, ERRORS["400_token_invalid_client"].body)),
    (e) => e instanceof GrantRejectedError && e.rejected === "client" && /STRAVA_CLIENT_SECRET/.test(e.message),
  );
  await rejects(refresh(json(503, { message: "down" })), (e) => e instanceof RuntimeError && noSecrets(e));
  await rejects(refresh(new TypeError("connection refused")), (e) => e instanceof RuntimeError && noSecrets(e));
  await rejects(
    refresh(json(200, { token_type: "Bearer", access_token: "leaked", expires_at: 1 })),
    (e) => e instanceof RuntimeError && noSecrets(e),
  );
  await rejects(
    refresh(new Response("<html>", { status: 200, headers: { "content-type": "text/html" } })),
    (e) => e instanceof RuntimeError && noSecrets(e),
  );
  ok(blamesClient(JSON.stringify(ERRORS["400_token_invalid_client"].body)));
  ok(!blamesClient(JSON.stringify(ERRORS["400_token_invalid_code"].body)));
  ok(!blamesClient("not json"));
});

Deno.test("oauth: a token endpoint that never answers times out as a RuntimeError", async () => {
  const hang = (_: unknown, init?: RequestInit) =>
    new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)));
  await rejects(
    refreshTokens({ ...CLIENT, fetch: hang, timeoutMs: 20 }, "r"),
    (e) => e instanceof RuntimeError && /no answer within/.test(e.message),
  );
});

Deno.test("oauth: revoke sends Basic client credentials and the token in the form; only an answer naming the token is 'already invalid'", async () => {
  const sent: Request[] = [];
  const answer = (r: Response | Error) => (input: RequestInfo | URL, init?: RequestInit) => {
    sent.push(new Request(input, init));
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  };
  const revoke = (r: Response | Error) =>
    revokeToken({ ...CLIENT, fetch: answer(r) }, "refresh-tok-xyz", "refresh_token");
  strictEqual(await revoke(new Response(null, { status: 200 })), "revoked");
  const request = sent[0];
  strictEqual(request.method, "POST");
  strictEqual(request.url, `${OAUTH}/revoke`);
  // RFC 6749 2.3.1: id and secret form-urlencoded, then Basic (Strava's are digits and hex, unchanged by it).
  ok(request.headers.get("authorization")?.startsWith("Basic "));
  deepStrictEqual(basicCredentials(request), { id: CLIENT.clientId, secret: CLIENT.clientSecret });
  const form = new URLSearchParams(await request.text());
  deepStrictEqual([...form.keys()].sort(), ["token", "token_type_hint"]);
  strictEqual(form.get("token"), "refresh-tok-xyz");
  strictEqual(form.get("token_type_hint"), "refresh_token");
  strictEqual(new URL(request.url).search, "", "no token in the query");

  const tokenInvalid = { message: "Bad Request", errors: [{ resource: "Token", field: "token", code: "invalid" }] };
  strictEqual(await revoke(json(400, tokenInvalid)), "already_invalid");
  strictEqual(await revoke(json(400, { error: "invalid_token" })), "already_invalid");
  const noSecrets = (err: unknown) =>
    !`${(err as Error).message}`.includes("tok-xyz") && !`${(err as Error).message}`.includes(CLIENT.clientSecret);
  // A 401 that does not name the token (the recorded "Authorization Error", or naming the client) is the client's.
  for (const body of [ERRORS["401_authorization_error"].body, { message: "x", errors: [{ field: "client_id" }] }]) {
    await rejects(
      revoke(json(401, body)),
      (e) => e instanceof GrantRejectedError && e.rejected === "client" && noSecrets(e),
    );
  }
  await rejects(revoke(json(400, { message: "Bad Request", errors: [] })), (e) => e instanceof RuntimeError);
  await rejects(revoke(json(503, { message: "down" })), (e) => e instanceof RuntimeError && noSecrets(e));
  await rejects(
    revoke(new TypeError("connection refused")),
    (e) => e instanceof RuntimeError && /could not reach Strava's revoke endpoint/.test(e.message) && noSecrets(e),
  );
});
