/**
 * Cost per request against the size of the queue: `incremental_backfill --mode efforts` runs as a
 * subprocess under its scoped permissions against the simulator over real HTTP on 127.0.0.1, on
 * an athlete of 300 and of 3,000 activities (all listed first, so the queue holds them all).
 * CPU (user + system, /usr/bin/time) and wall time per request are the difference between a run
 * of `--activities K` and one of `--activities 1`, divided by K − 1, so start-up (Deno, modules,
 * migrations, token, lock) is left out. A plain keep-alive client fetching the same URLs with
 * the same token, in its own subprocess, is the floor. The goal (issue "Lean house"): the cost
 * at 3,000 within 1.3× of the cost at 300, and within a few times the plain client's.
 * Each figure is the median of `--repeat` rounds (a fresh folder and database each), the tool and
 * the plain client measured in the same round: single runs on a shared machine vary by ~30 %.
 *
 * Then, in-process on the largest athlete, the cost of each part the tool adds to the plain
 * client's fetch (bench/request_parts.ts), over `--parts` requests (0: not measured).
 *
 * Usage: deno task bench:requests [--sizes 300,3000] [--requests 200] [--repeat 3] [--parts 400] [--json]
 */
import { parseArgs } from "node:util";
import { denoRunArgs } from "../lib/permissions.ts";
import { openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { measureParts, type Part } from "./request_parts.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "300,3000" },
    requests: { type: "string", default: "200" },
    repeat: { type: "string", default: "3" },
    parts: { type: "string", default: "400" },
    json: { type: "boolean", default: false },
  },
});
const TIME = "/usr/bin/time";
const K = Number(values.requests);
const REPEAT = Number(values.repeat);

