import { strictEqual } from "node:assert/strict";
import { parseActivityDate } from "../lib/archive/archive_dates.ts";

Deno.test("parseActivityDate: the export's English UTC dates to ISO-8601", () => {
  strictEqual(parseActivityDate("Oct 6, 2022, 11:19:20 PM"), "2022-10-06T23:19:20Z");
  strictEqual(parseActivityDate("Jan 1, 2019, 12:00:00 AM"), "2019-01-01T00:00:00Z");
  strictEqual(parseActivityDate("Jun 30, 2020, 12:30:05 PM"), "2020-06-30T12:30:05Z");
  strictEqual(parseActivityDate("Feb 29, 2024, 6:07:08 AM"), "2024-02-29T06:07:08Z");
  strictEqual(parseActivityDate("Oct 6, 2022, 11:19:20\u202fPM"), "2022-10-06T23:19:20Z");
  strictEqual(parseActivityDate("Sept 6, 2022, 1:02:03 AM"), "2022-09-06T01:02:03Z");
  strictEqual(parseActivityDate("6 Oct 2022, 23:19:20"), "2022-10-06T23:19:20Z");
  for (
    const bad of ["Feb 29, 2023, 1:00:00 AM", "Oct 6, 2022, 13:19:20 PM", "6. Okt. 2022, 23:19:20", "", "2022-10-06"]
  ) {
    strictEqual(parseActivityDate(bad), null, bad);
  }
});
