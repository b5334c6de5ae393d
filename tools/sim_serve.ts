/**
 * `deno task sim`: runs the Strava simulator in the foreground for trying the tool by hand,
 * and prints the settings that point the scripts at it. Ctrl-C stops it.
 *
 *   deno task sim [--activities N] [--segments N] [--read15 N] [--read-day N] [--seed N] [--export PATH]
 *
 * `--export PATH` also writes the simulated athlete's bulk export (a .zip, as Strava mails it) to
 * PATH, so import_archive.ts can be tried by hand against the same world the simulator serves.
 */
import { parseArgs } from "node:util";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { generateArchive } from "../lib/testing/sim_archive.ts";
import { writeExportZip } from "../lib/testing/archive_gen.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    activities: { type: "string", default: "200" },
    segments: { type: "string", default: "120" },
    read15: { type: "string", default: "100" },
    "read-day": { type: "string", default: "1000" },
    seed: { type: "string", default: "1" },
    export: { type: "string" },
  },
});
const sim = await StravaSimulator.start({
  seed: Number(values.seed),
  activities: Number(values.activities),
  segments: Number(values.segments),
  limits: { read15: Number(values.read15), readDay: Number(values["read-day"]) },
});
if (values.export !== undefined) {
  // `deno task` runs in the project folder; a relative PATH means the folder the user typed it in.
  const base = Deno.env.get("INIT_CWD");
  const path = base && !values.export.startsWith("/") ? `${base}/${values.export}` : values.export;
  await Deno.mkdir(path.replace(/[^/]*$/, "") || ".", { recursive: true });
  await writeExportZip(path, { csv: generateArchive(sim.truth, { headerVersion: 2026 }) });
  console.log(`wrote the athlete's bulk export to ${path} (import it with import_archive.ts)`);
}
const tokens = sim.issueTokens();
console.log(`Strava simulator listening on ${sim.host} (${sim.truth.activities.length} activities). Use:
STRAVA_API_URL=${sim.apiUrl}
STRAVA_OAUTH_URL=${sim.oauthUrl}
STRAVA_CLIENT_ID=12345
STRAVA_CLIENT_SECRET=sim-secret
STRAVA_REFRESH_TOKEN=${tokens.refresh_token}
and add ${sim.host} to --allow-net (deno run --allow-net=www.strava.com,${sim.host} ...).`);
Deno.addSignalListener("SIGINT", async () => {
  await sim.close();
  Deno.exit(0);
});
