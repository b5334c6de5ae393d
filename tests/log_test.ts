import { ok, strictEqual } from "node:assert/strict";
import { logger, setupLogging } from "../lib/log.ts";
import { tempDir } from "./helpers.ts";

Deno.test("log: plain lines, exact ids, unbuffered, rotated when the file grows", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/logs/backfill.log`;
  const close = await setupLogging({ path, maxBytes: 400 });
  try {
    logger("backfill").info("activity {id}: stored {n} segment efforts", { id: 3476329154738394512n, n: 3 });
    // Written at once: a kill -9 right now would lose nothing.
    const first = await Deno.readTextFile(path);
    ok(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z \[INF\] strava-backfill\.backfill: activity 3476329154738394512: stored 3/.test(first),
      first,
    );
    logger("backfill").debug("not shown without --verbose");
    for (let i = 0; i < 10; i++) logger("backfill").info("line {i} of some length to fill the file", { i });
  } finally {
    await close();
  }
  const files = [...Deno.readDirSync(`${dir.path}/logs`)].map((e) => e.name).sort();
  ok(files.includes("backfill.log.1"), files.join(","));
  ok(files.length <= 5);
  const all = files.map((f) => Deno.readTextFileSync(`${dir.path}/logs/${f}`)).join("");
  strictEqual(all.includes("not shown"), false);
  ok(all.includes("line 9 of"));
});
