import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { migrate } from "../lib/store/schema.ts";
import { MemoryRateState, SqliteRateState } from "../lib/store/rate_state.ts";
import { SharedRateState } from "../lib/store/shared_rate_state.ts";
import { tempDatabase, tempDir } from "./helpers.ts";
import { reservation, stateRow as row } from "./rate_state_fixture.ts";

Deno.test("rate state in SQLite: none before the table exists, then one row per family, updated in place", async () => {
  await using world = await tempDatabase("s.db");
  const { db } = world;
  const state = new SqliteRateState(db);
  deepStrictEqual(state.load(), []);
  migrate(db);
  state.update(0, (current) => {
    deepStrictEqual(current, { rows: [], reservations: [], expired: [] });
    return { rows: [row("read", 1), row("overall", 2)] };
  });
  state.update(0, (current) => ({ rows: current.rows.map((r) => ({ ...r, usage_15min: r.usage_15min! + 5 })) }));
  deepStrictEqual(state.load().sort((a, b) => a.name.localeCompare(b.name)), [
    { ...row("overall", 2), usage_15min: 7 },
    { ...row("read", 1), usage_15min: 6 },
  ]);
});

Deno.test("rate state in SQLite: an adopted table without a key and with odd values still gives whole numbers", async () => {
  await using world = await tempDatabase("s.db");
  const { db } = world;
  db.exec(`CREATE TABLE rate_limit_state (name TEXT, limit_15min, limit_daily, usage_15min, usage_daily,
           observed_at, blocked_until)`);
  db.exec(`INSERT INTO rate_limit_state VALUES ('read', 'x', 1000.7, 5, NULL, 1000, NULL)`);
  const state = new SqliteRateState(db);
  deepStrictEqual(state.load(), [{ ...row("read", 5), limit_15min: null, usage_daily: null }]);
  state.update(0, () => ({ rows: [row("read", 9)] }));
  deepStrictEqual(state.load(), [row("read", 9)]);
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
      strictEqual(state.sharesReservations, true);
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
