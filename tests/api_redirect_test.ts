/**
 * Strava's old API base answering a permanent redirect (301/308): the client follows it to one of
 * Strava's API hosts with the token, moves there for the rest of the run and says once what to
 * set; a redirect anywhere else is not followed and the run stops with one line. The new host is
 * played by the in-process simulator behind a fetch that maps https://api-v3.strava.com onto it,
 * so no name is resolved and nothing leaves the process.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { expectedBackfill, StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { runScript, scriptWorld, simClient, withDatabase } from "./helpers.ts";

const NEW = "https://api-v3.strava.com";

/** The simulator as the old host (sim.apiUrl) and as Strava's new host (NEW, mapped onto its root). */
function twoHosts(sim: StravaSimulator) {
  const seen: { url: string; auth: string | null }[] = [];
  const fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    seen.push({ url: url.href, auth: new Headers(init?.headers).get("authorization") });
    if (url.origin === NEW) return sim.fetch(`${new URL(sim.apiUrl).origin}${url.pathname}${url.search}`, init);
    return sim.fetch(url, init);
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

for (const status of [301, 308] as const) {
  Deno.test(`redirect ${status} to the new host: followed with the token, the client moves there, one warning`, async () => {
    const sim = StravaSimulator.inProcess({ seed: 8, activities: 5, segments: 3 });
    sim.moveApi(status, NEW);
    const { fetch, seen } = twoHosts(sim);
    const warnings: string[] = [];
    const { client } = simClient(sim, new VirtualClock(), { client: { fetch, warn: (l) => warnings.push(l) } });
    const athlete = await client.getAthlete();
    strictEqual(athlete.id, sim.truth.athleteId);
    const page = await client.listActivities({ page: 1, perPage: 2 });
    strictEqual(page.length, 2);
    deepStrictEqual(seen.map((s) => s.url), [
      `${sim.apiUrl}/athlete`,
      `${NEW}/athlete`,
      `${NEW}/athlete/activities?page=1&per_page=2`,
    ]);
    const bearer = seen[0].auth;
    ok(bearer?.startsWith("Bearer "));
    ok(seen.every((s) => s.auth === bearer), "the token goes with every hop to Strava's hosts");
    deepStrictEqual(sim.requests.map((r) => r.status), [status, 200, 200]);
    deepStrictEqual(warnings, [
      `Strava's API has moved: ${sim.apiUrl} answers ${status} (permanent redirect) to ${NEW}; this run follows it. ` +
      `Set STRAVA_API_URL=${NEW} to skip the detour`,
    ]);
  });
}

Deno.test("redirect to a host that is not Strava's (or to plain http): not followed, the token not sent, one line, exit 2", async () => {
  for (const target of ["https://api.example.net", "http://api-v3.strava.com", "https://api-v3.strava.com:8443"]) {
    const sim = StravaSimulator.inProcess({ seed: 8, activities: 2, segments: 2 });
    sim.moveApi(301, target);
    const { fetch, seen } = twoHosts(sim);
    const { client } = simClient(sim, new VirtualClock(), { client: { fetch, warn: () => {} } });
    await rejects(client.getAthlete(), (err: Error) => {
      ok(err instanceof UsageError, String(err));
      strictEqual(err.exitCode, 2);
      strictEqual(
        err.message,
        `GET /athlete: ${sim.apiUrl} answered 301, a redirect to ${new URL(target).origin}, which is not one of ` +
          "Strava's API hosts (www.strava.com, api-v3.strava.com, www.api-v3.strava.com); not followed, so the token " +
          "was not sent there: check STRAVA_API_URL",
      );
      return true;
    });
    deepStrictEqual(seen.map((s) => new URL(s.url).origin), [new URL(sim.apiUrl).origin], target);
  }
});

Deno.test("redirect loop: stops after a few hops with one line instead of spending the budget", async () => {
  const sim = StravaSimulator.inProcess({ seed: 8, activities: 2, segments: 2 });
  // Every /api/v3 request answers 308 to /api/v3 again.
  sim.moveApi(308, `${sim.apiUrl}`);
  const { client } = simClient(sim, new VirtualClock(), { client: { warn: () => {} } });
  await rejects(client.getAthlete(), /GET \/athlete: more than 3 redirects from .*; check STRAVA_API_URL/);
  strictEqual(sim.requests.length, 4);
});

Deno.test("incremental_backfill when the old base answers 301: the whole run works, one detour, one warning line", async () => {
  await using world = await scriptWorld({ seed: 21, activities: 6, segments: 4 });
  const { dir, sim, opts } = world;
  const root = new URL(sim.apiUrl).origin;
  sim.moveApi(301, root);
  const r = await runScript("incremental_backfill", ["--mode", "activities"], opts);
  strictEqual(r.code, 0, r.stderr);
  strictEqual(
    r.stderr,
    `warning: Strava's API has moved: ${sim.apiUrl} answers 301 (permanent redirect) to ${root}; this run follows ` +
      `it. Set STRAVA_API_URL=${root} to skip the detour\n`,
  );
  const r2 = await runScript("incremental_backfill", [], opts);
  strictEqual(r2.code, 0, r2.stderr);
  strictEqual(sim.requests.filter((q) => q.status === 301).length, 2, "one detour per run");
  ok(sim.requests.filter((q) => q.status !== 301).every((q) => !q.path.startsWith("/api/v3")));
  const expected = expectedBackfill(sim.truth);
  withDatabase(dir.path, (db) => {
    const efforts = db.prepare("SELECT count(*) n FROM segment_efforts").get() as { n: number };
    strictEqual(efforts.n, expected.efforts.size);
    const pending = db.prepare("SELECT count(*) n FROM activities WHERE efforts_status IS NULL").get() as {
      n: number;
    };
    strictEqual(pending.n, 0);
  });
});
