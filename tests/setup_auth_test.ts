/**
 * setup_auth.ts end to end: the script runs as a subprocess under its binary's permissions
 * against the Strava simulator, and the test plays the browser (follows the authorize URL the
 * script prints, then calls the callback the simulator redirects to).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { openDatabase } from "../lib/store/db.ts";
import { main } from "../scripts/setup_auth.ts";
import { openMigrated } from "../lib/store/open.ts";
import { readDatabaseTokens, readTokensFile } from "../lib/strava/token_store.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { baseEnv, ROOT, type ScriptResult, spawnScript, tempDir } from "./helpers.ts";

const CLIENT_SECRET = "sim-secret";

function simEnv(sim: StravaSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    STRAVA_CLIENT_ID: "12345",
    STRAVA_CLIENT_SECRET: CLIENT_SECRET,
    STRAVA_OAUTH_URL: sim.oauthUrl,
    STRAVA_API_URL: sim.apiUrl,
    ...extra,
  };
}

/** A running setup_auth: its printed authorize URL, and its result once it ends. */
interface Running {
  authorizeUrl: URL;
  finish(): Promise<ScriptResult>;
}

/** Spawns setup_auth and reads its stdout until it prints the authorize URL. */
async function startSetupAuth(args: string[], cwd: string, sim: StravaSimulator): Promise<Running> {
  const child = spawnScript("setup_auth", ["--no-browser", ...args], { cwd, env: simEnv(sim), hosts: [sim.host] });
  let stdout = "";
  let found!: (url: URL | null) => void;
  const urlFound = new Promise<URL | null>((resolve) => found = resolve);
  const readOut = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += chunk;
      const match = stdout.match(/^\s+(http\S+\/authorize\?\S+)$/m);
      if (match) found(new URL(match[1]));
    }
    found(null);
  })();
  const readErr = new Response(child.stderr).text();
  const finish = async (): Promise<ScriptResult> => {
    const [status, stderr] = await Promise.all([child.status, readErr, readOut]);
    return { code: status.code, stdout, stderr };
  };
  const authorizeUrl = await urlFound;
  if (!authorizeUrl) {
    const r = await finish();
    throw new Error(`setup_auth printed no authorize URL (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { authorizeUrl, finish };
}

/** The browser: open the authorize URL at the simulator, get the redirect (Location) back. */
async function authorize(url: URL): Promise<URL> {
  const response = await fetch(url, { redirect: "manual" });
  await response.body?.cancel();
  strictEqual(response.status, 302, `authorize answered ${response.status}`);
  return new URL(response.headers.get("location")!);
}

/** The browser following the redirect to the callback (the test may only reach 127.0.0.1, not "localhost"). */
async function callback(location: URL): Promise<{ status: number; text: string }> {
  const url = new URL(location);
  url.hostname = "127.0.0.1";
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

/** Asserts none of `secrets` appears in the script's output. */
function assertNoSecrets(result: ScriptResult, secrets: (string | null | undefined)[]): void {
  const output = result.stdout + result.stderr;
  for (const secret of secrets) {
    if (secret) ok(!output.includes(secret), `a secret (${secret.slice(0, 4)}…) appears in the output:\n${output}`);
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("setup_auth: the browser flow stores working tokens in the database and tokens.json (0600)", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  openMigrated(`${dir.path}/data/segments.db`, { create: true }).close();
  const port = freePort();
  const run = await startSetupAuth(["--port", String(port)], dir.path, sim);
  const q = run.authorizeUrl.searchParams;
  strictEqual(run.authorizeUrl.origin + run.authorizeUrl.pathname, `${sim.oauthUrl}/authorize`);
  strictEqual(q.get("client_id"), "12345");
  strictEqual(q.get("redirect_uri"), `http://localhost:${port}/callback`);
  strictEqual(q.get("response_type"), "code");
  strictEqual(q.get("approval_prompt"), "auto");
  strictEqual(q.get("scope"), "read,activity:read_all");
  ok((q.get("state") ?? "").length >= 20, "a random state");

  const location = await authorize(run.authorizeUrl);
  const code = location.searchParams.get("code");
  const page = await callback(location);
  const result = await run.finish();
  strictEqual(result.code, 0, result.stderr);
  strictEqual(page.status, 200);
  ok(page.text.includes("authorized"), page.text);
  ok(result.stdout.includes(`Authorized Strava athlete ${sim.truth.athleteId}`), result.stdout);
  ok(result.stdout.includes("data/segments.db and tokens.json"), result.stdout);
  strictEqual(result.stderr, "");

  const db = openDatabase(`${dir.path}/data/segments.db`);
  try {
    const [row] = readDatabaseTokens(db);
    const file = readTokensFile(`${dir.path}/tokens.json`)!;
    strictEqual(row.athleteId, sim.truth.athleteId);
    strictEqual(row.scope, "read,activity:read_all");
    strictEqual(row.refreshToken, file.refreshToken);
    strictEqual(row.accessToken, file.accessToken);
    strictEqual(file.athleteId, sim.truth.athleteId);
    strictEqual((await Deno.stat(`${dir.path}/tokens.json`)).mode! & 0o777, 0o600);
    // The stored access token works against the API.
    const api = await fetch(`${sim.apiUrl}/athlete`, { headers: { authorization: `Bearer ${row.accessToken}` } });
    await api.body?.cancel();
    strictEqual(api.status, 200);
    assertNoSecrets(result, [row.accessToken, row.refreshToken, code, CLIENT_SECRET]);
  } finally {
    db.close();
  }
  deepStrictEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["data", "tokens.json"]);
});

