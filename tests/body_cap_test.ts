/**
 * Memory bounded by the response: a body over the client's cap is refused (never retried, never
 * held), and the engine fails only that record, with the reason, and goes on with the rest. The
 * peak memory of a large body is measured by `deno task bench:memory`, not here.
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import { openDatabase } from "../lib/store/db.ts";
import { runBackfill } from "../lib/backfill/engine.ts";
import { ResponseTooLargeError } from "../lib/strava/client.ts";
import { parseJson, rawJson } from "../lib/json.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { engineWorld, folderBudget, simClient } from "./helpers.ts";

const CAP = 200_000;

/** A client whose body cap is CAP, with a limiter persisting to the budget store of `db`'s folder. */
function cappedClient(sim: StravaSimulator, clock: VirtualClock, db: ReturnType<typeof openDatabase>) {
  return simClient(sim, clock, { limiter: { state: folderBudget(db) }, client: { maxBodyBytes: CAP } });
}

Deno.test("body cap: a body over the cap is refused after one request, with a reason naming the cap", async () => {
  await using world = await engineWorld({ seed: 31, activities: 6, segments: 10 }, "b.db");
  const { clock, sim, db } = world;
  const { client } = cappedClient(sim, clock, db);
  const target = sim.truth.activities.find((a) => a.effortIds.length > 0)!;
  sim.addFault({ path: new RegExp(`/activities/${target.id}$`), kind: "huge", bytes: 3 * CAP, times: 5 });
  const before = sim.requests.length;
  await rejects(client.getActivity(target.id), (err: Error) => {
    ok(err instanceof ResponseTooLargeError, String(err));
    ok(/more than the 0\.2 MB this tool accepts; not stored/.test(err.message), err.message);
    return true;
  });
  strictEqual(sim.requests.length - before, 1, "not retried");
});

Deno.test("body cap: the engine fails that record with its reason and stores the others", async () => {
  await using world = await engineWorld({ seed: 32, activities: 8, segments: 10 }, "e.db");
  const { clock, sim, db } = world;
  const { client, limiter } = cappedClient(sim, clock, db);
  const ctx = { db, client, limiter, now: clock.now, sleep: clock.sleep, wait: true };
  await runBackfill(ctx, { mode: "activities", activities: 50, segments: 0 });
  const target = sim.truth.activities.find((a) => a.effortIds.length > 0)!;
  sim.addFault({ path: new RegExp(`/activities/${target.id}$`), kind: "huge", bytes: 3 * CAP, times: 5 });
  const summary = await runBackfill(ctx, { mode: "efforts", activities: 50, segments: 0 });
  strictEqual(summary.efforts.failed, 1);
  ok(summary.efforts.fetched > 0, "the others are stored");
  const row = db.prepare("SELECT efforts_status s, efforts_attempts n, efforts_error e FROM activities WHERE id = ?")
    .get(target.id) as { s: string; n: number; e: string };
  strictEqual(row.s, "failed");
  strictEqual(row.n, 1, "settled at the first answer: asking again gets the same body");
  ok(row.e.includes("this tool accepts"), row.e);
});

Deno.test("body cap: a record stored as received keeps Strava's text in raw_json", () => {
  const text = '{"id":9007199254740993,"name":"x","segment_efforts":[{"id":18014398509482001}]}';
  const record = parseJson(text, { keepSource: true }) as Record<string, unknown>;
  strictEqual(record.id, 9007199254740993n);
  strictEqual(rawJson(record), text);
  strictEqual(Object.keys(record).length, 3, "the source text is not an enumerable field");
  strictEqual(rawJson({ id: 5n }), '{"id":5}');
});
