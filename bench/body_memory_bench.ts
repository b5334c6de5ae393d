/**
 * Peak memory against the size of one response body: `incremental_backfill --mode efforts` runs as
 * a subprocess under its scoped permissions against the simulator, once with ordinary bodies (the
 * baseline: Deno, SQLite, the modules) and once with one activity grown to `--mb` MB of segment
 * efforts (the simulator's "huge" fault), under /usr/bin/time for the peak RSS. The goal (issue
 * "Never stuck", item 11) is an extra peak within a small multiple of the body; a body over the
 * client's cap (MAX_BODY_BYTES) is refused instead, which the last run shows.
 *
 * Usage: deno task bench:memory [--mb 10] [--json]
 */
import { parseArgs } from "node:util";
import { denoRunArgs } from "../lib/permissions.ts";
import { openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { MAX_BODY_BYTES } from "../lib/strava/client.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { mb: { type: "string", default: "10" }, json: { type: "boolean", default: false } },
});
const MB = 1024 * 1024;
const TIME = "/usr/bin/time";

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

interface Run {
  code: number;
  peakMb: number;
  stdout: string;
  bodyBytes: number;
}

/** One backfill of a fresh database against a fresh simulator; `bytes` > 0 grows one activity's body. */
async function run(bytes: number): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "body-memory-bench-" });
  await using sim = await StravaSimulator.start({ seed: 1, activities: 6, segments: 20 });
  try {
    await Deno.mkdir(`${dir}/data`);
    const db = openDatabase(`${dir}/data/segments.db`, { create: true });
    migrate(db);
    db.close();
    const env = {
      ...baseEnv(),
      STRAVA_ACCESS_TOKEN: sim.issueTokens().access_token,
      STRAVA_API_URL: sim.apiUrl,
      STRAVA_OAUTH_URL: sim.oauthUrl,
    };
    const exec = async (args: string[]) => {
      const cmd = [
        TIME,
        "-f",
        "%M",
        "-o",
        `${dir}/.maxrss`,
        Deno.execPath(),
        ...denoRunArgs("incremental_backfill", args, [sim.host]),
      ];
      const out = await new Deno.Command(cmd[0], {
        args: cmd.slice(1),
        cwd: dir,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      const peakKb = Number((await Deno.readTextFile(`${dir}/.maxrss`)).trim().split("\n").pop());
      return {
        code: out.code,
        peakMb: peakKb / 1024,
        stdout: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
      };
    };
    const listed = await exec(["--mode", "activities"]);
    if (listed.code !== 0) throw new Error(`listing failed: ${listed.stdout}`);
    if (bytes > 0) {
      const target = sim.truth.activities.find((a) => a.effortIds.length > 0);
      if (!target) throw new Error("no activity with efforts");
      sim.addFault({ path: new RegExp(`/activities/${target.id}$`), kind: "huge", bytes });
    }
    const r = await exec(["--mode", "efforts", "--activities", "50"]);
    return { ...r, bodyBytes: bytes };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (!(await Deno.stat(TIME).then(() => true, () => false))) {
  console.log("/usr/bin/time not found: peak memory not measured (install it: apt-get install -y time)");
  Deno.exit(0);
}
const size = Math.round(Number(values.mb) * MB);
const baseline = await run(0);
const big = await run(size);
const over = await run(MAX_BODY_BYTES + MB);
const extra = big.peakMb - baseline.peakMb;
const result = {
  body_mb: size / MB,
  baseline_peak_rss_mb: Math.round(baseline.peakMb),
  peak_rss_mb: Math.round(big.peakMb),
  extra_mb: Math.round(extra),
  multiple_of_body: Math.round((extra / (size / MB)) * 10) / 10,
  exit_code: big.code,
  cap_mb: MAX_BODY_BYTES / MB,
  over_cap: {
    body_mb: Math.round((MAX_BODY_BYTES + MB) / MB),
    peak_rss_mb: Math.round(over.peakMb),
    exit_code: over.code,
  },
};
if (values.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`Peak RSS of incremental_backfill --mode efforts (subprocess, scoped permissions, /usr/bin/time):`);
  console.log(`   ordinary bodies:           ${result.baseline_peak_rss_mb} MB`);
  console.log(
    `   one ${result.body_mb} MB activity body:  ${result.peak_rss_mb} MB (+${result.extra_mb} MB, ` +
      `${result.multiple_of_body}x the body), exit ${result.exit_code}`,
  );
  console.log(
    `   one ${result.over_cap.body_mb} MB body (over the ${result.cap_mb} MB cap): ${result.over_cap.peak_rss_mb} MB, ` +
      `exit ${result.over_cap.exit_code}`,
  );
}
