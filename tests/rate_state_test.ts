/** lib/store/rate_state.ts: the folder's budget store, the rate limiter's only persistent state. */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../lib/store/db.ts";
import { classifyDatabase } from "../lib/store/open.ts";
import { SHARED_RATE_STATE_PATH, SharedRateState } from "../lib/store/rate_state.ts";
import { migrate } from "../lib/store/schema.ts";
import { loadBudgetStatus } from "../lib/strava/rate_limit.ts";
import { windowStart } from "../lib/strava/rate_window.ts";
import { MemoryRateState } from "../lib/testing/memory_rate_state.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { fileDigest, runScript, simEnv, spawnScript, tempDir } from "./helpers.ts";
import { reservation, stateRow as row } from "./rate_state_fixture.ts";

Deno.test("rate state in the shared file: none at first, then one row per family, updated in place", async () => {
  await using dir = await tempDir();
  using state = new SharedRateState("app:1", `${dir.path}/budget.db`);
  deepStrictEqual(state.load(), []);
  state.update(0, (current) => {
    deepStrictEqual(current, { rows: [], reservations: [], expired: [] });
    return { rows: [row("read", 1), row("overall", 2)] };
  });
  state.update(0, (current) => ({ rows: current.rows.map((r) => ({ ...r, usage_15min: r.usage_15min! + 5 })) }));
  deepStrictEqual(state.load().sort((a, b) => a.name.localeCompare(b.name)), [
    { ...row("overall", 2), usage_15min: 7, clock_offset: null },
    { ...row("read", 1), usage_15min: 6, clock_offset: null },
  ]);
});

