/**
 * The failure policy under faults injected through the simulator: a poison record settles after
 * its bounded attempts and then costs no read, an outage burns no attempt, and a record the tool
 * cannot store fails alone while the run goes on.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { prepareExact } from "../lib/store/db.ts";
import { MAX_ATTEMPTS } from "../lib/store/backfill_store.ts";
import { StravaUnreachableError } from "../lib/backfill/failure_policy.ts";
import type { SimActivity } from "../lib/testing/sim_truth.ts";
import { type Harness, harness } from "./backfill_harness.ts";
import { runScript, scriptWorld, withDatabase } from "./helpers.ts";

/** Fetchable activities, oldest first: the end of the queue (which runs newest first). */
function queueEnd(activities: SimActivity[]): SimActivity[] {
  return activities.filter((a) => !a.deleted && !a.manual && a.hasGps).sort((a, b) => a.startEpoch - b.startEpoch);
}

function row(h: Harness, id: bigint) {
  return prepareExact(
    h.db,
    `SELECT efforts_status s, efforts_attempts n, efforts_unconfirmed u, segment_efforts_processed p, efforts_error e
     FROM activities WHERE id = ?`,
  ).get(id) as { s: string | null; n: bigint; u: bigint; p: bigint; e: string | null };
}

const readsOf = (h: Harness, id: bigint) =>
  h.apiRequests().filter((r) => r.startsWith(`/api/v3/activities/${id}?`)).length;

