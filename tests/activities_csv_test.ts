import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { parse as csvParseSync } from "csv-parse/sync";
import { type ArchiveActivity, type ArchiveRow, readActivities } from "../lib/archive/activities_csv.ts";
import { ColumnMap } from "../lib/archive/export_layout.ts";
import { UsageError } from "../lib/errors.ts";
import {
  exportHeader,
  type GenActivity,
  generateActivitiesCsv,
  type HeaderVersion,
  sampleActivities,
} from "../lib/testing/archive_gen.ts";
import { ROOT } from "./helpers.ts";

// The real export headers, copied with their provenance (tests/fixtures/strava/README.md).
const FIXTURES = `${ROOT}tests/fixtures/strava/`;

function stream(text: string | Uint8Array, chunk = 65_536): ReadableStream<Uint8Array> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.slice(i, i + chunk));
  return ReadableStream.from(parts);
}

async function readAll(text: string | Uint8Array, chunk?: number): Promise<ArchiveRow[]> {
  const rows: ArchiveRow[] = [];
  for await (const batch of readActivities(stream(text, chunk), { label: "activities.csv" })) rows.push(...batch);
  return rows;
}

function activities(rows: ArchiveRow[]): ArchiveActivity[] {
  for (const r of rows) if (r.error !== undefined) throw new Error(`line ${r.line}: ${r.error}`);
  return rows.map((r) => r.activity!);
}

const RIDE: GenActivity = {
  id: 9_007_199_254_740_993n, // 2^53 + 1: must survive exactly
  name: 'Café "loop", ☀️ über 日本',
  type: "VirtualRide",
  startDate: "2022-10-06T23:19:20Z",
  distanceM: 25_430.1,
  movingTime: 3420,
  elapsedTime: 3651,
  elevationGain: 312.5,
  manual: false,
  commute: true,
  description: 'Line one, with a comma\nLine "two"\r\n\nLine four',
};
const MANUAL: GenActivity = {
  id: 123n,
  name: "Gym",
  type: "WeightTraining",
  startDate: "2023-01-01T00:05:00Z",
  distanceM: 0,
  movingTime: 3600,
  elapsedTime: 3600,
  elevationGain: 0,
  manual: true,
  commute: false,
};

// --- Headers ----------------------------------------------------------------------------

for (
  const [version, file, width] of [[2025, "activities_header_2025_94cols.csv", 94], [
    2026,
    "activities_header_2026_103cols.csv",
    103,
  ]] as const
) {
  Deno.test({
    name: `archive_gen: the ${version} header is the real export's (${width} columns)`,
    fn: async () => {
      const real = csvParseSync(await Deno.readTextFile(FIXTURES + file))[0];
      deepStrictEqual(exportHeader(version), real);
      strictEqual(real.length, width);
    },
  });
}

Deno.test("ColumnMap: repeated names resolve by the side of Filename, keys are disambiguated", () => {
  for (const version of [2025, 2026] as const) {
    const map = ColumnMap.fromHeader(exportHeader(version), "x");
    strictEqual(map.index("Distance", "summary"), 6);
    strictEqual(map.index("Distance", "detail"), 17);
    strictEqual(map.index("Elapsed Time", "summary"), 5);
    strictEqual(map.index("Elapsed Time", "detail"), 15);
    strictEqual(map.index("Commute", "detail"), 50);
    strictEqual(map.keys[17], "Distance (2)");
    strictEqual(new Set(map.keys).size, map.keys.length);
  }
  // A reordered export still maps by name: the detail block comes first here.
  const shuffled = [
    "Activity ID",
    "Activity Date",
    "Activity Name",
    "Activity Type",
    "Distance",
    "Filename",
    "Distance",
  ];
  const map = ColumnMap.fromHeader(shuffled, "x");
  strictEqual(map.index("Distance", "summary"), 4);
  strictEqual(map.index("Distance", "detail"), 6);
  strictEqual(map.index("Moving Time"), -1);
});