Deno.test("rate state in the shared file: odd values written by hand still give whole numbers", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/budget.db`;
  using state = new SharedRateState("app:1", path);
  const raw = new DatabaseSync(path);
  raw.exec(`INSERT INTO rate_limit_state VALUES ('app:1', 'read', 'x', 1000.7, 5, NULL, 1000, NULL, NULL)`);
  raw.close();
  deepStrictEqual(state.load(), [{ ...row("read", 5), limit_15min: null, usage_daily: null, clock_offset: null }]);
  state.update(0, () => ({ rows: [row("read", 9)] }));
  deepStrictEqual(state.load(), [{ ...row("read", 9), clock_offset: null }]);
});

Deno.test("rate state in memory: rows replaced by name, copies handed out", () => {
  const state = new MemoryRateState();
  state.update(0, () => ({ rows: [row("read", 1)] }));
  state.load()[0].usage_15min = 99;
  state.update(0, (current) => ({ rows: [...current.rows, row("overall", 3)] }));
  deepStrictEqual(state.load(), [row("read", 1), row("overall", 3)]);
});

for (const [name, open] of [["in memory", () => new MemoryRateState()], ["shared file", null]] as const) {
  Deno.test(`rate state ${name}: reservations are kept until released, and expire at their time`, async () => {
    await using dir = await tempDir();
    const state = open ? open() : new SharedRateState("app:1", `${dir.path}/budget.db`);
    try {
      state.update(0, () => ({ reserve: reservation("a", 100) }));
      state.update(10, () => ({ reserve: reservation("b", 200) }));
      state.update(50, (v) => {
        deepStrictEqual(v.reservations.map((r) => r.id).sort(), ["a", "b"]);
        deepStrictEqual(v.expired, []);
        return { release: "b" };
      });
      state.update(150, (v) => {
        deepStrictEqual([v.reservations, v.expired], [[], [reservation("a", 100)]]);
        return {};
      });
      state.update(160, (v) => {
        deepStrictEqual([v.reservations, v.expired], [[], []]);
        return {};
      });
    } finally {
      if (state instanceof SharedRateState) state[Symbol.dispose]();
    }
  });
}

/** Reads per 15-minute window (Strava's clock), from the simulator's request log. */
function readsPerWindow(sim: StravaSimulator): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of sim.requests) {
    if (r.method !== "GET" || !r.path.startsWith("/api/v3/")) continue;
    const w = windowStart(r.at);
    out.set(w, (out.get(w) ?? 0) + 1);
  }
  return out;
}

/** `n` backfills at once (subprocesses under their scoped permissions), each on its own database in one folder, against a simulator with `limit` reads per window. */
async function concurrentRuns(
  n: number,
  limit: number,
): Promise<{ perWindow: number[]; codes: number[]; e429: number; mode: number; left: number }> {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start({ seed: 5, activities: 60, segments: 30, limits: { read15: limit } });
  await Deno.mkdir(`${dir.path}/data`);
  for (let i = 0; i < n; i++) {
    const db = openDatabase(`${dir.path}/data/p${i}.db`, { create: true });
    migrate(db);
    db.close();
  }
  const env = { ...simEnv(sim), STRAVA_CLIENT_ID: "12345" };
  for (let i = 0; i < n; i++) {
    const listed = await runScript("incremental_backfill", ["--mode", "activities", "--db", `data/p${i}.db`], {
      cwd: dir.path,
      env,
      hosts: [sim.host],
    });
    strictEqual(listed.code, 0, listed.stderr);
  }
  const children = Array.from(
    { length: n },
    (_, i) =>
      spawnScript("incremental_backfill", ["--no-wait", "--db", `data/p${i}.db`, "--log-file", `p${i}.log`], {
        cwd: dir.path,
        env,
        hosts: [sim.host],
      }),
  );
  const outputs = await Promise.all(children.map((c) => c.output()));
  using budget = new SharedRateState("client:12345", `${dir.path}/${SHARED_RATE_STATE_PATH}`);
  return {
    mode: Deno.statSync(`${dir.path}/${SHARED_RATE_STATE_PATH}`).mode! & 0o777,
    left: budget.reservations().length,
    perWindow: [...readsPerWindow(sim).values()],
    codes: outputs.map((o) => o.code),
    e429: sim.requests.filter((r) => r.status === 429).length,
  };
}

for (const n of [2, 4]) {
  Deno.test(`shared budget: ${n} processes on ${n} databases in one folder never pass floor(limit × buffer) together`, async () => {
    const limit = 100;
    const r = await concurrentRuns(n, limit);
    strictEqual(r.e429, 0);
    ok(r.perWindow.every((x) => x <= Math.floor(limit * 0.9)), `reads per window: ${r.perWindow}`);
    ok(r.codes.every((c) => c === 0), `exit codes ${r.codes}`);
    // The budget was spent to the last allowed read (more only if the runs straddled a window boundary).
    ok(r.perWindow.reduce((a, b) => a + b, 0) >= Math.floor(limit * 0.9), `reads per window: ${r.perWindow}`);
    deepStrictEqual([r.left, Deno.build.os === "windows" ? 0o600 : r.mode], [0, 0o600], "no reservation left; 0600");
  });
}

Deno.test("shared rate state: one file keyed by application, created 0600; a failed update changes nothing", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/budget.db`;
  using a = new SharedRateState("app:1", path);
  using b = new SharedRateState("app:2", path);
  using a2 = new SharedRateState("app:1", path);
  if (Deno.build.os !== "windows") strictEqual(Deno.statSync(path).mode! & 0o777, 0o600);
  a.update(0, () => ({ rows: [row("read", 4)], reserve: reservation("x", 100) }));
  deepStrictEqual([a2.load(), a2.reservations().length], [[{ ...row("read", 4), clock_offset: null }], 1]);
  deepStrictEqual([b.load(), b.reservations()], [[], []]);
  throws(() =>
    a.update(0, () => {
      throw new Error("boom");
    }), /boom/);
  a.update(0, () => ({ rows: [row("read", 5)] }));
  throws(() => a.update(0, () => ({ reserve: reservation("x", 100) })));
  deepStrictEqual(a2.load(), [{ ...row("read", 5), clock_offset: null }], "a failed reservation rolls its rows back");
});

