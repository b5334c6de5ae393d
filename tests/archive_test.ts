import { ok, rejects, strictEqual } from "node:assert/strict";
import { openActivitiesCsv } from "../lib/archive/export_source.ts";
import { UsageError } from "../lib/errors.ts";
import { generateActivitiesCsv, sampleActivities, writeExportZip } from "../lib/testing/archive_gen.ts";
import { tempDir } from "./helpers.ts";

const haveZipCli = await new Deno.Command("zip", { args: ["-v"], stdout: "null", stderr: "null" }).output()
  .then((r) => r.success, () => false);

const CSV = generateActivitiesCsv(sampleActivities(50, { seed: 11 }), { headerVersion: 2026 });

async function text(path: string, options?: Parameters<typeof openActivitiesCsv>[1]): Promise<[string, string]> {
  await using source = await openActivitiesCsv(path, options);
  return [source.label, await new Response(source.readable).text()];
}

function usage(pattern: RegExp) {
  return (e: unknown) => e instanceof UsageError && pattern.test(e.message);
}

Deno.test("archive: a zip is read through its central directory, only the CSV entry is inflated", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/export.zip`;
  await writeExportZip(path, { csv: CSV, fillerBytes: 8_000_000, fillerEntries: 40 });
  let read = 0;
  const [label, content] = await text(path, { onArchiveRead: (n) => (read += n) });
  strictEqual(label, `${path}:activities.csv`);
  strictEqual(content, CSV);
  const size = (await Deno.stat(path)).size;
  ok(size > 8_000_000);
  // The CSV deflates to a few kB and the directory of 42 entries is small: far below the filler.
  ok(read < 200_000, `read ${read} of ${size} bytes`);
});

Deno.test("archive: zip64 records, a stored (uncompressed) CSV and a CSV in a subfolder are read", async () => {
  await using dir = await tempDir();
  await writeExportZip(`${dir.path}/a.zip`, { csv: CSV, zip64: true, fillerBytes: 10_000 });
  strictEqual((await text(`${dir.path}/a.zip`))[1], CSV);
  await writeExportZip(`${dir.path}/b.zip`, { csv: CSV, compressCsv: false });
  strictEqual((await text(`${dir.path}/b.zip`))[1], CSV);
  await writeExportZip(`${dir.path}/c.zip`, { csv: CSV, csvPath: "export_12345/activities.csv", fillerBytes: 1000 });
  const [label, content] = await text(`${dir.path}/c.zip`);
  strictEqual(label, `${dir.path}/c.zip:export_12345/activities.csv`);
  strictEqual(content, CSV);
});

Deno.test({
  name: "archive: archives written by Info-ZIP zip (plain and forced zip64) are read",
  ignore: !haveZipCli,
  fn: async () => {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/export/activities`, { recursive: true });
    await Deno.writeTextFile(`${dir.path}/export/activities.csv`, CSV);
    await Deno.writeFile(`${dir.path}/export/activities/1.fit.gz`, crypto.getRandomValues(new Uint8Array(50_000)));
    for (const [name, flags] of [["plain.zip", []], ["zip64.zip", ["-fz"]]] as const) {
      const r = await new Deno.Command("zip", {
        args: ["-q", "-r", ...flags, `../${name}`, "."],
        cwd: `${dir.path}/export`,
      })
        .output();
      ok(r.success, new TextDecoder().decode(r.stderr));
      strictEqual((await text(`${dir.path}/${name}`))[1], CSV, name);
    }
  },
});

Deno.test("archive: an extracted folder (or its parent) and a bare CSV are read", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/export_1/activities`, { recursive: true });
  await Deno.writeTextFile(`${dir.path}/export_1/activities.csv`, CSV);
  strictEqual((await text(`${dir.path}/export_1`))[1], CSV);
  const [label, content] = await text(dir.path);
  strictEqual(label, `${dir.path}/export_1/activities.csv`);
  strictEqual(content, CSV);
  strictEqual((await text(`${dir.path}/export_1/activities.csv`))[1], CSV);
});

Deno.test("archive: missing paths, non-zips, truncated zips and zips without the CSV are UsageErrors", async () => {
  await using dir = await tempDir();
  await rejects(openActivitiesCsv(`${dir.path}/nope.zip`), usage(/nope\.zip does not exist/));
  await Deno.mkdir(`${dir.path}/empty`);
  await rejects(openActivitiesCsv(`${dir.path}/empty`), usage(/has no activities\.csv/));
  await Deno.writeTextFile(`${dir.path}/junk.zip`, "not a zip at all");
  await rejects(openActivitiesCsv(`${dir.path}/junk.zip`), usage(/junk\.zip is not a zip archive/));

  await writeExportZip(`${dir.path}/full.zip`, { csv: CSV, fillerBytes: 100_000 });
  const bytes = await Deno.readFile(`${dir.path}/full.zip`);
  await Deno.writeFile(`${dir.path}/cut.zip`, bytes.subarray(0, bytes.length - 500));
  await rejects(openActivitiesCsv(`${dir.path}/cut.zip`), usage(/cut\.zip is not a readable zip archive/));

  await writeExportZip(`${dir.path}/nocsv.zip`, { fillerBytes: 10_000 });
  await rejects(openActivitiesCsv(`${dir.path}/nocsv.zip`), usage(/nocsv\.zip has no activities\.csv/));
});

Deno.test("archive: a damaged CSV entry fails while reading, as a UsageError", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/bad.zip`;
  await writeExportZip(path, { csv: CSV });
  const bytes = await Deno.readFile(path);
  // The CSV's deflated data follows its local header ("PK\x03\x04" ... "activities.csv").
  const local = new TextDecoder("latin1").decode(bytes).indexOf("activities.csv");
  ok(local > 0 && bytes.length - local > 2000);
  for (let i = local + 100; i < local + 160; i++) bytes[i] ^= 0xff;
  await Deno.writeFile(path, bytes);
  await rejects(text(path), usage(/bad\.zip:activities\.csv is damaged/));
});

Deno.test("archive: a stored CSV whose bytes changed fails its CRC-32 check", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/crc.zip`;
  await writeExportZip(path, { csv: CSV, compressCsv: false });
  const bytes = await Deno.readFile(path);
  const at = new TextDecoder("latin1").decode(bytes).indexOf("Activity ID,Activity Date");
  ok(at > 0);
  bytes[at] = "a".charCodeAt(0);
  await Deno.writeFile(path, bytes);
  await rejects(text(path), usage(/crc\.zip:activities\.csv is damaged: its size or CRC-32 does not match/));
});

Deno.test("archive: disposing without reading closes everything", async () => {
  await using dir = await tempDir();
  await writeExportZip(`${dir.path}/a.zip`, { csv: CSV, fillerBytes: 1000 });
  await Deno.writeTextFile(`${dir.path}/a.csv`, CSV);
  for (const path of [`${dir.path}/a.zip`, `${dir.path}/a.csv`]) {
    await using source = await openActivitiesCsv(path);
    ok(source.size! > 0);
  }
  // A partial read, then dispose.
  await using source = await openActivitiesCsv(`${dir.path}/a.zip`);
  const reader = source.readable.getReader();
  ok((await reader.read()).value!.length > 0);
  reader.releaseLock();
});
