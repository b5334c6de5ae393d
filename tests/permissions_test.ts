/**
 * The permissions are one list (lib/permissions.ts): the deno.json tasks, the compiled binaries'
 * arguments and the tests' subprocesses all grant exactly it, and the backfill scripts reach
 * both of Strava's API hosts under it. The new host is tried through a proxy on a closed
 * loopback port (Deno checks --allow-net against the real host before it uses the proxy), so
 * nothing leaves 127.0.0.1 and no name is resolved.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { BACKFILL_HOSTS, denoRunArgs, PERMISSIONS, type ScriptName, SETUP_AUTH_HOSTS } from "../lib/permissions.ts";
import { DEFAULT_API_URL, NEW_API_URL, STRAVA_API_HOSTS } from "../lib/config.ts";
import { ROOT, runScript, scriptWorld } from "./helpers.ts";

const SCRIPTS = Object.keys(PERMISSIONS) as ScriptName[];
const BACKFILL_SCRIPTS: ScriptName[] = ["incremental_backfill", "manage_backfill"];

/** The hosts of a script's --allow-net flag (none without one). */
function netHosts(flags: readonly string[]): string[] {
  return flags.find((f) => f.startsWith("--allow-net="))?.slice("--allow-net=".length).split(",") ?? [];
}

Deno.test("permissions: the backfill scripts may reach both of Strava's API hosts, setup_auth only the OAuth host", () => {
  deepStrictEqual([...STRAVA_API_HOSTS], ["www.strava.com", "api-v3.strava.com", "www.api-v3.strava.com"]);
  for (const script of BACKFILL_SCRIPTS) deepStrictEqual(netHosts(PERMISSIONS[script]), [...BACKFILL_HOSTS], script);
  deepStrictEqual([...BACKFILL_HOSTS], [...STRAVA_API_HOSTS]);
  deepStrictEqual(netHosts(PERMISSIONS.setup_auth), [...SETUP_AUTH_HOSTS]);
  deepStrictEqual([...SETUP_AUTH_HOSTS], ["www.strava.com", "127.0.0.1", "localhost"]);
  for (const script of ["update_schema", "import_archive"] as const) deepStrictEqual(netHosts(PERMISSIONS[script]), []);
  strictEqual(new URL(DEFAULT_API_URL).hostname, "www.strava.com", "the default stays on the old host");
  ok(STRAVA_API_HOSTS.includes(new URL(NEW_API_URL).hostname));
});

Deno.test("deno.json tasks run each script with exactly its permissions, and none grants all", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const tasks = Object.entries(config.tasks as Record<string, string | { command: string }>)
    .map(([name, t]) => [name, typeof t === "string" ? t : t.command] as const);
  const seen = new Set<string>();
  for (const [name, command] of tasks) {
    ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(command), `task ${name} grants all permissions`);
    const match = command.match(/deno run (.*?)\s*scripts\/(\w+)\.ts/);
    if (!match) continue;
    const flags = match[1].split(/\s+/).filter((f) => f.startsWith("--allow"));
    strictEqual(flags.join(" "), PERMISSIONS[match[2] as ScriptName].join(" "), `task ${name}`);
    seen.add(match[2]);
  }
  for (const script of ["incremental_backfill", "manage_backfill", "setup_auth"]) ok(seen.has(script), script);
});

Deno.test("docs/permissions.md names each binary's exact flags", async () => {
  const doc = await Deno.readTextFile(`${ROOT}docs/permissions.md`);
  for (const script of SCRIPTS) ok(doc.includes(`\`${PERMISSIONS[script].join(" ")}\``), script);
});

Deno.test("compile: one binary per script, with exactly the permissions the tests run it under", async () => {
  const { compileArgs } = await import("../tools/compile.ts");
  for (const script of SCRIPTS) {
    const args = compileArgs(script);
    strictEqual(args[0], "compile");
    deepStrictEqual(args.filter((a) => a.startsWith("--allow")), [...PERMISSIONS[script]]);
    ok(args.includes(`${ROOT}dist/${script}`), args.join(" "));
    strictEqual(args.at(-1), `${ROOT}scripts/${script}.ts`);
  }
});

Deno.test("tests run each script under exactly its binary's flags, the simulator's address added to --allow-net", () => {
  for (const script of SCRIPTS) {
    const plain = denoRunArgs(script, ["--help"]);
    deepStrictEqual(plain.filter((a) => a.startsWith("--allow")), [...PERMISSIONS[script]], script);
    const withSim = denoRunArgs(script, [], ["127.0.0.1:4242"]).filter((a) => a.startsWith("--allow"));
    const hosts = netHosts(withSim);
    deepStrictEqual(hosts, [...netHosts(PERMISSIONS[script]), "127.0.0.1:4242"], script);
    deepStrictEqual(
      withSim.filter((a) => !a.startsWith("--allow-net")),
      PERMISSIONS[script].filter((a) => !a.startsWith("--allow-net")),
    );
  }
});

/** A loopback port nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("new API host: each backfill script under its binary's flags fails for the network, never for a permission", async () => {
  await using world = await scriptWorld({ seed: 20, activities: 3, segments: 3 });
  const proxy = `http://127.0.0.1:${closedPort()}`;
  const runs: [ScriptName, string[], string][] = [
    ["incremental_backfill", ["--mode", "activities"], NEW_API_URL],
    // Each run on its own database: one folder's runs on one database wait for each other.
    ["manage_backfill", ["--mode", "one-time", "--db", "data/b.db"], NEW_API_URL],
    ["incremental_backfill", ["--mode", "activities", "--db", "data/c.db"], "https://www.api-v3.strava.com"],
  ];
  for (const db of ["b", "c"]) {
    await Deno.copyFile(`${world.dir.path}/data/segments.db`, `${world.dir.path}/data/${db}.db`);
  }
  const results = await Promise.all(runs.map(([script, args, apiUrl]) =>
    runScript(script, args, {
      cwd: world.dir.path,
      // No `hosts`: exactly the binary's --allow-net. STRAVA_OAUTH_URL is left at its default.
      env: { STRAVA_ACCESS_TOKEN: "token-for-the-new-host", STRAVA_API_URL: apiUrl, HTTPS_PROXY: proxy },
    })
  ));
  for (const [i, r] of results.entries()) {
    const what = `${runs[i][0]} on ${runs[i][2]}`;
    strictEqual(r.code, 1, `${what}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    strictEqual(lines.length, 1, `${what}: ${r.stderr}`);
    ok(/^error: could not reach Strava .*network error: .*Connection refused/.test(lines[0]), `${what}: ${lines[0]}`);
    ok(!/Requires net access|--allow-net|permission/i.test(r.stderr), `${what}: ${r.stderr}`);
  }
  strictEqual(world.sim.requests.length, 0, "nothing reached the simulator");
});
