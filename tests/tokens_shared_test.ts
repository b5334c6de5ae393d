/**
 * lib/strava/tokens.ts when several databases in one folder share one tokens.json: refreshes
 * serialized on the shared file, a lost race re-read and retried once, and a corrupt or empty
 * tokens.json set aside for the database's pair. Faults come through the simulator (rotation on:
 * a refresh token dies once traded in).
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { UsageError } from "../lib/errors.ts";
import { refreshTokens } from "../lib/strava/oauth.ts";
import { openMigrated } from "../lib/store/open.ts";
import { readDatabaseTokens, readTokensFile, saveDatabaseTokens, writeTokensFile } from "../lib/strava/token_store.ts";
import { RefreshingTokenProvider } from "../lib/strava/tokens.ts";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { VirtualClock } from "../lib/testing/virtual_clock.ts";
import { tempDir } from "./helpers.ts";
import { assertClean, CLIENT, probe, stored, storeIssued } from "./token_helpers.ts";

const SIM_CLIENT = { ...CLIENT, clientSecret: "sim-secret" };
const tokenRequests = (sim: StravaSimulator) => sim.requests.filter((r) => r.path === "/oauth/token");

/** a.db and b.db in `dir`, both holding `issued` (expiring now), as does the shared tokens.json. */
function twoDatabases(dir: string, sim: StravaSimulator, now: number): [DatabaseSync, DatabaseSync] {
  const a = openMigrated(`${dir}/a.db`, { create: true });
  const b = openMigrated(`${dir}/b.db`, { create: true });
  const record = storeIssued(a, `${dir}/tokens.json`, sim.issueTokens(), now, Math.floor(now / 1000));
  saveDatabaseTokens(b, record);
  return [a, b];
}