Deno.test("ColumnMap: a header that is not Strava's in any language or layout is refused; German is recognized", () => {
  throws(
    () => ColumnMap.fromHeader(["id", "name", "date"], "a.csv"),
    (e) => e instanceof UsageError && /not a Strava activities export.*'Activity ID'/.test(e.message),
  );
  // Two German names in an English header: neither language, but the 103-column layout (rows must confirm it).
  const mixed = exportHeader(2026).map((h, i) => (i === 0 ? "Aktivitäts-ID" : i === 1 ? "Aktivitätsdatum" : h));
  const map = ColumnMap.fromHeader(mixed, "a.csv");
  deepStrictEqual([map.recognized.language, map.recognized.layout?.width], [null, 103]);
  strictEqual(map.keys[0], "Aktivitäts-ID", "archive_json keeps the header's own names");
  strictEqual(map.index("Distance", "detail"), 17);
  const german = ColumnMap.fromHeader(exportHeader(2024, "de"), "a.csv");
  strictEqual(german.recognized.language?.name, "German");
  strictEqual(german.index("Moving Time"), 16);
  strictEqual(german.index("Commute", "detail"), 50);
});
// --- Field conversion ---------------------------------------------------------------------

for (const version of [2025, 2026] as HeaderVersion[]) {
  Deno.test(`readActivities: a ${version} export's fields, unicode, multi-line descriptions, manual rows`, async () => {
    const others = sampleActivities(40, { seed: 7, firstId: 10_000_000_000n });
    const text = generateActivitiesCsv([RIDE, ...others, MANUAL], { headerVersion: version, bom: true });
    const rows = await readAll(text, 333);
    const all = activities(rows);
    strictEqual(all.length, 42);
    const ride = all[0];
    strictEqual(ride.id, RIDE.id);
    strictEqual(ride.name, RIDE.name);
    strictEqual(ride.sport_type, "VirtualRide");
    strictEqual(ride.type, "VirtualRide");
    strictEqual(ride.start_date, "2022-10-06T23:19:20Z");
    strictEqual(ride.distance, 25_430.1);
    strictEqual(ride.moving_time, 3420);
    strictEqual(ride.elapsed_time, 3651);
    strictEqual(ride.total_elevation_gain, 312.5);
    strictEqual(ride.manual, 0);
    strictEqual(ride.commute, 1);
    strictEqual(ride.has_gps, null);
    const json = JSON.parse(ride.archive_json);
    strictEqual(json["Activity Description"], RIDE.description);
    strictEqual(json["Distance"], "25.43");
    strictEqual(json["Distance (2)"], "25430.1");
    strictEqual(json["Filename"], `activities/${RIDE.id}.fit.gz`);
    strictEqual("Activity Private Note" in json, false, "empty cells are left out");
    strictEqual(Object.keys(json).length > 40, true);

    const manual = all[41];
    deepStrictEqual([manual.id, manual.manual, manual.has_gps, manual.sport_type, manual.type], [
      123n,
      1,
      0,
      "WeightTraining",
      "WeightTraining",
    ]);
    strictEqual(manual.distance, 0);
    strictEqual(manual.elapsed_time, 3600);

    // Line numbers count the line breaks inside quoted descriptions.
    const lines = text.replace(/^\ufeff/, "").split("\n");
    for (const row of rows) ok(lines[row.line - 1].startsWith(String(row.activity!.id) + ","), `line ${row.line}`);
  });
}

Deno.test("readActivities: distance falls back to the km column, times to the summary column", async () => {
  const header = exportHeader(2026);
  const row = header.map(() => "");
  const set = (name: string, nth: number, value: string) => {
    let seen = 0;
    row[header.findIndex((h) => h === name && ++seen === nth)] = value;
  };
  set("Activity ID", 1, "42");
  set("Activity Date", 1, "Mar 3, 2021, 7:08:09 AM");
  set("Activity Name", 1, "Old export");
  set("Activity Type", 1, "Ride");
  set("Distance", 1, "1,234.56");
  set("Elapsed Time", 1, "4000");
  set("Filename", 1, "activities/42.gpx");
  const text = header.join(",") + "\n" + row.map((c) => (c.includes(",") ? `"${c}"` : c)).join(",") + "\n";
  const [a] = activities(await readAll(text));
  strictEqual(a.distance, 1_234_560);
  strictEqual(a.elapsed_time, 4000);
  strictEqual(a.moving_time, null);
  strictEqual(a.commute, null);
});

