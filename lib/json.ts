/**
 * Lossless JSON for Strava records. `JSON.parse` alone rounds integers above 2^53 (segment effort
 * ids issued since 2023 are that large), so every id becomes a bigint with its exact digits, and
 * stored `raw_json` is written back with them through `JSON.rawJSON`.
 *
 * Memory decides how: a 10 MB activity body (an all-day ride) must not cost hundreds of MB. The
 * native parser builds a compact tree (+14 MB for that body); lossless-json's per-number wrappers
 * (+120 MB) and a reviver with source text access (+97 MB: V8 keeps a shadow tree of every value's
 * source) do not. So one pass over the text finds the integers long enough to be unsafe (16+
 * digits), the native parser reads them as marked strings, and a walk turns those, and every
 * integer under an id key, into bigint. `deno task bench:memory` measures the whole path.
 */

/** Whether an integer under `key` is an identifier, which is always a bigint regardless of size. */
function isIdKey(key: string): boolean {
  return key === "id" || key.endsWith("_id");
}

/** Prefix of the string a long integer is parsed as; a NUL never starts a Strava string. */
const MARK = "\u0000int:";
/** MARK as it is written inside JSON text. */
const MARK_IN_TEXT = "\\u0000int:";
/** Integers with fewer digits are exact as doubles (2^53 has 16 digits). */
const SAFE_DIGITS = 15;

const PLUS = 43, QUOTE = 34, BACKSLASH = 92, MINUS = 45, ZERO = 48, NINE = 57, DOT = 46, E_LOWER = 101, E_UPPER = 69;

function isNumberChar(c: number): boolean {
  return (c >= ZERO && c <= NINE) || c === DOT || c === E_LOWER || c === E_UPPER || c === MINUS || c === PLUS;
}

/**
 * `text` with every integer of more than SAFE_DIGITS digits written as a MARK string, or null when
 * there is none, or when a string of the text itself starts with MARK (then the slow, exact path).
 */
function markLongIntegers(text: string): string | null {
  const parts: string[] = [];
  let copied = 0;
  let collision = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (text.startsWith(MARK_IN_TEXT, i + 1)) collision = true;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const start = i;
      if (c === MINUS) i++;
      const digitsStart = i;
      while (i < n && text.charCodeAt(i) >= ZERO && text.charCodeAt(i) <= NINE) i++;
      const next = i < n ? text.charCodeAt(i) : 0;
      const integer = next !== DOT && next !== E_LOWER && next !== E_UPPER;
      if (integer && i - digitsStart > SAFE_DIGITS) {
        parts.push(text.slice(copied, start), `"${MARK_IN_TEXT}`, text.slice(start, i), '"');
        copied = i;
      }
      // Skip the rest of a decimal or exponent so its digits are not read as a new number.
      while (i < n && isNumberChar(text.charCodeAt(i))) i++;
      i--;
    }
  }
  if (collision) return null;
  if (parts.length === 0) return text;
  parts.push(text.slice(copied));
  return parts.join("");
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A value of the marked tree under `key` (null: an array element), as parseJson promises it. */
function revive(value: unknown, key: string | null): unknown {
  if (typeof value === "string") {
    if (!value.startsWith(MARK)) return value;
    const big = BigInt(value.slice(MARK.length));
    // A 16-digit integer may still be safe: only ids and unsafe integers are bigint.
    return (key !== null && isIdKey(key)) || big > MAX_SAFE || big < -MAX_SAFE ? big : Number(big);
  }
  if (typeof value === "number") {
    // Ids are bigint even when small so callers never have to guess which type an id has.
    return key !== null && Number.isInteger(value) && isIdKey(key) ? BigInt(value) : value;
  }
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === "string" || (v !== null && typeof v === "object")) value[i] = revive(v, null);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const v = record[key];
    if (typeof v !== "boolean" && v !== null) record[key] = revive(v, key);
  }
  return record;
}

/** The exact path for text that already holds MARK strings: a reviver with source text access. */
function parseWithSource(text: string): unknown {
  return JSON.parse(
    text,
    ((key: string, value: unknown, context?: { source?: string }) => {
      if (typeof value !== "number") return value;
      const source = context?.source;
      if (source === undefined || !/^-?\d+$/.test(source)) return value;
      if (isIdKey(key) || !Number.isSafeInteger(value)) return BigInt(source);
      return value;
    }) as (key: string, value: unknown) => unknown,
  );
}

/**
 * Lossless JSON parse: integer values of keys "id" or ending "_id" become bigint; any other
 * integer outside the safe range becomes bigint; all other numbers are JS numbers. Throws
 * SyntaxError on invalid JSON. A repeated key keeps its last value, as JSON.parse does.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const activity = parseJson('{"id": 12345678901234567890, "athlete": {"id": 7}, "distance": 1234.5}') as {
 *   id: bigint;
 *   athlete: { id: bigint };
 *   distance: number;
 * };
 * strictEqual(activity.id, 12345678901234567890n);
 * strictEqual(activity.athlete.id, 7n); // every id is a bigint, large or not
 * strictEqual(activity.distance, 1234.5);
 * ```
 */
export function parseJson(text: string, options: { keepSource?: boolean } = {}): unknown {
  const marked = markLongIntegers(text);
  const value = marked === null ? parseWithSource(text) : revive(JSON.parse(marked), null);
  if (options.keepSource && value !== null && typeof value === "object") {
    Object.defineProperty(value, SOURCE_TEXT, { value: text, enumerable: false });
  }
  return value;
}

/**
 * Where `parseJson(text, { keepSource: true })` keeps the text of an object (not enumerable, so
 * never stringified): a record stored as received needs no second serialization of megabytes.
 */
const SOURCE_TEXT: unique symbol = Symbol("strava-backfill source text");

/**
 * A record's JSON for a `raw_json` column: the text it was parsed from if kept, else stringified.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const text = '{"id": 1, "name": "Morning Ride"}';
 * strictEqual(rawJson(parseJson(text, { keepSource: true }) as Record<string, unknown>), text);
 * strictEqual(rawJson({ id: 1n, name: "Morning Ride" }), '{"id":1,"name":"Morning Ride"}');
 * ```
 */
export function rawJson(record: Record<string, unknown>): string {
  const source = (record as { [SOURCE_TEXT]?: unknown })[SOURCE_TEXT];
  return typeof source === "string" ? source : stringifyJson(record);
}

const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

function writeBigint(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJSON(value.toString()) : value;
}

/**
 * JSON.stringify that writes bigint as plain JSON numbers (exact).
 * Throws TypeError for a value JSON cannot represent at the top level (undefined, a function).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(stringifyJson({ id: 12345678901234567890n, distance: 1234.5 }), '{"id":12345678901234567890,"distance":1234.5}');
 * ```
 */
export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value, writeBigint);
  if (text === undefined) throw new TypeError(`cannot represent ${typeof value} as JSON`);
  return text;
}