Deno.test("tokens+sim: a.db and b.db sharing tokens.json refresh at once: one refresh, both go on", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start();
  const [a, b] = twoDatabases(dir.path, sim, Date.now());
  try {
    // The answer is held back, so both providers are inside the refresh at once.
    sim.addFault({ path: /^\/oauth\/token$/, kind: "slow", delayMs: 300 });
    const make = (db: DatabaseSync) =>
      new RefreshingTokenProvider({
        config: { ...SIM_CLIENT, oauthUrl: sim.oauthUrl },
        db,
        tokensPath: `${dir.path}/tokens.json`,
        lockPollMs: 5,
      });
    const [pa, pb] = [make(a), make(b)];
    const [ta, tb] = await Promise.all([pa.accessToken(), pb.accessToken()]);
    strictEqual(ta, tb, "the second took the pair the first stored in tokens.json");
    strictEqual(tokenRequests(sim).length, 1, "one refresh request between the two databases");
    strictEqual(pa.refreshCount + pb.refreshCount, 1);
    strictEqual(sim.validRefreshTokens(), 1);
    strictEqual(readTokensFile(`${dir.path}/tokens.json`)!.accessToken, ta);
    strictEqual(Deno.statSync(`${dir.path}/tokens.json.lock`).mode! & 0o777, 0o600);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("tokens+sim subprocesses: two backfills on a.db and b.db with one tokens.json both succeed", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start();
  const [a, b] = twoDatabases(dir.path, sim, Date.now());
  a.close();
  b.close();
  // Held long enough that both processes, however slowly they start, send their refresh inside it.
  sim.addFault({ path: /^\/oauth\/token$/, kind: "slow", delayMs: 1500 });
  const both = await Promise.all([probe(dir.path, sim, {}, "a.db"), probe(dir.path, sim, {}, "b.db")]);
  for (const r of both) strictEqual(r.code, 0, r.stderr);
  const refreshes = both.map((r) => Number(r.stdout.trim().split(" ").at(-1)));
  strictEqual(refreshes[0] + refreshes[1], 1, both.map((r) => r.stdout).join(""));
  strictEqual(tokenRequests(sim).length, 1);
  strictEqual(tokenRequests(sim).filter((r) => r.status !== 200).length, 0, "no refresh token traded in twice");
  strictEqual(sim.validRefreshTokens(), 1);
  const file = readTokensFile(`${dir.path}/tokens.json`)!;
  assertClean(both, [file.accessToken, file.refreshToken]);
});

Deno.test("tokens+sim: a refresh that loses the race re-reads the stores and takes the winner's pair", async () => {
  await using dir = await tempDir();
  const clock = new VirtualClock();
  const sim = StravaSimulator.inProcess({ now: clock.now });
  const tokensPath = `${dir.path}/tokens.json`;
  const [a, b] = twoDatabases(dir.path, sim, clock.now());
  try {
    const dead = readDatabaseTokens(a)[0].refreshToken;
    let rival: string | undefined;
    // A process this one's locks cannot see (its lock taken over after the lease) trades the same
    // refresh token in just before this one and stores the new pair in the shared tokens.json.
    const racingFetch: typeof fetch = async (input, init) => {
      if (rival === undefined && String(input).endsWith("/oauth/token")) {
        const issued = await refreshTokens(
          { oauthUrl: sim.oauthUrl, clientId: SIM_CLIENT.clientId, clientSecret: "sim-secret", fetch: sim.fetch },
          dead,
          clock.now,
        );
        rival = issued.accessToken;
        const record = stored({
          accessToken: issued.accessToken,
          refreshToken: issued.refreshToken,
          expiresAt: issued.expiresAt,
          updatedAt: new Date(clock.now()).toISOString(),
        });
        saveDatabaseTokens(b, record, dead);
        writeTokensFile(tokensPath, record);
      }
      return sim.fetch(input, init);
    };
    const provider = new RefreshingTokenProvider({
      config: { ...SIM_CLIENT, oauthUrl: sim.oauthUrl },
      db: a,
      tokensPath,
      fetch: racingFetch,
      now: clock.now,
      sleep: clock.sleep,
    });
    const token = await provider.accessToken();
    strictEqual(token, rival, "the pair the rival stored");
    strictEqual(provider.refreshCount, 0);
    const statuses = tokenRequests(sim).map((r) => r.status);
    strictEqual(statuses.length, 2, "the rival's refresh and this one's, refused");
    ok(statuses[1] !== 200, String(statuses));

    // With nothing new in the stores the retry finds nothing to try: exit 3 as before.
    sim.revokeRefreshTokens();
    clock.advance(7 * 3600_000);
    await rejects(provider.accessToken(), (e) => e instanceof Error && /run setup_auth/.test(e.message));
  } finally {
    a.close();
    b.close();
    await sim.close();
  }
});

Deno.test("tokens: an empty or corrupt tokens.json is set aside with a warning when the database holds a pair", async () => {
  await using dir = await tempDir();
  const clock = new VirtualClock();
  const sim = StravaSimulator.inProcess({ now: clock.now });
  const tokensPath = `${dir.path}/tokens.json`;
  const db = openMigrated(`${dir.path}/a.db`, { create: true });
  try {
    const record = storeIssued(db, tokensPath, sim.issueTokens(), clock.now());
    for (const [text, problem] of [["", "is empty"], ['{"refresh_tok', "is not valid JSON"], ["{}", "holds no"]]) {
      Deno.writeTextFileSync(tokensPath, text);
      const warnings: string[] = [];
      const provider = (database?: DatabaseSync) =>
        new RefreshingTokenProvider({
          config: { ...SIM_CLIENT, oauthUrl: sim.oauthUrl },
          db: database,
          tokensPath,
          fetch: sim.fetch,
          now: clock.now,
          sleep: clock.sleep,
          warn: (line) => warnings.push(line),
        });
      strictEqual(await provider(db).accessToken(), record.accessToken, text);
      strictEqual(warnings.length, 1, warnings.join("\n"));
      ok(
        warnings[0].startsWith(`${tokensPath} ${problem}`) && /using the token pair in the database/.test(warnings[0]),
      );
      ok(!warnings[0].includes(record.refreshToken));
      strictEqual(Deno.readTextFileSync(tokensPath), text, "left as it was while no refresh is needed");
      // Nothing else holds a pair: still the usage error (exit 2) naming the file.
      await rejects(provider().accessToken(), (e) => e instanceof UsageError && e.message.includes(tokensPath));
    }
    // A refresh rewrites the file with the new pair.
    clock.advance(7 * 3600_000);
    const fresh = new RefreshingTokenProvider({
      config: { ...SIM_CLIENT, oauthUrl: sim.oauthUrl },
      db,
      tokensPath,
      fetch: sim.fetch,
      now: clock.now,
      sleep: clock.sleep,
      warn: () => {},
    });
    const token = await fresh.accessToken();
    strictEqual(fresh.refreshCount, 1);
    strictEqual(readTokensFile(tokensPath)!.accessToken, token);
  } finally {
    db.close();
    await sim.close();
  }
});

Deno.test("tokens+sim subprocesses: a corrupt tokens.json beside a valid database pair warns and runs (was exit 2)", async () => {
  await using dir = await tempDir();
  await using sim = await StravaSimulator.start();
  const db = openMigrated(`${dir.path}/segments.db`, { create: true });
  let record;
  try {
    record = storeIssued(db, `${dir.path}/tokens.json`, sim.issueTokens(), Date.now());
  } finally {
    db.close();
  }
  Deno.writeTextFileSync(`${dir.path}/tokens.json`, "{ truncated");
  const r = await probe(dir.path, sim);
  strictEqual(r.code, 0, r.stderr);
  strictEqual(r.stdout.trim(), `athlete ${sim.truth.athleteId} refreshes 0`);
  strictEqual(
    r.stderr.trim(),
    "warning: tokens.json is not valid JSON; using the token pair in the database (the file is rewritten at the " +
      "next token refresh)",
  );
  assertClean([r], [record.accessToken, record.refreshToken]);
});