Deno.test("shared rate state: a file that is not SQLite is refused, and left as it was", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/budget.db`;
  await Deno.writeTextFile(path, "not a database, 40 characters long....\n");
  throws(() => new SharedRateState("app:1", path));
  strictEqual(await Deno.readTextFile(path), "not a database, 40 characters long....\n");
});

Deno.test("shared rate state: a store made before clock offsets were kept gains the column and keeps its rows", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/budget.db`;
  const old = new DatabaseSync(path);
  old.exec(`CREATE TABLE rate_limit_state (app TEXT NOT NULL, name TEXT NOT NULL, limit_15min INTEGER,
            limit_daily INTEGER, usage_15min INTEGER, usage_daily INTEGER, observed_at INTEGER, blocked_until INTEGER,
            PRIMARY KEY (app, name));
            INSERT INTO rate_limit_state VALUES ('app:1', 'read', 100, 1000, 4, 40, 1000, NULL);`);
  old.close();
  using store = new SharedRateState("app:1", path);
  deepStrictEqual(store.load(), [{ ...row("read", 4), clock_offset: null }]);
  store.update(0, () => ({ rows: [{ ...row("read", 5), clock_offset: -7_200_000 }] }));
  deepStrictEqual(store.load(), [{ ...row("read", 5), clock_offset: -7_200_000 }]);
});

Deno.test("shared rate state: WAL while open (-wal and -shm 0600), a rollback journal again once the last one closes", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/budget.db`;
  const names = () => [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  const a = new SharedRateState("app:1", path);
  const b = new SharedRateState("app:1", path);
  a.update(0, () => ({ rows: [row("read", 4)] }));
  deepStrictEqual(names(), ["budget.db", "budget.db-shm", "budget.db-wal"]);
  if (Deno.build.os !== "windows") {
    for (const f of names()) strictEqual(Deno.statSync(`${dir.path}/${f}`).mode! & 0o777, 0o600, f);
  }
  a[Symbol.dispose]();
  deepStrictEqual(names(), ["budget.db", "budget.db-shm", "budget.db-wal"], "b still has it open");
  deepStrictEqual(b.load(), [{ ...row("read", 4), clock_offset: null }]);
  b[Symbol.dispose]();
  deepStrictEqual(names(), ["budget.db"]);
});

Deno.test("stats reads the folder's shared budget (every run's usage) without writing it; no file: defaults", async () => {
  await using dir = await tempDir();
  const shared = `${dir.path}/${SHARED_RATE_STATE_PATH}`;
  const t = Date.UTC(2026, 4, 1, 12, 5);
  strictEqual(loadBudgetStatus(t, 0.9, shared).read.usage15, 0, "no shared file: nothing spent");
  {
    using store = new SharedRateState("client:1", shared);
    store.update(t, () => ({ rows: [{ ...row("read", 50), observed_at: t }] }));
    // While a run has the store open (WAL), stats sees its commits.
    const s = loadBudgetStatus(t + 1000, 0.9, shared);
    deepStrictEqual([s.read.usage15, s.read.remaining15], [50, 40]);
  }
  const before = await fileDigest(shared);
  const s = loadBudgetStatus(t + 1000, 0.9, shared);
  deepStrictEqual([s.read.usage15, s.read.remaining15], [50, 40]);
  strictEqual(await fileDigest(shared), before, "stats leaves the shared file byte-identical");
  deepStrictEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), [SHARED_RATE_STATE_PATH], "and adds no file");
});

Deno.test("schema 6 empties the database's old copy of the budget; the database stays this tool's", async () => {
  await using dir = await tempDir();
  const db = openDatabase(`${dir.path}/a.db`, { create: true });
  try {
    migrate(db);
    db.exec("PRAGMA user_version = 5");
    db.exec(`INSERT INTO rate_limit_state (name, usage_15min, observed_at) VALUES ('read', 40, 1000)`);
    deepStrictEqual(migrate(db).applied.map((m) => m.version)[0], 6);
    strictEqual(Number(db.prepare("SELECT count(*) AS n FROM rate_limit_state").get()!.n), 0);
    strictEqual(classifyDatabase(db).kind, "ours");
  } finally {
    db.close();
  }
});
