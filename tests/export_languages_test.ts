/**
 * Exports in other languages (issue 19): generated exports in German (the real header), French
 * (quoted names, the rest inferred) and a made-up language read by the layout alone import the
 * same activities, field by field, as the English export of the same athlete; and a backfill from
 * a German import costs the same requests and stores the same efforts as from the English one.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { parse as csvParseSync } from "csv-parse/sync";
import { readActivities } from "../lib/archive/activities_csv.ts";
import { GERMAN } from "../lib/archive/export_languages.ts";
import { describeFormat, type ExportFormat, recognizeHeader } from "../lib/archive/export_layout.ts";
import { importActivities, type ImportResult } from "../lib/archive/import.ts";
import { type Database, prepareExact } from "../lib/store/db.ts";
import { openMigrated } from "../lib/store/open.ts";
import { UsageError } from "../lib/errors.ts";
import {
  exportHeader,
  type GenActivity,
  generateActivitiesCsv,
  type GenLanguage,
  type HeaderVersion,
  sampleActivities,
} from "../lib/testing/archive_gen.ts";
import { generateArchive } from "../lib/testing/sim_archive.ts";
import { harness } from "./backfill_harness.ts";
import { ROOT } from "./helpers.ts";

const FIXTURES = `${ROOT}tests/fixtures/strava/`;

async function importText(db: Database, csv: string, skipInvalid = false) {
  let format: ExportFormat | undefined;
  const source = ReadableStream.from([new TextEncoder().encode(csv)]);
  const result: ImportResult = await importActivities(
    db,
    readActivities(source, { label: "activities.csv", onFormat: (f) => (format = f) }),
    { label: "activities.csv", skipInvalid, now: () => Date.parse("2026-05-01T12:00:00Z") },
  );
  return { result, format: format! };
}

const COMPARED = [
  "id",
  "name",
  "start_date",
  "distance",
  "moving_time",
  "elapsed_time",
  "total_elevation_gain",
  "average_speed",
  "max_speed",
  "average_heartrate",
  "max_heartrate",
  "average_watts",
  "commute",
  "manual",
  "has_gps",
  "source",
  "segment_efforts_processed",
];

function stored(db: Database): Record<string, unknown>[] {
  return prepareExact(db, "SELECT * FROM activities ORDER BY id").all() as Record<string, unknown>[];
}

// Edge cases on top of the sample: an id above 2^53, a commute, a manual entry, a day above 12.
const EDGES: GenActivity[] = [
  {
    id: 9_007_199_254_740_993n,
    name: "Pendeln ☀️",
    type: "Ride",
    startDate: "2022-12-09T15:24:49Z",
    distanceM: 9440,
    movingTime: 2070,
    elapsedTime: 3189,
    elevationGain: 20,
    manual: false,
    commute: true,
  },
  {
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
  },
];

/** The German type names seen in real exports (geo-activity-playground #86 and its README statistics). */
const GERMAN_TYPES: Record<string, string> = { Ride: "Radfahrt", Run: "Lauf", Walk: "Spaziergang", Hike: "Wanderung" };

const CASES: [GenLanguage, HeaderVersion, string | null][] = [
  ["de", 2024, "German"],
  ["de", 2025, "German"],
  ["de", 2026, "German"],
  ["fr", 2025, "French"],
  ["xx", 2024, null],
  ["xx", 2025, null],
  ["xx", 2026, null],
];

Deno.test("export languages: the generator's German header is the real one (92 columns)", async () => {
  const real = csvParseSync(await Deno.readTextFile(FIXTURES + "activities_header_de_92cols.csv"))[0];
  deepStrictEqual(exportHeader(2024, "de"), real);
  const recognized = recognizeHeader(real)!;
  strictEqual(recognized.language?.name, "German");
  strictEqual(recognized.layout?.width, 92);
  strictEqual(recognized.byPosition, true);
  deepStrictEqual(recognized.names, exportHeader(2024));
  // The same German names in another order (a future export) are still mapped, by name.
  const moved = [...real.slice(1, 12), real[0], ...real.slice(12)];
  const byName = recognizeHeader(moved)!;
  strictEqual(byName.byPosition, false);
  strictEqual(byName.names[11], "Activity ID");
  strictEqual(byName.names[byName.names.indexOf("Filename") + 5], "Distance");
});

