/** Test helper: the backfill engine on a real SQLite file against the in-process simulator. */
import { type Database, openDatabase } from "../lib/store/db.ts";
import { migrate } from "../lib/store/schema.ts";
import { runBackfill } from "../lib/backfill/engine.ts";
import { runOneTime } from "../lib/backfill/manage.ts";
import type { EngineContext, ManageResult, RunLimits } from "../lib/backfill/run_types.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import type { SimActivity } from "../lib/testing/sim_truth.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { simContext, tempDir } from "./helpers.ts";
import { apiRequests } from "./truth.ts";

/** An engine on a fresh database against an in-process simulator on a virtual clock. */
export interface Harness extends AsyncDisposable {
  db: Database;
  sim: StravaSimulator;
  clock: VirtualClock;
  ctx: EngineContext;
  run(limits: Partial<RunLimits>): ReturnType<typeof runBackfill>;
  /** `manage_backfill --mode one-time` with its default batch sizes (50/50). */
  oneTime(): Promise<ManageResult>;
  /** API requests (not OAuth) the simulator saw. */
  apiRequests(): string[];
}

/** Builds a Harness (40 activities, no-wait, full scope unless told). */
export async function harness(
  options: {
    scope?: string;
    activities?: number;
    limits?: Record<string, number>;
    wait?: boolean;
    /** Runs on the new database file before it is migrated (e.g. the seed toolkit's schema). */
    before?: (db: Database) => void;
  } = {},
): Promise<Harness> {
  const dir = await tempDir();
  const clock = new VirtualClock();
  const sim = StravaSimulator.inProcess({
    seed: 7,
    activities: options.activities ?? 40,
    segments: 30,
    now: clock.now,
    limits: options.limits,
  });
  const db = openDatabase(`${dir.path}/h.db`, { create: true });
  options.before?.(db);
  migrate(db);
  const ctx = simContext(db, sim, clock, { wait: options.wait ?? false, scope: options.scope });
  return {
    db,
    sim,
    clock,
    ctx,
    run: (limits) => runBackfill(ctx, { mode: "both", activities: 1000, segments: 1000, ...limits }),
    oneTime: () => runOneTime(ctx, { activities: 50, segments: 50, statePath: `${dir.path}/backfill_state.json` }),
    apiRequests: () => apiRequests(sim),
    async [Symbol.asyncDispose]() {
      db.close();
      await sim.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Seeds activities as an archive import would: ids, dates, manual flag; nothing from the API. */
export function seedFromArchive(db: Database, activities: SimActivity[]): void {
  const insert = db.prepare(
    "INSERT INTO activities (id, name, start_date, distance, manual, source) VALUES (?, ?, ?, ?, ?, 'archive')",
  );
  for (const a of activities) insert.run(a.id, `activity ${a.id}`, a.startDate, a.distance, a.manual ? 1 : 0);
}