Deno.test("setup_auth: a forged or stale callback gets a 4xx, no exchange, and the flow keeps waiting", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  const run = await startSetupAuth(["--port", "0"], dir.path, sim);
  const location = await authorize(run.authorizeUrl);
  const forged = new URL(location);
  forged.searchParams.set("state", "forged-state");
  const stale = new URL(location);
  stale.searchParams.delete("state");
  for (const bad of [forged, stale]) {
    const page = await callback(bad);
    ok(page.status >= 400 && page.status < 500, `status ${page.status}`);
  }
  // A forged denial does not end the flow either.
  const forgedDenial = new URL(location);
  forgedDenial.search = "?state=forged&error=access_denied";
  strictEqual((await callback(forgedDenial)).status, 400);
  strictEqual(sim.requests.filter((r) => r.path === "/oauth/token").length, 0, "no exchange for a forged callback");

  strictEqual((await callback(location)).status, 200);
  const result = await run.finish();
  strictEqual(result.code, 0, result.stderr);
  strictEqual(sim.requests.filter((r) => r.path === "/oauth/token").length, 1);
  ok(result.stderr.includes("does not belong to this run"), result.stderr);
  assertNoSecrets(result, [location.searchParams.get("code"), CLIENT_SECRET]);
  ok(readTokensFile(`${dir.path}/tokens.json`));
});

Deno.test("setup_auth: access denied ends with exit 3 and a clear message, storing nothing", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  sim.setConsent({ deny: true });
  const run = await startSetupAuth(["--port", "0"], dir.path, sim);
  const location = await authorize(run.authorizeUrl);
  strictEqual(location.searchParams.get("error"), "access_denied");
  const page = await callback(location);
  const result = await run.finish();
  strictEqual(result.code, 3, result.stderr);
  strictEqual(page.status, 403);
  ok(/denied/.test(result.stderr) && /setup_auth/.test(result.stderr), result.stderr);
  strictEqual(result.stderr.trim().split("\n").length, 1, result.stderr);
  deepStrictEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("setup_auth: without activity:read_all it warns that private activities will be skipped", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  sim.setConsent({ scope: "read,activity:read" });
  const run = await startSetupAuth(["--port", "0", "--scope", "read,activity:read,activity:read_all"], dir.path, sim);
  const location = await authorize(run.authorizeUrl);
  await callback(location);
  const result = await run.finish();
  strictEqual(result.code, 0, result.stderr);
  ok(/activity:read_all was not granted: private activities will be skipped/.test(result.stderr), result.stderr);
  strictEqual(readTokensFile(`${dir.path}/tokens.json`)!.scope, "read,activity:read");
  ok(result.stdout.includes("granted scope: read,activity:read."), result.stdout);
});

Deno.test("setup_auth: granting only read warns that activities cannot be read", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  sim.setConsent({ scope: "read" });
  const run = await startSetupAuth(["--port", "0"], dir.path, sim);
  await callback(await authorize(run.authorizeUrl));
  const result = await run.finish();
  strictEqual(result.code, 0, result.stderr);
  ok(/neither activity:read_all nor activity:read was granted/.test(result.stderr), result.stderr);
});