function integrityOk(h: Harness): void {
  strictEqual(h.db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
  const orphans = h.db.prepare(
    `SELECT count(*) n FROM segment_efforts e LEFT JOIN activities a ON a.id = e.activity_id
     WHERE a.id IS NULL OR a.efforts_status IS NOT 'ok'`,
  ).get() as { n: number };
  strictEqual(orphans.n, 0, "efforts only under activities stored ok");
}

for (const poisons of [1, 3]) {
  Deno.test(`failure_policy: ${poisons} poison record(s) at the end of the queue settle as failed after ${MAX_ATTEMPTS} runs, then cost no read`, async () => {
    await using h = await harness({ activities: 30 });
    await h.run({ mode: "activities" });
    const victims = queueEnd(h.sim.truth.activities).slice(0, poisons).map((a) => a.id);
    for (const id of victims) h.sim.addFault({ path: new RegExp(`/activities/${id}$`), kind: "503", times: 1000 });
    for (let run = 1; run <= MAX_ATTEMPTS; run++) {
      const summary = await h.run({ mode: "efforts" }); // never an error: Strava answers the check request
      for (const id of victims) {
        const r = row(h, id);
        strictEqual(Number(r.n), run, `attempts after run ${run}`);
        strictEqual(r.s, run < MAX_ATTEMPTS ? null : "failed");
        strictEqual(Number(r.p), run < MAX_ATTEMPTS ? 0 : 1);
        ok(r.e?.includes("HTTP 503"), String(r.e));
      }
      strictEqual(run < MAX_ATTEMPTS ? summary.efforts.retry_later : summary.efforts.failed, poisons);
    }
    // 1 request + the client's 4 retries per attempt, MAX_ATTEMPTS attempts; then never again.
    for (const id of victims) strictEqual(readsOf(h, id), 5 * MAX_ATTEMPTS);
    const before = h.apiRequests().length;
    const after = await h.run({ mode: "efforts" });
    strictEqual(h.apiRequests().length, before, "a settled record costs no read");
    strictEqual(after.pendingActivities, 0);
    integrityOk(h);
    const ok_ = h.db.prepare("SELECT count(*) n FROM activities WHERE efforts_status = 'ok'").get() as { n: number };
    strictEqual(ok_.n, queueEnd(h.sim.truth.activities).length - poisons, "every other activity stored");
  });
}

Deno.test("failure_policy: an outage after some successes burns no attempt and ends the run (exit 1)", async () => {
  await using h = await harness({ activities: 30 });
  await h.run({ mode: "activities" });
  const client = h.ctx.client;
  let fetched = 0;
  h.ctx.client = {
    ...client,
    getActivity: async (id) => {
      const a = await client.getActivity(id);
      if (++fetched === 2) h.sim.addFault({ path: /\/activities\/\d+$/, kind: "503", times: 1000 });
      return a;
    },
    getSegment: (id) => client.getSegment(id),
    listActivities: (p) => client.listActivities(p),
  };
  await rejects(h.run({ mode: "efforts" }), (err: Error) => {
    ok(err instanceof StravaUnreachableError, String(err));
    ok(/failed 3 times in a row .*nothing was lost/.test(err.message), err.message);
    return true;
  });
  const charged = h.db.prepare(
    "SELECT count(*) n FROM activities WHERE efforts_attempts > 0 AND efforts_status IS NOT 'ok' OR efforts_unconfirmed > 0",
  ).get() as { n: number };
  strictEqual(charged.n, 0, "no attempt burnt, no mark left");
  strictEqual(fetched, 2);
});

Deno.test("failure_policy: a failure left unconfirmed by a run stopped at the budget is charged by the next run's answer", async () => {
  // floor(7 x 0.9) = 6 reads a window: the list page, then the newest activity's 5 (1 + 4 retries).
  await using h = await harness({ activities: 30, limits: { read15: 7 } });
  await h.run({ mode: "activities" });
  const newest = queueEnd(h.sim.truth.activities).at(-1)!.id;
  h.sim.addFault({ path: new RegExp(`/activities/${newest}$`), kind: "503", times: 10 }); // two attempts' worth
  const first = await h.run({ mode: "efforts" });
  ok(first.stoppedUntil !== null, "stopped at the budget right after the failure");
  deepStrictEqual([Number(row(h, newest).n), Number(row(h, newest).u)], [0, 1], "marked, not charged");
  h.clock.advanceTo(first.stoppedUntil + 1000);
  const second = await h.run({ mode: "efforts" }); // fails once more, then the next one is answered
  strictEqual(second.efforts.fetched, 1);
  const r = row(h, newest);
  deepStrictEqual([Number(r.n), Number(r.u), r.s], [2, 0, null], "both failures charged by the later answer");
  ok(r.e?.includes("HTTP 503"), String(r.e));
});

/** The detail body of `activity` with its first effort's id replaced by `id` (raw JSON text). */
function withEffortId(activity: SimActivity, id: string): (body: string) => string {
  const first = String(activity.effortIds[0]);
  return (body) => {
    ok(body.includes(`"id":${first}`), "the effort id is in the body");
    return body.replace(`"id":${first}`, `"id":${id}`);
  };
}

for (
  const [label, rewrite, reason, status] of [
    [
      "an effort id above 2^63",
      (a: SimActivity) => withEffortId(a, "18446744073709551616"),
      /not a positive 64-bit/,
      "failed",
    ],
    ["a null effort id", (a: SimActivity) => withEffortId(a, "null"), /id is null/, "failed"],
    ["a negative effort id", (a: SimActivity) => withEffortId(a, "-5"), /id is -5/, "failed"],
    [
      "a body without segment_efforts",
      () => (body: string) => body.replace(/"segment_efforts":\[/, '"segment_efforts_gone":['),
      /no segment_efforts array/,
      null,
    ],
  ] as const
) {
  Deno.test(`failure_policy: ${label} fails that activity alone with its reason; the run goes on`, async () => {
    await using h = await harness({ activities: 30 });
    await h.run({ mode: "activities" });
    const victim = queueEnd(h.sim.truth.activities).find((a) => a.effortIds.length > 0)!;
    h.sim.addFault({
      path: new RegExp(`/activities/${victim.id}$`),
      kind: "rewrite",
      rewrite: rewrite(victim),
      times: 5,
    });
    const summary = await h.run({});
    strictEqual(summary.pendingSegments, 0);
    const r = row(h, victim.id);
    strictEqual(r.s, status);
    strictEqual(Number(r.n), 1);
    ok(reason.test(String(r.e)), String(r.e));
    const stored = h.db.prepare("SELECT count(*) n FROM segment_efforts WHERE activity_id = ?").get(victim.id) as {
      n: number;
    };
    strictEqual(stored.n, 0, "no effort stored for it, none invented");
    const ok_ = h.db.prepare("SELECT count(*) n FROM activities WHERE efforts_status = 'ok'").get() as { n: number };
    strictEqual(ok_.n, queueEnd(h.sim.truth.activities).length - 1, "every other activity stored");
    integrityOk(h);
    const reads = readsOf(h, victim.id);
    await h.run({});
    strictEqual(
      readsOf(h, victim.id),
      reads + (status === "failed" ? 0 : 1),
      "settled: no read; else one attempt more",
    );
  });
}

Deno.test("failure_policy: a segment with a value beyond SQLite's integers fails alone", async () => {
  await using h = await harness({ activities: 30 });
  await h.run({ mode: "activities" });
  await h.run({ mode: "efforts" });
  const [segment] = (prepareExact(h.db, "SELECT id FROM segments WHERE details_status IS NULL LIMIT 1").all() as {
    id: bigint;
  }[]).map((r) => r.id);
  h.sim.addFault({
    path: new RegExp(`/segments/${segment}$`),
    kind: "rewrite",
    rewrite: (body) => body.replace(/"effort_count":\d+/, '"effort_count":99999999999999999999'),
  });
  const summary = await h.run({ mode: "segments" });
  strictEqual(summary.segments.failed, 1);
  const r = prepareExact(h.db, "SELECT details_status s, details_error e FROM segments WHERE id = ?").get(segment) as {
    s: string;
    e: string;
  };
  strictEqual(r.s, "failed");
  ok(r.e.includes("beyond SQLite's 64-bit integers"), r.e);
  strictEqual(summary.pendingSegments, 0);
});

Deno.test("failure_policy: incremental_backfill with poison records at the end exits 0, and they settle (subprocess)", async () => {
  await using world = await scriptWorld({ seed: 21, activities: 12, segments: 10 });
  const { dir, sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  const victims = queueEnd(sim.truth.activities).slice(0, 3).map((a) => a.id);
  // Garbled bodies are not retried by the client: one read per attempt, and quick in real time.
  for (const id of victims) sim.addFault({ path: new RegExp(`/activities/${id}$`), kind: "malformed", times: 1000 });
  const reads = () => sim.requests.filter((r) => victims.some((id) => r.path === `/api/v3/activities/${id}`)).length;
  for (let run = 1; run <= MAX_ATTEMPTS; run++) {
    const r = await runScript("incremental_backfill", ["--mode", "efforts"], opts);
    strictEqual(r.code, 0, r.stderr);
  }
  strictEqual(reads(), 3 * MAX_ATTEMPTS);
  const before = sim.requests.length;
  const last = await runScript("incremental_backfill", ["--mode", "efforts"], opts);
  strictEqual(last.code, 0, last.stderr);
  strictEqual(sim.requests.length, before, "settled records cost no read");
  withDatabase(dir.path, (db) => {
    const failed = db.prepare("SELECT count(*) n FROM activities WHERE efforts_status = 'failed'").get() as {
      n: number;
    };
    strictEqual(failed.n, 3);
    strictEqual(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
  });
});

Deno.test("failure_policy: one-time asks a failing record once per command, not once per batch", async () => {
  await using h = await harness({ activities: 150, wait: true });
  const newest = queueEnd(h.sim.truth.activities).at(-1)!.id; // first in the queue, so in the first batch
  h.sim.addFault({ path: new RegExp(`/activities/${newest}$`), kind: "503", times: 100_000 });
  for (let command = 1; command <= MAX_ATTEMPTS; command++) {
    await h.oneTime();
    strictEqual(readsOf(h, newest), 5 * command, `one attempt (5 reads) in command ${command}`);
    strictEqual(Number(row(h, newest).n), command);
  }
  strictEqual(row(h, newest).s, "failed");
  const before = h.apiRequests().length;
  await h.oneTime();
  strictEqual(h.apiRequests().length, before + 1, "only the listing: the settled record costs no read");
});

Deno.test("failure_policy: incremental_backfill with an effort id above 2^63 exits 0; that activity fails alone (subprocess)", async () => {
  await using world = await scriptWorld({ seed: 22, activities: 12, segments: 10 });
  const { dir, sim, opts } = world;
  strictEqual((await runScript("incremental_backfill", ["--mode", "activities"], opts)).code, 0);
  const victim = queueEnd(sim.truth.activities).at(-1)!; // the first fetched
  sim.addFault({
    path: new RegExp(`/activities/${victim.id}$`),
    kind: "rewrite",
    rewrite: withEffortId(victim, "18446744073709551616"),
    times: 100,
  });
  const r = await runScript("incremental_backfill", ["--mode", "efforts"], opts);
  strictEqual(r.code, 0, r.stderr);
  const again = await runScript("incremental_backfill", ["--mode", "efforts"], opts);
  strictEqual(again.code, 0, again.stderr);
  strictEqual(
    sim.requests.filter((q) => q.path === `/api/v3/activities/${victim.id}`).length,
    1,
    "one read, then settled",
  );
  withDatabase(dir.path, (db) => {
    const row = prepareExact(db, "SELECT efforts_status s, efforts_error e FROM activities WHERE id = ?").get(
      victim.id,
    ) as {
      s: string;
      e: string;
    };
    strictEqual(row.s, "failed");
    ok(row.e.includes("18446744073709551616"), row.e);
    const stored = db.prepare("SELECT count(*) n FROM activities WHERE efforts_status = 'ok'").get() as { n: number };
    strictEqual(stored.n, queueEnd(sim.truth.activities).length - 1, "every other activity stored");
    strictEqual(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
  });
  ok((await Deno.readTextFile(`${dir.path}/backfill.log`)).includes("cannot store"), "the reason is in backfill.log");
});
