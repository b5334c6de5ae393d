import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { parseJson, stringifyJson } from "../lib/json.ts";

/** A recorded Strava response (tests/fixtures/strava, provenance in its README). */
const fixture = (name: string) => Deno.readTextFileSync(new URL(`./fixtures/strava/${name}`, import.meta.url));

type Json = Record<string, unknown>;

Deno.test("parseJson makes ids bigint, keeps other safe integers and decimals as numbers", () => {
  const value = parseJson(
    '{"id": 7, "activity_id": 9007199254740993, "count": 3, "big": 123456789012345678901, "x": 2.5139008176951587,' +
      ' "neg": -4, "e": 1e3, "s": "12", "list": [1, 9007199254740993]}',
  ) as Json;
  strictEqual(value.id, 7n);
  strictEqual(value.activity_id, 9007199254740993n);
  strictEqual(value.count, 3);
  strictEqual(value.big, 123456789012345678901n);
  strictEqual(value.x, 2.5139008176951587);
  strictEqual(value.neg, -4);
  strictEqual(value.e, 1000);
  strictEqual(value.s, "12");
  deepStrictEqual(value.list, [1, 9007199254740993n]);
});

Deno.test("parseJson keeps every id of the real activity fixture exact", () => {
  const text = fixture("detailed_activity_with_segment_efforts.json");
  const activity = parseJson(text) as Json;
  strictEqual(activity.id, 1946417534n);
  const efforts = activity.segment_efforts as Json[];
  strictEqual(efforts.length, 53);
  // Every "id": N in the text, in order, compared digit for digit with what was parsed.
  const textIds = [...text.matchAll(/"id": (\d+)/g)].map((m) => m[1]);
  const parsedIds: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) {
        if (k === "id" && typeof child === "bigint") parsedIds.push(child.toString());
        walk(child);
      }
    }
  };
  walk(activity);
  deepStrictEqual(parsedIds, textIds);
  // Everything that is not an id reads exactly as JSON.parse reads it.
  const plain = JSON.parse(text);
  strictEqual(plain.segment_efforts[0].distance, efforts[0].distance);
  strictEqual(plain.splits_metric[3].average_speed, (activity.splits_metric as Json[])[3].average_speed);
});

Deno.test("effort ids above 2^53 survive parse and stringify digit for digit", () => {
  // The recorded fixture predates 2^53-sized effort ids; give its efforts ids of today's size.
  const text = fixture("detailed_activity_with_segment_efforts.json");
  let n = 0n;
  const big = text.replace(/"id": (49065\d+)/g, () => `"id": ${18014398509481984n + 17n * ++n}`);
  ok(n === 53n);
  const activity = parseJson(big) as Json;
  const ids = (activity.segment_efforts as Json[]).map((e) => e.id as bigint);
  strictEqual(ids[0], 18014398509482001n);
  strictEqual(ids[52], 18014398509481984n + 17n * 53n);
  ok(ids.every((id) => id > 2n ** 53n));
  // JSON.parse would have rounded them: the test is meaningful.
  ok(JSON.parse(big).segment_efforts.some((e: Json, i: number) => BigInt(e.id as number) !== ids[i]));
  const again = stringifyJson(activity);
  ok(again.includes(`"id":${18014398509481984n + 17n * 53n}`));
  // Stable through a second round trip (JSON itself turns -0.0 into 0, hence not deepEqual).
  strictEqual(stringifyJson(parseJson(again)), again);
  deepStrictEqual(((parseJson(again) as Json).segment_efforts as Json[]).map((e) => e.id), ids);
});

Deno.test("stringifyJson writes bigint as plain numbers and round-trips", () => {
  strictEqual(
    stringifyJson({ id: 12345678901234567890n, a: [1, 2.5, null], s: "x" }),
    '{"id":12345678901234567890,"a":[1,2.5,null],"s":"x"}',
  );
  const segment = parseJson(fixture("detailed_segment.json"));
  deepStrictEqual(parseJson(stringifyJson(segment)), segment);
  throws(() => stringifyJson(undefined), TypeError);
});

Deno.test("parseJson rejects invalid JSON with SyntaxError", () => {
  throws(() => parseJson("<html>Bad Gateway</html>"), SyntaxError);
  throws(() => parseJson('{"id": 1'), SyntaxError);
  throws(() => parseJson(""), SyntaxError);
});