Deno.test("export languages: German 94- and 103-column headers are recognized as German by their names", () => {
  for (const [version, width, unsourced] of [[2025, 94, 0], [2026, 103, 4]] as const) {
    const german = exportHeader(version, "de");
    strictEqual(german.length, width);
    // Every column has its sourced German name but the 2026 ones nobody has sourced (de:With Kid, ...).
    deepStrictEqual(german.filter((n) => !GERMAN.headers.has(n)).length, unsourced, german.join());
    ok(german.includes("Stoppuhr-Zeit") && german.includes("Zyklen gesamt"));
    const recognized = recognizeHeader(german)!;
    strictEqual(recognized.language?.name, "German");
    strictEqual(recognized.layout?.width, width);
    deepStrictEqual(recognized.names, exportHeader(version));
    // Moved out of the layout, the same names are still mapped by name, Timer Time and Total Cycles included.
    const moved = [...german.slice(1, 12), german[0], ...german.slice(12)];
    const byName = recognizeHeader(moved)!;
    deepStrictEqual([byName.language?.name, byName.byPosition], ["German", false]);
    strictEqual(byName.names[11], "Activity ID");
    deepStrictEqual(byName.names.slice(90, 93), ["Average Grade Adjusted Pace", "Timer Time", "Total Cycles"]);
  }
});

for (const [language, version, name] of CASES) {
  Deno.test(`export languages: a ${language} export (${version}) stores what the English one does`, async () => {
    const activities = [...EDGES, ...sampleActivities(60, { seed: 21, firstId: 10_000_000_000n })];
    using en = openMigrated(":memory:", { create: true });
    using local = openMigrated(":memory:", { create: true });
    const english = await importText(en, generateActivitiesCsv(activities, { headerVersion: 2025 }));
    const csv = generateActivitiesCsv(activities, { headerVersion: version, language });
    const { result, format } = await importText(local, csv);
    strictEqual(result.added, activities.length);
    strictEqual(english.result.added, activities.length);
    strictEqual(format.language, name);
    strictEqual(format.layout, recognizeHeader(exportHeader(version))!.layout!.label);
    const [a, b] = [stored(en), stored(local)];
    strictEqual(b.length, a.length);
    const typed = new Set<string>();
    for (let i = 0; i < a.length; i++) {
      for (const column of COMPARED) deepStrictEqual(b[i][column], a[i][column], `${a[i].id} ${column}`);
      // Types: the same where the language's name is known (German Radfahrt, Lauf, Spaziergang, Wanderung);
      // else empty, the name kept.
      const json = JSON.parse(String(b[i].archive_json));
      const rawType = json[exportHeader(version, language)[3]];
      if (language === "de" && GERMAN_TYPES[String(a[i].sport_type)] !== undefined) {
        strictEqual(rawType, GERMAN_TYPES[String(a[i].sport_type)]);
        deepStrictEqual([b[i].sport_type, b[i].type], [a[i].sport_type, a[i].type]);
        typed.add(rawType);
      } else {
        deepStrictEqual([b[i].sport_type, b[i].type], [null, null], `${rawType}`);
        ok(typeof rawType === "string" && rawType.startsWith(`${language}:`), rawType);
      }
    }
    if (language === "de") deepStrictEqual([...typed].sort(), Object.values(GERMAN_TYPES).sort());
    ok(result.unmappedTypes.length > 0 && result.unknownTypes.length === 0);
    // Importing the same export again changes nothing.
    const again = await importText(local, csv);
    strictEqual(again.result.unchanged, activities.length);
  });
}