Deno.test("readActivities: bad rows are reported with their lines, good rows still come through", async () => {
  const good = sampleActivities(3, { seed: 3 }).map((a) => ({ ...a, description: "" }));
  const lines = generateActivitiesCsv(good, { headerVersion: 2025 }).trimEnd().split("\n");
  const width = exportHeader(2025).length;
  const blank = Array(width).fill("");
  const withCells = (cells: Record<number, string>) => blank.map((c, i) => cells[i] ?? c).join(",");
  const text = [
    lines[0],
    lines[1],
    "1,2,3", // too few fields
    withCells({ 0: "abc", 1: '"Oct 6, 2022, 11:19:20 PM"', 3: "Ride" }),
    withCells({ 0: "77", 1: "yesterday", 3: "Ride" }),
    withCells({ 0: "78", 1: '"Oct 6, 2022, 11:19:20 PM"', 3: "Ride", 17: "far" }),
    lines[2],
    lines[1], // the same id again
  ].join("\n");
  const rows = await readAll(text, 50);
  deepStrictEqual(
    rows.map((r) => [r.line, r.error === undefined ? "ok" : r.error]),
    [
      [2, "ok"],
      [3, `has 3 fields, the header has ${width}`],
      [4, "Activity ID 'abc' is not an activity id"],
      [5, "Activity Date 'yesterday' is not a date like 'Oct 6, 2022, 11:19:20 PM'"],
      [6, "Distance 'far' is not a number"],
      [7, "ok"],
      [8, `Activity ID ${good[0].id} already appears on line 2`],
    ],
  );
});

Deno.test("readActivities: empty, header-only, non-Strava, localized, non-UTF-8 and broken files", async () => {
  await rejects(readAll(""), (e) => e instanceof UsageError && e.message === "activities.csv is empty");
  await rejects(readAll("\ufeff\n\n"), (e) => e instanceof UsageError && /is empty/.test(e.message));
  deepStrictEqual(await readAll(exportHeader(2025).join(",") + "\n"), []);
  await rejects(
    readAll("name,value\nx,1\n"),
    (e) => e instanceof UsageError && /not a Strava activities export/.test(e.message),
  );
  // English headers but a localized date in the first row: read (an export may keep English headers).
  const localized = generateActivitiesCsv(sampleActivities(2), { headerVersion: 2025 })
    .replace(/"[A-Z][a-z]{2} \d+, \d{4}, [^"]+"/, '"6 déc. 2022, 23:19:20"');
  strictEqual(activities(await readAll(localized))[0].start_date, "2022-12-06T23:19:20Z");
  // A first date in no form the tool reads refuses the file once, naming how it was read.
  const unreadable = localized.replace("6 déc. 2022, 23:19:20", "6 Foo 2022, 23:19:20");
  await rejects(
    readAll(unreadable),
    (e) =>
      e instanceof UsageError &&
      e.message === "activities.csv line 2: Activity Date '6 Foo 2022, 23:19:20' is not a date in any form this " +
          "tool reads (read as English export, the 94-column layout of early 2025); please report it with this line",
  );
  await rejects(
    readAll(new Uint8Array([0x41, 0x63, 0x74, 0xff, 0xfe, 0x0a])),
    (e) =>
      e instanceof UsageError &&
      e.message === "activities.csv is not UTF-8 text (line 1, byte offset 3 (0xff)); is it really Strava's " +
          "activities.csv?",
  );
  // Deep in a file, in whatever chunk it arrives: the line and the offset of the bad byte itself.
  const header = exportHeader(2025).join(",") + "\n";
  const latin1 = new TextEncoder().encode(header + "1,x\n2,y\n3,caf");
  const bad = new Uint8Array([...latin1, 0xe9, ...new TextEncoder().encode(",z\n")]);
  for (const chunk of [1, 100, 65_536]) {
    await rejects(
      readAll(bad, chunk),
      (e) => e instanceof UsageError && e.message.includes(`(line 4, byte offset ${latin1.length} (0xe9))`),
    );
  }
  const unclosed = exportHeader(2025).join(",") + '\n1,"Oct 6, 2022, 11:19:20 PM,Ride\n';
  await rejects(
    readAll(unclosed),
    (e) => e instanceof UsageError && /line 2: a quoted field is never closed/.test(e.message),
  );
});
