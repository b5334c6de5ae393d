import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { get, parseExact, WINDOW } from "./sim_helpers.ts";
import { ROOT } from "./helpers.ts";
import { pathToFileURL } from "node:url";

Deno.test("sim: faults 500, 503, malformed and 429 hit only matching requests, `times` times", async () => {
  const clock = new VirtualClock(Date.UTC(2026, 4, 1, 10, 0, 0));
  await using sim = await StravaSimulator.start({ now: clock.now });
  const token = sim.issueTokens().access_token;
  const seg = [...sim.truth.segments.keys()].find((id) => !sim.truth.privateSegments.has(id))!;
  sim.addFault({ path: /\/segments\//, kind: "500", times: 2 });
  strictEqual((await get(sim, "/athlete", token)).status, 200, "other paths are untouched");
  strictEqual((await get(sim, `/segments/${seg}`, token)).status, 500);
  strictEqual((await get(sim, `/segments/${seg}`, token)).status, 500);
  strictEqual((await get(sim, `/segments/${seg}`, token)).status, 200);

  sim.addFault({ kind: "503" });
  const unavailable = await get(sim, "/athlete", token);
  strictEqual(unavailable.status, 503);
  ok(unavailable.headers.get("x-ratelimit-usage"));

  sim.addFault({ kind: "malformed" });
  const malformed = await get(sim, `/segments/${seg}`, token);
  strictEqual(malformed.status, 200);
  let threw = false;
  try {
    JSON.parse(malformed.text);
  } catch {
    threw = true;
  }
  ok(threw && malformed.text.length > 10, "a truncated body that is not JSON");

  sim.addFault({ kind: "429" });
  const forced = await get(sim, "/athlete", token);
  strictEqual(forced.status, 429);
  strictEqual(JSON.parse(forced.text).message, "Rate Limit Exceeded");
  strictEqual((await get(sim, "/athlete", token)).status, 429, "the window is spent, not just one answer");
  clock.advance(WINDOW);
  strictEqual((await get(sim, "/athlete", token)).status, 200);
  strictEqual(sim.pendingFaults(), 0);
  deepStrictEqual(
    sim.requests.map((r) => [r.status, r.fault]),
    [
      [200, undefined],
      [500, "500"],
      [500, "500"],
      [200, undefined],
      [503, "503"],
      [200, "malformed"],
      [429, "429"],
      [429, undefined],
      [200, undefined],
    ],
  );
});

Deno.test("sim: a dropped connection fails the client's request, over the socket and in-process", async () => {
  await using sim = await StravaSimulator.start();
  const token = sim.issueTokens().access_token;
  sim.addFault({ kind: "drop", path: /^\/api\/v3\/athlete$/ });
  await rejects(async () => {
    const res = await fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } });
    await res.text();
  }, TypeError);
  sim.addFault({ kind: "drop" });
  await rejects(sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } }), TypeError);
  deepStrictEqual(sim.requests.map((r) => [r.status, r.fault]), [[0, "drop"], [0, "drop"]]);
  const after = await sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } });
  strictEqual(after.status, 200);
  await after.body?.cancel();
});

Deno.test("sim: a slow answer arrives late, and a client that gives up leaves no timer behind", async () => {
  await using sim = await StravaSimulator.start();
  const token = sim.issueTokens().access_token;
  const headers = { Authorization: `Bearer ${token}` };
  sim.addFault({ kind: "slow", delayMs: 40 });
  const started = performance.now();
  const late = await sim.fetch(`${sim.apiUrl}/athlete`, { headers });
  ok(performance.now() - started >= 35);
  strictEqual(late.status, 200);
  await late.body?.cancel();

  sim.addFault({ kind: "slow", delayMs: 60_000, times: 2 });
  await rejects(
    sim.fetch(`${sim.apiUrl}/athlete`, { headers, signal: AbortSignal.timeout(30) }),
    (e: Error) => e.name === "TimeoutError",
  );
  await rejects(
    fetch(`${sim.apiUrl}/athlete`, { headers, signal: AbortSignal.timeout(30) }),
    (e: Error) => e.name === "TimeoutError",
  );
  // The server notices the socket client leaving and drops its 60 s timer at once.
  for (let i = 0; i < 200 && sim.pendingDelays() > 0; i++) await new Promise((r) => setTimeout(r, 5));
  strictEqual(sim.pendingDelays(), 0);
  deepStrictEqual(sim.requests.map((r) => [r.status, r.fault]), [[200, "slow"], [0, "slow"], [0, "slow"]]);
});

