/**
 * Where one request's CPU goes, measured in-process on the same athlete's bodies as
 * bench/request_cost_bench.ts (which imports this): each part the tool adds to a plain client's
 * fetch, timed alone over many requests. CPU is the process's user + system time
 * (`process.cpuUsage`), so it includes SQLite's writes; the simulator's own work is not in any part.
 */
import process from "node:process";
import { parseJson } from "../lib/json.ts";
import { logger, setupLogging } from "../lib/log.ts";
import { saveActivityEfforts, upsertListedActivities } from "../lib/store/backfill_store.ts";
import { assertStillNamed, type Database, openDatabase, transaction } from "../lib/store/db.ts";
import { SharedRateState } from "../lib/store/rate_state.ts";
import { migrate } from "../lib/store/schema.ts";
import { staticTokenProvider, StravaClient } from "../lib/strava/client.ts";
import { RateLimiter } from "../lib/strava/rate_limit.ts";
import type { StravaSimulator } from "../lib/testing/strava_sim.ts";

/** One part's cost per request (ms). */
export interface Part {
  part: string;
  cpu_ms: number;
  wall_ms: number;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Cost per call of `fn(i)` for i in [w, w + n), after a warm-up over [0, w), w = n / 10. */
async function timePart(part: string, n: number, fn: (i: number) => unknown): Promise<Part> {
  const w = Math.ceil(n / 10);
  for (let i = 0; i < w; i++) await fn(i);
  const [cpu, wall] = [cpuMs(), performance.now()];
  for (let i = w; i < w + n; i++) await fn(i);
  const per = (ms: number) => Number((ms / n).toFixed(3));
  return { part, cpu_ms: per(cpuMs() - cpu), wall_ms: per(performance.now() - wall) };
}

/**
 * A view of `db` on which `transaction` takes no transaction of its own, so several records can
 * be stored in one outer transaction: to measure what a transaction per record costs.
 */
function insideOuterTransaction(db: Database): Database {
  return new Proxy(db, {
    get(target, key) {
      if (key === "exec") {
        return (sql: string) => sql === "BEGIN IMMEDIATE" || sql === "COMMIT" ? undefined : target.exec(sql);
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The parts of `n` activity requests on `sim`, the folder `dir` holding the database and the budget store. */
export async function measureParts(sim: StravaSimulator, dir: string, n: number): Promise<Part[]> {
  const token = sim.issueTokens().access_token;
  const headers = { Authorization: `Bearer ${token}` };
  const get = (path: string) => fetch(`${sim.apiUrl}${path}`, { headers });
  const db = openDatabase(`${dir}/parts.db`, { create: true });
  migrate(db);
  const now = "2026-01-01T00:00:00Z";
  const ids: bigint[] = [];
  for (let page = 1; ids.length < 2.2 * n; page++) {
    const list = parseJson(await (await get(`/athlete/activities?per_page=200&page=${page}`)).text());
    if (!Array.isArray(list) || list.length === 0) break;
    upsertListedActivities(db, list, now);
    ids.push(...list.map((a) => a.id as bigint));
  }
  const answers = await Promise.all(
    ids.map(async (id) => {
      const response = await get(`/activities/${id}?include_all_efforts=true`);
      return { status: response.status, headers: response.headers, text: await response.text() };
    }),
  );
  const records = answers.map((a) => parseJson(a.text, { keepSource: true }) as Record<string, unknown>);
  using budget = new SharedRateState("bench", `${dir}/strava_budget.db`);
  const shared = new RateLimiter({ state: budget });
  const client = new StravaClient({
    apiUrl: sim.apiUrl,
    tokens: staticTokenProvider(token),
    limiter: new RateLimiter(),
  });
  const url = (i: number) => `${sim.apiUrl}/activities/${ids[i]}?include_all_efforts=true`;
  const parts = [
    await timePart(
      "fetch + text (plain client; simulator included)",
      n,
      async (i) => await (await fetch(url(i), { headers })).text(),
    ),
    await timePart("StravaClient.getActivity (the same; budget in memory)", n, (i) => client.getActivity(ids[i])),
    await timePart("parseJson of the body", n, (i) => parseJson(answers[i].text, { keepSource: true })),
    await timePart("budget store: reserve, then record the answer", n, () => {
      const acquired = shared.tryAcquire("read");
      if (!acquired.ok) throw new Error("refused");
      acquired.permit.complete(answers[0]);
    }),
    await timePart(
      "saveActivityEfforts, a transaction per record",
      n,
      (i) => saveActivityEfforts(db, ids[i], records[i], now),
    ),
  ];
  // Records the parts above did not store: n + n / 10 of them were.
  const outer = insideOuterTransaction(db);
  const first = n + Math.ceil(n / 10);
  const batch = await timePart("saveActivityEfforts, 10 records per transaction", Math.floor(n / 10), (i) => {
    transaction(db, () => {
      for (let j = first + 10 * i; j < first + 10 * i + 10; j++) saveActivityEfforts(outer, ids[j], records[j], now);
    });
  });
  parts.push({
    ...batch,
    cpu_ms: Number((batch.cpu_ms / 10).toFixed(3)),
    wall_ms: Number((batch.wall_ms / 10).toFixed(3)),
  });
  parts.push(await timePart("database identity check (one stat)", n, () => assertStillNamed(db)));
  const close = await setupLogging({ path: `${dir}/backfill.log` });
  const usage = "reads 1/100 this window, 1/1000 today; all requests 1/200, 1/2000";
  parts.push(
    await timePart(
      "the log line",
      n,
      (i) => logger("backfill").info("activity {id}: stored {n} segment efforts; {usage}", { id: ids[i], n: 7, usage }),
    ),
  );
  await close();
  db.close();
  return parts;
}
