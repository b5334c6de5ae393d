import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { DateOrderError, DateReader, dayOrderOf, displayNumber } from "../lib/archive/archive_cells.ts";
import { DATE_LOCALES } from "../lib/archive/export_languages.ts";

/**
 * Converts one `Activity Date` (UTC) to `YYYY-MM-DDTHH:MM:SSZ`, or null when the text is not a
 * date; month names of every locale of `locales`, an ambiguous numeric date read by `convention`.
 * (One `DateReader` for one cell: the import reads a whole file with one reader.)
 */
function parseActivityDate(
  text: string,
  locales: readonly string[] = ["en"],
  convention: ReturnType<typeof dayOrderOf> = "month-first",
): string | null {
  const reader = new DateReader(locales, convention);
  reader.settleByConvention();
  try {
    return reader.read(text) ?? null;
  } catch (err) {
    if (err instanceof DateOrderError) return null;
    throw err;
  }
}

Deno.test("parseActivityDate: the export's English UTC dates to ISO-8601", () => {
  strictEqual(parseActivityDate("Oct 6, 2022, 11:19:20 PM"), "2022-10-06T23:19:20Z");
  strictEqual(parseActivityDate("Jan 1, 2019, 12:00:00 AM"), "2019-01-01T00:00:00Z");
  strictEqual(parseActivityDate("Jun 30, 2020, 12:30:05 PM"), "2020-06-30T12:30:05Z");
  strictEqual(parseActivityDate("Feb 29, 2024, 6:07:08 AM"), "2024-02-29T06:07:08Z");
  strictEqual(parseActivityDate("Oct 6, 2022, 11:19:20\u202fPM"), "2022-10-06T23:19:20Z");
  strictEqual(parseActivityDate("Sept 6, 2022, 1:02:03 AM"), "2022-09-06T01:02:03Z");
  strictEqual(parseActivityDate("6 Oct 2022, 23:19:20"), "2022-10-06T23:19:20Z");
  strictEqual(parseActivityDate("September 6, 2022, 1:02:03 AM"), "2022-09-06T01:02:03Z");
  for (
    const bad of ["Feb 29, 2023, 1:00:00 AM", "Oct 6, 2022, 13:19:20 PM", "6. Okt. 2022, 23:19:20", "", "2022-10-06"]
  ) {
    strictEqual(parseActivityDate(bad), null, bad);
  }
  // With German month names, the German form reads.
  strictEqual(parseActivityDate("6. Okt. 2022, 23:19:20", ["de", "en"]), "2022-10-06T23:19:20Z");
});