Deno.test("export languages: ambiguous numeric dates are settled by the file, else by the convention", async () => {
  const day = (iso: string) => iso.slice(8, 10);
  const month = (iso: string) => iso.slice(5, 7);
  const time = (iso: string) => iso.slice(11, 19);
  const acts = (starts: string[]) =>
    starts.map((startDate, i) => ({ ...EDGES[0], id: BigInt(1000 + i), startDate, commute: false }));
  const early = ["2022-03-04T06:00:00Z", "2022-04-03T07:00:00Z", "2022-05-14T08:00:00Z", "2022-06-07T09:00:00Z"];
  const cases: [string, (iso: string) => string, string[], string][] = [
    [
      "month-first, settled by a row",
      (iso) => `${month(iso)}/${day(iso)}/${iso.slice(0, 4)} ${time(iso)}`,
      early,
      "numeric dates read month-first, as '05/14/2022 08:00:00' shows",
    ],
    [
      "day-first, settled by a row",
      (iso) => `${day(iso)}/${month(iso)}/${iso.slice(0, 4)} ${time(iso)}`,
      early,
      "numeric dates read day-first, as '14/05/2022 08:00:00' shows",
    ],
    [
      "no row settles it: the convention",
      (iso) => `${day(iso)}-${month(iso)}-${iso.slice(0, 4)} ${time(iso)}`,
      [early[0], early[1], early[3]],
      "numeric dates read day-first, by the most common convention (no date in the file settles it)",
    ],
  ];
  for (const [what, date, starts, phrase] of cases) {
    using db = openMigrated(":memory:", { create: true });
    const csv = generateActivitiesCsv(acts(starts), { headerVersion: 2025, language: "xx", date });
    const { result, format } = await importText(db, csv);
    strictEqual(result.added, starts.length, what);
    deepStrictEqual(stored(db).map((r) => r.start_date), starts, what);
    ok(describeFormat(format).endsWith(phrase), `${what}: ${describeFormat(format)}`);
  }
  // A date that contradicts the order the file settled is a bad row, named.
  using db = openMigrated(":memory:", { create: true });
  const slash = (iso: string) => `${day(iso)}/${month(iso)}/${iso.slice(0, 4)} ${time(iso)}`;
  const lines = generateActivitiesCsv(acts(early), { headerVersion: 2025, language: "xx", date: slash })
    .replace("07/06/2022", "06/13/2022");
  await rejects(importText(db, lines), (e) => {
    ok(e instanceof UsageError);
    ok(e.message.includes("line 5: Activity Date '06/13/2022 09:00:00' is month-first, where '14/05/2022"), e.message);
    return true;
  });
  strictEqual(stored(db).length, 0);
});

Deno.test("export languages: other date forms, 12 h and year-first, and decimal commas in the display columns", async () => {
  const forms: [string, string][] = [
    ["2022/12/09 15:24:49", "2022-12-09T15:24:49Z"],
    ["09.12.2022 3:24:49 PM", "2022-12-09T15:24:49Z"],
    ["9 de dez. de 2022, 15:24:49", "2022-12-09T15:24:49Z"],
    ["2022年12月9日 15:24:49", "2022-12-09T15:24:49Z"],
    ["9. Dezember 2022 um 15:24:49", "2022-12-09T15:24:49Z"],
  ];
  for (const [text, want] of forms) {
    using db = openMigrated(":memory:", { create: true });
    const csv = generateActivitiesCsv([EDGES[0]], { headerVersion: 2024, language: "de", date: () => text });
    await importText(db, csv);
    strictEqual(stored(db)[0].start_date, want, text);
  }
  // Without the detailed distance, the display one is read with the language's decimal comma and groups.
  const header = exportHeader(2024, "de");
  const row = header.map(() => "");
  Object.assign(row, { 0: "42", 1: '"09.12.2022, 15:24:49"', 2: "x", 3: "Lauf", 5: "3189", 6: '"1.234,56"' });
  Object.assign(row, { 7: '"171,0"', 12: "activities/42.gpx" });
  using db = openMigrated(":memory:", { create: true });
  await importText(db, header.join(",") + "\n" + row.join(",") + "\n");
  const a = stored(db)[0];
  deepStrictEqual([a.distance, a.elapsed_time, a.max_heartrate, a.sport_type], [1_234_560, 3189n, 171, "Run"]);
  // A summary Commute in words the tool cannot read does not refuse the row: the detailed column decides.
  for (const [detail, want] of [["1.0", 1n], ["", null]] as const) {
    using db = openMigrated(":memory:", { create: true });
    const flagged = Object.assign([...row], { 0: "43", 9: "wahr", 50: detail });
    await importText(db, header.join(",") + "\n" + flagged.join(",") + "\n");
    strictEqual(stored(db)[0].commute, want);
  }
  // A decimal comma in a detailed column is not a number there.
  row[17] = '"9440,5"';
  await rejects(
    importText(db, header.join(",") + "\n" + row.join(",") + "\n"),
    (e) => e instanceof UsageError && /Distance '9440,5' is not a number/.test(e.message),
  );
});