Deno.test("setup_auth: --code finishes a flow whose redirect could not reach this machine", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  // The browser on another machine: authorize there, the redirect to localhost fails, the user copies the address.
  const start = new URL(`${sim.oauthUrl}/authorize`);
  start.search = new URLSearchParams({
    client_id: "12345",
    redirect_uri: "http://localhost:8721/callback",
    response_type: "code",
    scope: "read,activity:read_all",
    state: "from-the-first-run",
  }).toString();
  const location = await authorize(start);
  const env = simEnv(sim);
  const withAddress = spawnScript("setup_auth", ["--code", location.href], { cwd: dir.path, env, hosts: [sim.host] });
  const r1 = await collect(withAddress);
  strictEqual(r1.code, 0, r1.stderr);
  strictEqual(readTokensFile(`${dir.path}/tokens.json`)!.scope, "read,activity:read_all");
  ok(r1.stdout.includes("granted scope: read,activity:read_all"), r1.stdout);
  ok(r1.stdout.includes("does not exist yet"), "no database: tokens.json only, and it says so");
  ok(!Deno.statSync(`${dir.path}/tokens.json`).isDirectory);
  strictEqual([...Deno.readDirSync(dir.path)].length, 1, "no database was created");

  // A bare code works too (scope unknown), and a used code is refused with exit 3.
  const second = await authorize(start);
  const bare = second.searchParams.get("code")!;
  const r2 = await collect(spawnScript("setup_auth", ["--code", bare], { cwd: dir.path, env, hosts: [sim.host] }));
  strictEqual(r2.code, 0, r2.stderr);
  ok(r2.stderr.includes("granted scope is unknown"), r2.stderr);
  const r3 = await collect(spawnScript("setup_auth", ["--code", bare], { cwd: dir.path, env, hosts: [sim.host] }));
  strictEqual(r3.code, 3, r3.stderr);
  ok(/authorization code/.test(r3.stderr) && /setup_auth/.test(r3.stderr), r3.stderr);
  const file = readTokensFile(`${dir.path}/tokens.json`)!;
  for (const r of [r1, r2, r3]) {
    assertNoSecrets(r, [bare, location.searchParams.get("code"), file.accessToken, file.refreshToken, CLIENT_SECRET]);
  }
});

Deno.test("setup_auth: missing client id/secret is exit 3 naming where they come from", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/.env`, "STRAVA_CLIENT_ID=12345\n");
  const r = await collect(spawnScript("setup_auth", ["--no-browser"], { cwd: dir.path }));
  strictEqual(r.code, 3, r.stderr);
  ok(r.stderr.includes("STRAVA_CLIENT_SECRET") && !r.stderr.includes("STRAVA_CLIENT_ID and"), r.stderr);
  ok(r.stderr.includes("https://www.strava.com/settings/api"), r.stderr);
  strictEqual(r.stderr.trim().split("\n").length, 1);
});

Deno.test("setup_auth: gives up after --timeout with a clear message; a busy port is exit 2", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  const run = await startSetupAuth(["--port", "0", "--timeout", "1"], dir.path, sim);
  const result = await run.finish();
  strictEqual(result.code, 3, result.stderr);
  ok(/no authorization arrived within 1 second/.test(result.stderr), result.stderr);

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = String((listener.addr as Deno.NetAddr).port);
    const env = simEnv(sim);
    const r = await collect(spawnScript("setup_auth", ["--no-browser", "--port", port], { cwd: dir.path, env }));
    strictEqual(r.code, 2, r.stderr);
    ok(r.stderr.includes(`port ${port} is already in use`), r.stderr);
  } finally {
    listener.close();
  }
});

Deno.test("setup_auth: a file that is not a database is refused before anything is authorized", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/junk.db`, "not sqlite");
  const env = simEnv(sim);
  const r = await collect(spawnScript("setup_auth", ["--no-browser", "--db", "junk.db"], { cwd: dir.path, env }));
  strictEqual(r.code, 2, r.stderr);
  ok(r.stderr.includes("not a SQLite database"), r.stderr);
  strictEqual(r.stdout, "");
});

async function collect(child: Deno.ChildProcess): Promise<ScriptResult> {
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("setup_auth (in process): the browser is opened with the printed URL; failing to open one is not an error", async () => {
  await using sim = await StravaSimulator.start();
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/.env`, "");
  const out: string[] = [];
  const err: string[] = [];
  let browsing: Promise<void> | undefined;
  let opened = "";
  const code = await main(
    ["--port", "0", "--env", `${dir.path}/.env`, "--db", `${dir.path}/none.db`, "--tokens", `${dir.path}/t.json`],
    {
      getEnv: (name) => simEnv(sim)[name],
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      openBrowser: (url) => {
        opened = url;
        // The "browser" goes on by itself, as a real one would; the launcher reports failure.
        browsing = authorize(new URL(url)).then(callback).then(() => {});
        return Promise.resolve(false);
      },
    },
  );
  await browsing;
  strictEqual(code, 0);
  ok(out.some((line) => line.trim() === opened), "the opened URL is the printed one");
  ok(err.includes("could not open a browser; open the URL above yourself"), err.join("\n"));
  strictEqual((await Deno.stat(`${dir.path}/t.json`)).mode! & 0o777, 0o600);
});

Deno.test("deno task auth on a machine without xdg-open or open: no 'Failed to resolve' noise from Deno", async () => {
  await using bin = await tempDir(); // PATH holds neither launcher
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", `--config=${ROOT}deno.json`, "auth", "--help"],
    env: { ...baseEnv(), PATH: bin.path },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [out, err] = [new TextDecoder().decode(stdout), new TextDecoder().decode(stderr)];
  strictEqual(code, 0, err);
  ok(out.startsWith("Usage: setup_auth.ts"), out);
  ok(!/Failed to resolve/.test(err), err);
  // What is left on stderr is deno task's own echo of the command.
  deepStrictEqual(err.trim().split("\n").filter((line) => !line.startsWith("Task auth ")), []);
});
