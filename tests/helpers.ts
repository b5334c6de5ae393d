/**
 * Test helpers: temp folders, and running a script as a subprocess under exactly the
 * permissions its compiled binary gets (lib/permissions.ts), from a temp working folder.
 */
import { fileURLToPath } from "node:url";
import { denoRunArgs, type ScriptName } from "../lib/permissions.ts";
import { type Database, openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { type SimOptions, StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { MemoryRateState } from "../lib/testing/memory_rate_state.ts";
import type { EngineContext } from "../lib/backfill/run_types.ts";
import { RateLimiter, type RateLimiterOptions } from "../lib/strava/rate_limit.ts";
import { staticTokenProvider, StravaClient, type StravaClientOptions } from "../lib/strava/client.ts";

/** Absolute path of the repository root. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** A temp folder removed when disposed (`await using dir = await tempDir()`). */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "strava-backfill-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** What a finished subprocess produced. */
export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for `runScript`. */
export interface RunOptions {
  /** Working folder (the tool's files are relative to it). */
  cwd: string;
  /** Environment variables; the subprocess gets only these plus what Deno needs to find its cache. */
  env?: Record<string, string>;
  /** Extra hosts for --allow-net, e.g. the simulator's "127.0.0.1:PORT". */
  hosts?: string[];
  /** Standard input text. */
  stdin?: string;
  signal?: AbortSignal;
}

/**
 * Environment a subprocess needs to run Deno at all (cache location), nothing else, except the
 * clock: the scripts must see the test's time zone and, under `faketime` (how the suite is checked
 * at day and quarter-hour boundaries), the test's clock, as processes on one machine do.
 */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "TZ", ...FAKETIME_ENV]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  // In "start at" mode each new process would start the clock again at the given instant.
  if (env.FAKETIME !== undefined) env.FAKETIME_DONT_RESET = "1";
  return env;
}

/** libfaketime's variables (it is loaded through LD_PRELOAD and shares its clock through FAKETIME_SHARED). */
const FAKETIME_ENV = ["LD_PRELOAD", "FAKETIME", "FAKETIME_SHARED", "FAKETIME_DONT_RESET", "FAKETIME_NO_CACHE"];

/** Spawns `script` with `args`; the caller owns the returned child process. */
export function spawnScript(script: ScriptName, args: string[], options: RunOptions): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(script, args, options.hosts),
    cwd: options.cwd,
    env: { ...baseEnv(), ...options.env },
    clearEnv: true,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).spawn();
}