/** CPU and wall seconds of one subprocess, by /usr/bin/time. */
interface Timed {
  code: number;
  cpu: number;
  wall: number;
  output: string;
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Runs `deno ARGS` under /usr/bin/time; `stdin`, when given, is the program's source (`deno run -`). */
async function timed(args: string[], cwd: string, env: Record<string, string>, stdin?: string): Promise<Timed> {
  const child = new Deno.Command(TIME, {
    args: ["-f", "%U %S %e", "-o", `${cwd}/.time`, Deno.execPath(), ...args],
    cwd,
    env,
    clearEnv: true,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const [user, sys, wall] = (await Deno.readTextFile(`${cwd}/.time`)).trim().split("\n").pop()!.split(" ").map(Number);
  const dec = new TextDecoder();
  return { code: out.code, cpu: user + sys, wall, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** The floor: the same GETs with one keep-alive client and nothing else. */
const PLAIN_CLIENT = `
const [base, token, ...ids] = Deno.args;
for (const id of ids) {
  const r = await fetch(base + "/activities/" + id + "?include_all_efforts=true", { headers: { Authorization: "Bearer " + token } });
  await r.arrayBuffer();
}`;

/** One round's per-request figures (ms). */
interface Round {
  tool_cpu_ms: number;
  tool_wall_ms: number;
  plain_cpu_ms: number;
  plain_wall_ms: number;
}

/** One round on `sim`: a fresh folder and database, listed, then the tool's runs and the plain client's. */
async function round(sim: StravaSimulator): Promise<Round> {
  const dir = await Deno.makeTempDir({ prefix: "request-cost-bench-" });
  try {
    await Deno.mkdir(`${dir}/data`);
    const db = openDatabase(`${dir}/data/segments.db`, { create: true });
    migrate(db);
    db.close();
    const token = sim.issueTokens().access_token;
    const env = {
      ...baseEnv(),
      STRAVA_ACCESS_TOKEN: token,
      STRAVA_API_URL: sim.apiUrl,
      STRAVA_OAUTH_URL: sim.oauthUrl,
    };
    const tool = (args: string[]) => timed(denoRunArgs("incremental_backfill", args, [sim.host]), dir, env);
    const listed = await tool(["--mode", "activities"]);
    if (listed.code !== 0) throw new Error(`listing failed: ${listed.output}`);
    const before = sim.requests.length;
    const one = await tool(["--mode", "efforts", "--activities", "1"]);
    const many = await tool(["--mode", "efforts", "--activities", String(K + 1)]);
    const paths = sim.requests.slice(before).filter((r) => r.path.startsWith("/api/v3/activities/"));
    const sent = paths.length - 1;
    if (one.code !== 0 || many.code !== 0 || sent < K) throw new Error(`backfill failed: ${many.output}`);
    const ids = paths.map((r) => r.path.split("/").pop()!);
    const plainArgs = ["run", "--quiet", `--allow-net=${sim.host}`, "-"];
    const plainOne = await timed([...plainArgs, sim.apiUrl, token, ids[0]], dir, env, PLAIN_CLIENT);
    const plainMany = await timed([...plainArgs, sim.apiUrl, token, ...ids.slice(0, K + 1)], dir, env, PLAIN_CLIENT);
    const ms = (a: number, b: number) => ((a - b) / K) * 1000;
    return {
      tool_cpu_ms: ms(many.cpu, one.cpu),
      tool_wall_ms: ms(many.wall, one.wall),
      plain_cpu_ms: ms(plainMany.cpu, plainOne.cpu),
      plain_wall_ms: ms(plainMany.wall, plainOne.wall),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The bench's athlete of `size` activities, with limits no run reaches. */
function simulator(size: number): Promise<StravaSimulator> {
  return StravaSimulator.start({
    seed: 1,
    activities: size,
    segments: Math.max(40, Math.round(size / 2)),
    limits: { read15: 1_000_000, readDay: 10_000_000, all15: 1_000_000, allDay: 10_000_000 },
  });
}

/** Per-request cost of the tool and of the plain client on an athlete of `size` activities: medians of REPEAT rounds. */
async function measure(size: number) {
  await using sim = await simulator(size);
  const rounds: Round[] = [];
  for (let i = 0; i < REPEAT; i++) rounds.push(await round(sim));
  const median = (key: keyof Round) => {
    const sorted = rounds.map((r) => r[key]).sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const m = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return Number(m.toFixed(2));
  };
  return {
    activities: size,
    requests: K,
    rounds: REPEAT,
    tool_cpu_ms: median("tool_cpu_ms"),
    tool_wall_ms: median("tool_wall_ms"),
    plain_cpu_ms: median("plain_cpu_ms"),
    plain_wall_ms: median("plain_wall_ms"),
    /** Tool / plain CPU per round, so the ratio is judged within one round. */
    cpu_ratios: rounds.map((r) => Number((r.tool_cpu_ms / Math.max(r.plain_cpu_ms, 0.01)).toFixed(1))),
  };
}

if (!(await Deno.stat(TIME).then(() => true, () => false))) {
  console.log("/usr/bin/time not found: cost per request not measured (install it: apt-get install -y time)");
  Deno.exit(0);
}
const results = [];
for (const size of values.sizes.split(",").map(Number)) results.push(await measure(size));
let parts: Part[] = [];
if (Number(values.parts) > 0) {
  await using sim = await simulator(results[results.length - 1].activities);
  const dir = await Deno.makeTempDir({ prefix: "request-parts-bench-" });
  try {
    parts = await measureParts(sim, dir, Number(values.parts));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
const first = results[0];
const last = results[results.length - 1];
const summary = {
  results,
  cpu_growth: Number((last.tool_cpu_ms / first.tool_cpu_ms).toFixed(2)),
  wall_growth: Number((last.tool_wall_ms / first.tool_wall_ms).toFixed(2)),
  cpu_vs_plain: Number((last.tool_cpu_ms / Math.max(last.plain_cpu_ms, 0.01)).toFixed(1)),
  parts,
};
if (values.json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  console.log(
    `cost per request, incremental_backfill --mode efforts (subprocess, HTTP to the simulator, ${K} requests,` +
      ` median of ${REPEAT} rounds)`,
  );
  for (const r of results) {
    console.log(
      `  ${String(r.activities).padStart(6)} activities: tool ${r.tool_cpu_ms} ms CPU, ${r.tool_wall_ms} ms wall;` +
        ` plain client ${r.plain_cpu_ms} ms CPU, ${r.plain_wall_ms} ms wall; tool/plain CPU by round ${
          r.cpu_ratios.join(", ")
        }`,
    );
  }
  console.log(
    `  growth ${first.activities} -> ${last.activities}: CPU ${summary.cpu_growth}x, wall ${summary.wall_growth}x;` +
      ` tool/plain CPU at ${last.activities}: ${summary.cpu_vs_plain}x`,
  );
  if (parts.length > 0) {
    console.log(
      `the parts of a request, in-process, ${last.activities} activities, ${values.parts} requests (per request):`,
    );
    for (const p of parts) {
      console.log(`  ${p.part.padEnd(50)} ${p.cpu_ms.toFixed(3)} ms CPU, ${p.wall_ms.toFixed(3)} ms wall`);
    }
  }
}
