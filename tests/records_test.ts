import { strictEqual, throws } from "node:assert/strict";
import { detailedEfforts, idOf, InvalidRecordError, requireId, sqlValue } from "../lib/store/records.ts";

const invalid = (final: boolean, message: RegExp) => (err: unknown) =>
  err instanceof InvalidRecordError && err.final === final && message.test(err.message);

Deno.test("records: ids are positive 64-bit integers; anything else is no id", () => {
  strictEqual(idOf(5n), 5n);
  strictEqual(idOf(7), 7n);
  strictEqual(idOf("9"), 9n);
  strictEqual(idOf(2n ** 63n - 1n), 2n ** 63n - 1n);
  for (const bad of [null, undefined, 0, -5, -5n, 1.5, "x", 2n ** 63n, 2n ** 64n]) {
    strictEqual(idOf(bad), null, String(bad));
  }
  throws(
    () => requireId(2n ** 64n, "segment effort #1"),
    invalid(true, /segment effort #1 id is 18446744073709551616/),
  );
  throws(() => requireId(null, "x"), invalid(true, /x id is null/));
  throws(() => requireId(undefined, "x"), invalid(true, /x id is missing/));
});

Deno.test("records: a value beyond SQLite's integers is an InvalidRecordError, not a failed transaction", () => {
  strictEqual(sqlValue(2n ** 63n - 1n), 2n ** 63n - 1n);
  throws(() => sqlValue(2n ** 63n), invalid(true, /beyond SQLite's 64-bit integers/));
  throws(() => sqlValue(-(2n ** 63n) - 1n), invalid(true, /beyond/));
});

Deno.test("records: a detailed activity must carry segment_efforts, each with an id and a segment id", () => {
  const effort = { id: 2n ** 60n, segment: { id: 5n } };
  strictEqual(detailedEfforts({ segment_efforts: [effort] }).length, 1);
  strictEqual(detailedEfforts({ segment_efforts: [] }).length, 0);
  throws(() => detailedEfforts({}), invalid(false, /no segment_efforts array/));
  throws(() => detailedEfforts({ segment_efforts: [{ ...effort, id: null }] }), invalid(true, /#1 id is null/));
  throws(
    () => detailedEfforts({ segment_efforts: [{ id: 1n, segment: {} }] }),
    invalid(true, /segment of effort 1 id/),
  );
  throws(() => detailedEfforts({ segment_efforts: [effort, 3] }), invalid(true, /#2 is not an object/));
});
