/**
 * Rate-limit benchmark: a long backfill against a fake Strava that counts usage exactly like
 * Strava (per-application 15-min windows at :00/:15/:30/:45 UTC and UTC days, reads and all
 * requests) and answers 429 past a limit, on a virtual clock. Only the limiter is real
 * (lib/strava/rate_limit.ts, persisting to an in-memory stand-in of the folder's budget store, which
 * several processes in one folder share and a new process starts from).
 *
 * For each scenario it reports requests sent, 429s, simulated days to completion, and the lower
 * bound ceil(requests needed / floor(daily limit × buffer)) days (less what another program
 * takes each day, in the scenario that has one). A limiter that is right uses
 * exactly the requests needed, gets no 429 unless something outside it spends the budget, and
 * finishes on the lower bound.
 *
 * Usage: deno task bench:limits [--activities N] [--segments N] [--buffer F] [--json]
 */
import { parseArgs } from "node:util";
import { type Permit, RateLimiter } from "../lib/strava/rate_limit.ts";
import { DAY_MS, dayStart, windowStart } from "../lib/strava/rate_window.ts";
import { MemoryRateState } from "../lib/testing/memory_rate_state.ts";
import { mulberry32 } from "../lib/testing/sim_random.ts";

/** Strava's counting, per application, on the server's own clock. */
class FakeStrava {
  readonly limits: { read15: number; readDay: number; all15: number; allDay: number };
  #window = -1;
  #day = -1;
  read15 = 0;
  readDay = 0;
  all15 = 0;
  allDay = 0;
  served = 0;
  rejected = 0;
  /** Most reads Strava counted in one window. */
  maxRead15 = 0;

  constructor(limits: Partial<FakeStrava["limits"]>, readonly skewMs: number) {
    this.limits = { read15: 100, readDay: 1000, all15: 200, allDay: 2000, ...limits };
  }