Deno.test("DateReader: every form Strava writes, month names and day periods from Intl", () => {
  const cases: [string, string][] = [
    ["09.12.2022, 15:24:49", "2022-12-09T15:24:49Z"], // German, from a real row
    ["9 déc. 2022, 15:24:49", "2022-12-09T15:24:49Z"], // French abbreviations
    ["9 janv. 2022, 15:24:49", "2022-01-09T15:24:49Z"],
    ["9 févr. 2022, 15:24:49", "2022-02-09T15:24:49Z"],
    ["9 sept 2022, 15:24:49", "2022-09-09T15:24:49Z"], // a unique prefix of a long name
    ["9 décembre 2022 à 15:24:49", "2022-12-09T15:24:49Z"],
    ["13/12/2022 15:24:49", "2022-12-13T15:24:49Z"],
    ["2022/12/09 15:24:49", "2022-12-09T15:24:49Z"],
    ["2022-12-09 15:24:49", "2022-12-09T15:24:49Z"],
    ["2022年12月9日 15:24:49", "2022-12-09T15:24:49Z"],
    ["2022년 12월 9일 오후 3:24:49", "2022-12-09T15:24:49Z"],
    ["2022. 12. 9. 오후 3:24:49", "2022-12-09T15:24:49Z"],
    ["2022/12/09 午後3:24:49", "2022-12-09T15:24:49Z"],
    ["9 de dic. de 2022, 3:24:49 p. m.", "2022-12-09T15:24:49Z"],
    ["9 дек. 2022 г., 15:24:49", "2022-12-09T15:24:49Z"],
    ["9.12.2022 klo 15.24.49", "2022-12-09T15:24:49Z"],
    ["Dec 9, 2022, 12:05:00 AM", "2022-12-09T00:05:00Z"],
  ];
  for (const [text, want] of cases) strictEqual(new DateReader(DATE_LOCALES, "day-first").read(text), want, text);
  // Every locale's own medium form, both short and long month names, reads back to the instant.
  for (const locale of DATE_LOCALES) {
    for (const month of ["short", "long"] as const) {
      const format = new Intl.DateTimeFormat(locale, {
        day: "numeric",
        month,
        year: "numeric",
        hour: "numeric",
        minute: "2-digit",
        second: "2-digit",
        timeZone: "UTC",
      });
      for (let m = 0; m < 12; m++) {
        const instant = Date.UTC(2023, m, 13, 17, 4, 5);
        const text = format.format(instant);
        strictEqual(
          new DateReader([locale, "en"], "day-first").read(text),
          new Date(instant).toISOString().slice(0, 19) + "Z",
          `${locale}: ${text}`,
        );
      }
    }
  }
  for (const bad of ["yesterday", "32.12.2022, 10:00:00", "9 Foo 2022, 10:00:00", "13/13/2022 10:00:00", "15:24:49"]) {
    strictEqual(new DateReader(DATE_LOCALES, "day-first").read(bad), null, bad);
  }
});

Deno.test("DateReader: an ambiguous numeric date waits for the file, then follows it; a contradiction throws", () => {
  const reader = new DateReader(DATE_LOCALES, "month-first");
  strictEqual(reader.read("03/04/2022 10:00:00"), undefined);
  strictEqual(reader.order, undefined);
  strictEqual(reader.settles("04/03/2022 10:00:00"), false);
  strictEqual(reader.settles("25/03/2022 10:00:00"), true);
  deepStrictEqual(reader.order, { order: "day-first", by: "row", evidence: "25/03/2022 10:00:00" });
  strictEqual(reader.read("03/04/2022 10:00:00"), "2022-04-03T10:00:00Z");
  throws(() => reader.read("03/25/2022 10:00:00"), DateOrderError);
  const convention = new DateReader(["en"], "month-first");
  convention.settleByConvention();
  strictEqual(convention.read("03/04/2022 10:00:00"), "2022-03-04T10:00:00Z");
  deepStrictEqual([dayOrderOf("en"), dayOrderOf("de"), dayOrderOf("fr"), dayOrderOf("en-GB")], [
    "month-first",
    "day-first",
    "day-first",
    "day-first",
  ]);
});

Deno.test("displayNumber: decimal commas and the locale's thousands separators", () => {
  strictEqual(displayNumber("9,44", "Distance", ","), 9.44);
  strictEqual(displayNumber("1.234,56", "Distance", ","), 1234.56);
  strictEqual(displayNumber("1\u202f234,56", "Distance", ","), 1234.56);
  strictEqual(displayNumber("1 234,5", "Distance", ","), 1234.5);
  strictEqual(displayNumber("3189", "Elapsed Time", ","), 3189);
  strictEqual(displayNumber("9.44", "Distance", ","), 9.44);
  strictEqual(displayNumber("1,234.56", "Distance", "."), 1234.56);
  strictEqual(displayNumber("9,44", "Distance", "either"), 9.44);
  strictEqual(displayNumber("1,234", "Distance", "either"), 1234);
  strictEqual(displayNumber("", "Distance", ","), null);
  throws(() => displayNumber("9,44", "Distance", "."), /Distance '9,44' is not a number/);
  throws(() => displayNumber("far", "Distance", ","), /Distance 'far' is not a number/);
});