/** Runs `script` to completion and returns its exit code and output. */
export async function runScript(script: ScriptName, args: string[], options: RunOptions): Promise<ScriptResult> {
  const child = spawnScript(script, args, options);
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** SHA-256 of a file, hex: proves a file was left byte-for-byte untouched. */
export async function fileDigest(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Creates and migrates `data/segments.db` in `dir`, as `update_schema.ts --create` would. */
export function createDatabase(dir: string): void {
  const db = openDatabase(`${dir}/data/segments.db`, { create: true });
  migrate(db);
  db.close();
}

/** A new, empty SQLite file `name` in a temp folder; closed and removed when disposed. */
export async function tempDatabase(name: string): Promise<{ dir: { path: string }; db: Database } & AsyncDisposable> {
  const dir = await tempDir();
  const db = openDatabase(`${dir.path}/${name}`, { create: true });
  return {
    dir,
    db,
    async [Symbol.asyncDispose]() {
      db.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Where a script test runs: a temp folder with a migrated data/segments.db, and a simulator on loopback. */
export interface ScriptWorld extends AsyncDisposable {
  dir: { path: string };
  sim: StravaSimulator;
  /** Runs a script in `dir` against `sim`, with an access token. */
  opts: RunOptions & { env: Record<string, string> };
}

/** Sets up a ScriptWorld: `await using world = await scriptWorld({ seed: 4, activities: 12 })`. */
export async function scriptWorld(options: SimOptions): Promise<ScriptWorld> {
  const dir = await tempDir();
  const sim = await StravaSimulator.start(options);
  const dispose = async () => {
    await sim[Symbol.asyncDispose]();
    await dir[Symbol.asyncDispose]();
  };
  try {
    createDatabase(dir.path);
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    dir,
    sim,
    opts: { cwd: dir.path, env: simEnv(sim), hosts: [sim.host] },
    [Symbol.asyncDispose]: dispose,
  };
}

/** Runs `fn` on `dir`'s data/segments.db and closes it. */
export function withDatabase<T>(dir: string, fn: (db: Database) => T): T {
  const db = openDatabase(`${dir}/data/segments.db`);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Environment that points a script at the simulator, with an access token of `scope`. */
export function simEnv(sim: StravaSimulator, scope = "read,activity:read_all"): Record<string, string> {
  return {
    STRAVA_ACCESS_TOKEN: sim.issueTokens(scope).access_token,
    STRAVA_API_URL: sim.apiUrl,
    STRAVA_OAUTH_URL: sim.oauthUrl,
  };
}

/**
 * The real limiter and client on `clock`, talking to `sim` through its in-process fetch with an
 * access token of `scope`; `limiter` and `client` add to or replace their options.
 */
export function simClient(
  sim: StravaSimulator,
  clock: VirtualClock,
  { scope, limiter: limiterOptions = {}, client: clientOptions = {} }: {
    scope?: string;
    limiter?: RateLimiterOptions;
    client?: Partial<StravaClientOptions>;
  } = {},
): { limiter: RateLimiter; client: StravaClient } {
  const limiter = new RateLimiter({ now: clock.now, ...limiterOptions });
  const client = new StravaClient({
    apiUrl: sim.apiUrl,
    tokens: staticTokenProvider(sim.issueTokens(scope).access_token),
    limiter,
    fetch: sim.fetch,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    ...clientOptions,
  });
  return { limiter, client };
}

const budgets = new WeakMap<Database, MemoryRateState>();

/** The folder's budget store of a test database, in memory: runs on one database share it, as in one folder. */
export function folderBudget(db: Database): MemoryRateState {
  let state = budgets.get(db);
  if (!state) budgets.set(db, state = new MemoryRateState());
  return state;
}

/**
 * The engine's context for in-process runs: the real limiter (persisting to the budget store of
 * `db`'s folder, in memory) and client, talking to `sim` through its in-process fetch, everything on `clock`.
 */
export function simContext(
  db: Database,
  sim: StravaSimulator,
  clock: VirtualClock,
  { wait = true, scope = "read,activity:read_all" }: { wait?: boolean; scope?: string } = {},
): EngineContext {
  const { limiter, client } = simClient(sim, clock, { scope, limiter: { state: folderBudget(db) } });
  return { db, client, limiter, now: clock.now, sleep: clock.sleep, wait };
}

/** Where an in-process engine test runs: a temp folder, a virtual clock, a simulator on it, a migrated database. */
export interface EngineWorld extends AsyncDisposable {
  dir: { path: string };
  clock: VirtualClock;
  sim: StravaSimulator;
  db: Database;
  /** simContext on them (made on first use: it issues the simulator a token). */
  readonly ctx: EngineContext;
}

/** Sets up an EngineWorld; the simulator runs on its clock, the database is `dbName` in its folder. */
export async function engineWorld(options: Omit<SimOptions, "now">, dbName = "h.db"): Promise<EngineWorld> {
  const dir = await tempDir();
  const clock = new VirtualClock();
  const sim = StravaSimulator.inProcess({ ...options, now: clock.now });
  let db: Database | undefined;
  const dispose = async () => {
    db?.close();
    await sim[Symbol.asyncDispose]();
    await dir[Symbol.asyncDispose]();
  };
  try {
    db = openDatabase(`${dir.path}/${dbName}`, { create: true });
    migrate(db);
  } catch (err) {
    await dispose();
    throw err;
  }
  const opened = db;
  let ctx: EngineContext | undefined;
  return {
    dir,
    clock,
    sim,
    db: opened,
    get ctx() {
      return ctx ??= simContext(opened, sim, clock);
    },
    [Symbol.asyncDispose]: dispose,
  };
}
