/**
 * `deno task demo`: the whole job on a machine with no Strava account. Starts the built-in
 * Strava simulator, writes the simulated athlete's bulk export to demo/export.zip, and runs the
 * real scripts, each under the permissions its binary gets (plus the simulator's address):
 * update_schema --create, import_archive, manage_backfill --mode one-time, and the stats with
 * the HTML report (demo/report.html).
 *
 * The simulated app has raised rate limits (the tool reads them from Strava's headers, as it
 * would for a real app with raised limits), so the demo finishes in seconds instead of days.
 */
import { denoRunArgs, PROJECT_ROOT, type ScriptName } from "../lib/permissions.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { generateArchive } from "../lib/testing/sim_archive.ts";
import { writeExportZip } from "../lib/testing/archive_gen.ts";

const DEMO_DIR = `${PROJECT_ROOT}demo`;

async function run(sim: StravaSimulator, script: ScriptName, args: string[]): Promise<void> {
  console.log(`\n$ ${script}.ts ${args.join(" ")}`);
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "NO_COLOR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  // "deno" from PATH (as `deno task` found it), so the demo needs only --allow-run=deno.
  const status = await new Deno.Command("deno", {
    args: denoRunArgs(script, args, [sim.host]),
    cwd: DEMO_DIR,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`${script}.ts exited with ${status.code}`);
}

const started = performance.now();
await Deno.remove(DEMO_DIR, { recursive: true }).catch(() => {});
await Deno.mkdir(DEMO_DIR, { recursive: true });

await using sim = await StravaSimulator.start({
  seed: 2026,
  activities: 150,
  segments: 80,
  limits: { read15: 1000, readDay: 10000, all15: 2000, allDay: 20000 },
});
console.log(`Strava simulator on ${sim.host}: ${sim.truth.activities.length} activities`);

await writeExportZip(`${DEMO_DIR}/export.zip`, {
  csv: generateArchive(sim.truth, { headerVersion: 2026 }),
  fillerBytes: 2_000_000,
});
// What setup_auth.ts would leave behind: the app's credentials and a refresh token.
const tokens = sim.issueTokens("read,activity:read_all");
await Deno.writeTextFile(
  `${DEMO_DIR}/.env`,
  [
    `STRAVA_CLIENT_ID=12345`,
    `STRAVA_CLIENT_SECRET=sim-secret`,
    `STRAVA_REFRESH_TOKEN=${tokens.refresh_token}`,
    `STRAVA_API_URL=${sim.apiUrl}`,
    `STRAVA_OAUTH_URL=${sim.oauthUrl}`,
    "",
  ].join("\n"),
  { mode: 0o600 },
);
console.log("wrote demo/export.zip (the athlete's bulk export) and demo/.env (app credentials, refresh token)");

await run(sim, "update_schema", ["--create"]);
await run(sim, "import_archive", ["export.zip"]);
await run(sim, "manage_backfill", ["--mode", "one-time", "--activities", "100", "--segments", "100"]);
// The stats, and the HTML report of the result (open demo/report.html in a browser).
await run(sim, "manage_backfill", ["--mode", "stats", "--html", "report.html"]);

const api = sim.requests.filter((r) => r.path.startsWith("/api/"));
console.log(
  `\ndemo done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${api.length} API requests, ` +
    `${sim.requests.filter((r) => r.status === 429).length} answered 429. Files are in demo/.`,
);
