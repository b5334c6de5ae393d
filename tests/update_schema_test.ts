import { ok, strictEqual } from "node:assert/strict";
import { LATEST_VERSION } from "../lib/store/schema.ts";
import { fileDigest, runScript, tempDir } from "./helpers.ts";

Deno.test("update_schema: missing database without --create exits 2, names --create, leaves no file", async () => {
  await using dir = await tempDir();
  const r = await runScript("update_schema", [], { cwd: dir.path });
  strictEqual(r.code, 2);
  ok(r.stderr.includes("--create"), r.stderr);
  strictEqual([...Deno.readDirSync(dir.path)].length, 0);
});

Deno.test("update_schema: --create creates, a re-run is a no-op", async () => {
  await using dir = await tempDir();
  const first = await runScript("update_schema", ["--create"], { cwd: dir.path });
  strictEqual(first.code, 0, first.stderr);
  ok(first.stdout.includes(`schema version 0 -> ${LATEST_VERSION}`), first.stdout);
  const digest = await fileDigest(`${dir.path}/data/segments.db`);
  const second = await runScript("update_schema", [], { cwd: dir.path });
  strictEqual(second.code, 0, second.stderr);
  ok(second.stdout.includes("up to date"), second.stdout);
  strictEqual(await fileDigest(`${dir.path}/data/segments.db`), digest);
});

Deno.test("update_schema: a junk file is refused with exit 2 and left untouched", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/junk.db`, "not sqlite");
  const digest = await fileDigest(`${dir.path}/junk.db`);
  const r = await runScript("update_schema", ["--db", "junk.db", "--create"], { cwd: dir.path });
  strictEqual(r.code, 2);
  strictEqual(r.stderr.trim(), "error: junk.db is not a SQLite database");
  strictEqual(await fileDigest(`${dir.path}/junk.db`), digest);
});

Deno.test("update_schema: bad flags exit 2 with one line and no stack trace", async () => {
  await using dir = await tempDir();
  const r = await runScript("update_schema", ["--nope"], { cwd: dir.path });
  strictEqual(r.code, 2);
  strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr);
  ok(r.stderr.includes("--nope"));
});

Deno.test("update_schema: a write outside the working folder is refused by Deno's permissions", async () => {
  await using dir = await tempDir();
  await using other = await tempDir();
  const r = await runScript("update_schema", ["--db", `${other.path}/x.db`, "--create"], { cwd: dir.path });
  strictEqual(r.code, 2);
  // One line naming the path and the flag that would grant it.
  ok(
    /(read|write) access to \S+x\.db is not allowed by this program's permissions \(it needs --allow-/.test(r.stderr),
    r.stderr,
  );
  strictEqual([...Deno.readDirSync(other.path)].length, 0);
});