  #roll(serverNow: number): void {
    if (windowStart(serverNow) !== this.#window) {
      [this.#window, this.read15, this.all15] = [windowStart(serverNow), 0, 0];
    }
    if (dayStart(serverNow) !== this.#day) [this.#day, this.readDay, this.allDay] = [dayStart(serverNow), 0, 0];
  }

  /** Requests from other processes of the same application (counted, never answered to us). */
  spendElsewhere(now: number, n: number): void {
    this.#roll(now + this.skewMs);
    this.read15 += n;
    this.readDay += n;
    this.all15 += n;
    this.allDay += n;
  }

  /** One GET arriving at our time `now`: counted (even when refused, as Strava does), then answered. */
  get(now: number): { status: number; headers: Headers } {
    const serverNow = now + this.skewMs;
    this.#roll(serverNow);
    this.read15++;
    this.readDay++;
    this.all15++;
    this.allDay++;
    this.maxRead15 = Math.max(this.maxRead15, this.read15);
    const l = this.limits;
    const over = this.read15 > l.read15 || this.readDay > l.readDay || this.all15 > l.all15 || this.allDay > l.allDay;
    if (over) this.rejected++;
    else this.served++;
    return {
      status: over ? 429 : 200,
      headers: new Headers({
        Date: new Date(serverNow).toUTCString(),
        "X-Readratelimit-Limit": `${l.read15},${l.readDay}`,
        "X-Readratelimit-Usage": `${this.read15},${this.readDay}`,
        "X-Ratelimit-Limit": `${l.all15},${l.allDay}`,
        "X-Ratelimit-Usage": `${this.all15},${this.allDay}`,
      }),
    };
  }
}

interface Scenario {
  name: string;
  /** Requests answered at once (the engine sends one at a time; more shows in-flight counting). */
  concurrency?: number;
  /** Strava's clock minus ours. */
  skewMs?: number;
  limits?: Partial<FakeStrava["limits"]>;
  /** Another program using the same app spends `reads` at `atMs` past 00:00 UTC every day. */
  burst?: { atMs: number; reads: number };
  /** A new process (new limiter on the same database) after this many requests, like scheduled runs. */
  restartEvery?: number;
  /** Processes at once in one folder, each on its own database, sharing the folder's budget store. */
  processes?: number;
}

interface Result {
  scenario: string;
  needed: number;
  sent: number;
  rejected429: number;
  maxReadsPerWindow: number;
  elapsedDays: number;
  utcDaysUsed: number;
  lowerBoundDays: number;
  limiterMicrosPerRequest: number;
}

const LATENCY_MS = 300;
/** The engine waits one second past the reopening instant (lib/backfill/engine.ts). */
const SLACK_MS = 1000;

/** One scenario from start to finish; one loop of send-and-wait steps (over 60 lines) so the order of events reads top to bottom. */
function run(scenario: Scenario, needed: number, buffer: number, start: number): Result {
  const random = mulberry32(42);
  const server = new FakeStrava(scenario.limits ?? {}, scenario.skewMs ?? 0);
  let t = start;
  const now = () => t;
  const state = new MemoryRateState();
  const others = Array.from({ length: (scenario.processes ?? 1) - 1 }, () => new RateLimiter({ now, buffer, state }));
  let limiter = new RateLimiter({ now, buffer, state });
  let done = 0;
  let sent = 0;
  let sinceRestart = 0;
  let lastBurstDay = -1;
  let limiterNs = 0;
  const timed = <T>(fn: () => T): T => {
    const s = performance.now();
    const r = fn();
    limiterNs += (performance.now() - s) * 1e6;
    return r;
  };
  const firstDay = dayStart(start);
  while (done < needed) {
    if (scenario.burst && dayStart(t) !== lastBurstDay && t - dayStart(t) >= scenario.burst.atMs) {
      lastBurstDay = dayStart(t);
      server.spendElsewhere(t, scenario.burst.reads);
    }
    if (scenario.restartEvery && sinceRestart >= scenario.restartEvery) {
      limiter = new RateLimiter({ now, buffer, state });
      sinceRestart = 0;
    }
    // Acquire up to `concurrency` slots at once (one per process with several processes); they
    // are answered together, in shuffled order.
    const batch: Permit[] = [];
    let until = Infinity;
    const sources = [limiter, ...others];
    const width = scenario.processes ?? scenario.concurrency ?? 1;
    while (batch.length < Math.min(width, needed - done)) {
      const source = sources[batch.length % sources.length];
      const a = timed(() => source.tryAcquire());
      if (!a.ok) {
        until = a.until;
        break;
      }
      batch.push(a.permit);
    }
    if (batch.length === 0) {
      t = Math.max(t, until) + SLACK_MS;
      continue;
    }
    const answers = batch.map(() => server.get(t + LATENCY_MS / 2));
    t += LATENCY_MS;
    const order = batch.map((_, i) => i).sort(() => random() - 0.5);
    for (const i of order) {
      timed(() => batch[i].complete(answers[i]));
      if (answers[i].status === 200) done++;
    }
    sent += batch.length;
    sinceRestart += batch.length;
  }
  // What is left to this run of each day's allowance once the other program has had its share.
  const dailyAllowed = Math.floor((scenario.limits?.readDay ?? 1000) * buffer) - (scenario.burst?.reads ?? 0);
  return {
    scenario: scenario.name,
    needed,
    sent,
    rejected429: server.rejected,
    maxReadsPerWindow: server.maxRead15,
    elapsedDays: Math.round(((t - start) / DAY_MS) * 100) / 100,
    utcDaysUsed: (dayStart(t) - firstDay) / DAY_MS + 1,
    lowerBoundDays: Math.ceil(needed / dailyAllowed),
    limiterMicrosPerRequest: Math.round(limiterNs / 1000 / sent),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      activities: { type: "string", default: "5000" },
      segments: { type: "string", default: "3000" },
      buffer: { type: "string", default: "0.9" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("Usage: rate_limit_bench.ts [--activities N] [--segments N] [--buffer F] [--json]");
    Deno.exit(0);
  }
  const activities = Number(values.activities);
  const segments = Number(values.segments);
  const buffer = Number(values.buffer);
  // One request per activity, per new segment, and per page of 200 listed activities.
  const needed = activities + segments + Math.ceil(activities / 200);
  // 13:07 UTC: a run that starts mid-window and mid-day.
  const start = Date.UTC(2026, 4, 1, 13, 7, 12);
  const scenarios: Scenario[] = [
    { name: "sequential, default limits" },
    { name: "4 requests in flight", concurrency: 4 },
    { name: "new process every 50 requests (store)", restartEvery: 50 },
    { name: "2 processes in one folder (shared store)", processes: 2 },
    { name: "4 processes in one folder (shared store)", processes: 4 },
    { name: "Strava's clock 5 s behind ours", skewMs: -5000 },
    { name: "Strava's clock 5 s ahead of ours", skewMs: 5000 },
    { name: "raised limits 300/3000 (from headers)", limits: { read15: 300, readDay: 3000, all15: 600, allDay: 6000 } },
    // Lands 10 s into a window, when this run has sent ~30 of its 90: the window overflows once a day.
    { name: "other program: 80 reads daily at 00:30:10", burst: { atMs: (30 * 60 + 10) * 1000, reads: 80 } },
  ];
  const wall = performance.now();
  const results = scenarios.map((s) => run(s, needed, buffer, start));
  const wallMs = Math.round(performance.now() - wall);
  if (values.json) {
    console.log(JSON.stringify({ activities, segments, buffer, needed, wallMs, results }, null, 2));
  } else {
    console.log(
      `Backfill of ${activities} activities + ${segments} segments = ${needed} reads, buffer ${buffer}, ` +
        `latency ${LATENCY_MS} ms, start ${new Date(start).toISOString()}`,
    );
    console.table(results.map((r) => ({
      scenario: r.scenario,
      sent: r.sent,
      "429s": r.rejected429,
      "wasted": r.sent - r.needed,
      "max reads/window": r.maxReadsPerWindow,
      "elapsed days": r.elapsedDays,
      "UTC days used": r.utcDaysUsed,
      "lower bound": r.lowerBoundDays,
      "limiter µs/req": r.limiterMicrosPerRequest,
    })));
    console.log(`Simulated in ${wallMs} ms of real time.`);
  }
}