Deno.test("export languages: a layout of unknown words is refused unless its first row confirms it", async () => {
  const header = exportHeader(2025, "xx");
  const good = generateActivitiesCsv(sampleActivities(3, { seed: 4 }), { headerVersion: 2025, language: "xx" });
  const [, first] = good.split("\n");
  const cases: [string, RegExp][] = [
    [good.replace(/^\d+,\d\d\/\d\d\/\d{4} [\d:]+/m, (m) => m.replace(/,.*/, ",yesterday at noon")), /its date/],
    [header.join(",") + "\nabc" + first.slice(first.indexOf(",")) + "\n", /its first cell 'abc'/],
    [header.join(",") + "\n1,2,3\n", /it has 3 fields, not 94/],
  ];
  for (const [csv, why] of cases) {
    using db = openMigrated(":memory:", { create: true });
    await rejects(importText(db, csv), (e) => {
      ok(e instanceof UsageError, String(e));
      ok(
        e.message.startsWith(
          "activities.csv is not a Strava activities export: its header has the 94-column " +
            "layout of early 2025 but no column name in English, German or French, and line 2 does not confirm it (",
        ),
        e.message,
      );
      ok(why.test(e.message), e.message);
      return true;
    });
  }
  // Words of no language and not the layout: refused by the header, saying what it lacks.
  using db = openMigrated(":memory:", { create: true });
  await rejects(
    importText(db, header.slice(0, 50).join(",") + "\n"),
    (e) =>
      e instanceof UsageError &&
      /its header \(50 columns, the first 'DI ytivitcA'\) has no 'Activity ID'/.test(e.message),
  );
});

Deno.test("export languages: a backfill from a German import spends the same requests and stores the same efforts", async () => {
  const outcome = async (language: GenLanguage, version: HeaderVersion) => {
    await using h = await harness({ activities: 80, wait: true });
    const { result } = await importText(h.db, generateArchive(h.sim.truth, { headerVersion: version, language }));
    strictEqual(result.added, h.sim.truth.activities.length);
    await h.run({});
    const efforts = prepareExact(h.db, "SELECT id, activity_id, segment_id, raw_json FROM segment_efforts ORDER BY id")
      .all();
    const activities = prepareExact(
      h.db,
      "SELECT id, efforts_status, segment_efforts_processed, start_date, distance FROM activities ORDER BY id",
    ).all();
    if (language === "de") {
      // Activities whose German type name is unknown were imported untyped, fetched like the others, and typed by the API.
      const untyped = prepareExact(
        h.db,
        "SELECT COUNT(*) n FROM activities WHERE sport_type IS NOT NULL AND efforts_status = 'ok' AND archive_json LIKE '%\"de:%'",
      ).get() as { n: bigint };
      ok(untyped.n > 0n, "untyped activities were fetched");
    }
    return { requests: h.apiRequests(), efforts: efforts.map((e) => ({ ...e })), activities };
  };
  const english = await outcome("en", 2025);
  const german = await outcome("de", 2024);
  ok(english.efforts.length > 0);
  deepStrictEqual(german.requests, english.requests);
  deepStrictEqual(german.efforts, english.efforts);
  deepStrictEqual(german.activities.map((a) => ({ ...a })), english.activities.map((a) => ({ ...a })));
});

Deno.test("export languages: a bad row of a German export refuses the file, or is skipped with --skip-invalid", async () => {
  using db = openMigrated(":memory:", { create: true });
  const acts = sampleActivities(5, { seed: 8 }).map((a) => ({ ...a, description: "" }));
  const lines = generateActivitiesCsv(acts, { headerVersion: 2024, language: "de" }).trimEnd().split("\n");
  const csv = [...lines.slice(0, 3), lines[3].replace(/^\d+/, "x"), ...lines.slice(4)].join("\n") + "\n";
  await rejects(
    importText(db, csv),
    (e) => e instanceof UsageError && /1 bad row, nothing imported: line 4: Activity ID 'x'/.test(e.message),
  );
  strictEqual(stored(db).length, 0);
  const { result } = await importText(db, csv, true);
  deepStrictEqual([result.added, result.skipped], [4, 1]);
});