Deno.test("sim: close abandons pending slow answers promptly", async () => {
  const sim = await StravaSimulator.start();
  const token = sim.issueTokens().access_token;
  sim.addFault({ kind: "slow", delayMs: 60_000 });
  const pending = sim.fetch(`${sim.apiUrl}/athlete`, { headers: { Authorization: `Bearer ${token}` } })
    .then(() => "answered", (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 5));
  strictEqual(sim.pendingDelays(), 1);
  const started = performance.now();
  await sim.close();
  ok((await pending) instanceof TypeError);
  strictEqual(sim.pendingDelays(), 0);
  ok(performance.now() - started < 5000);
  await sim.close();
  await rejects(sim.fetch(`${sim.apiUrl}/athlete`), TypeError);
});

Deno.test("sim: listing faults: an empty page, a page cut in half, a race after the answer, skip", async () => {
  await using sim = await StravaSimulator.start({ activities: 30 });
  const token = sim.issueTokens().access_token;
  const list = async () =>
    parseExact((await get(sim, "/athlete/activities?per_page=10", token)).text) as { id: bigint }[];
  const live = sim.truth.activities.filter((a) => !a.deleted);
  sim.addFault({ path: /\/athlete\/activities$/, kind: "empty", skip: 1 });
  strictEqual((await list()).length, 10, "skipped: the first matching request is untouched");
  deepStrictEqual(await list(), [], "then 200 []");
  sim.addFault({ path: /\/athlete\/activities$/, kind: "truncate" });
  strictEqual((await list()).length, 5);
  const victim = live.at(-1)!;
  let raced = 0;
  sim.addFault({ path: /\/athlete\/activities$/, kind: "race", race: () => raced++ });
  sim.addFault({ path: /\/athlete\/activities$/, kind: "race", race: () => sim.deleteActivity(victim.id) });
  strictEqual((await list()).length, 10);
  strictEqual(raced, 1);
  strictEqual((await list())[0].id, victim.id, "deleted after this answer was served");
  ok((await list())[0].id !== victim.id, "gone from the next one");
  strictEqual(sim.pendingFaults(), 0);
  deepStrictEqual(sim.requests.map((r) => r.fault), [undefined, "empty", "truncate", "race", "race", undefined]);
});

Deno.test("sim: a slow answer over the socket, delivered or given up on, prints no Deno notice", async () => {
  // A child process under deno.json, as `deno task test` runs: Deno prints its request.signal
  // notice once per process, and only when a served request's signal was read (slow faults).
  const child = `
    import { StravaSimulator } from ${JSON.stringify(pathToFileURL(`${ROOT}lib/testing/strava_sim.ts`).href)};
    await using sim = await StravaSimulator.start();
    const headers = { Authorization: "Bearer " + sim.issueTokens().access_token };
    sim.addFault({ kind: "slow", delayMs: 20 });
    await (await fetch(sim.apiUrl + "/athlete", { headers })).text();
    sim.addFault({ kind: "slow", delayMs: 60_000 });
    await fetch(sim.apiUrl + "/athlete", { headers, signal: AbortSignal.timeout(30) }).catch(() => {});
    for (let i = 0; i < 200 && sim.pendingDelays() > 0; i++) await new Promise((r) => setTimeout(r, 5));
    console.log(JSON.stringify(sim.requests.map((r) => r.status)), sim.pendingDelays());
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--config=${ROOT}deno.json`, child],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
  strictEqual(out.code, 0, stderr);
  strictEqual(stdout.trim(), "[200,0] 0", "the late answer was delivered and the client leaving was seen");
  strictEqual(stderr, "");
});
