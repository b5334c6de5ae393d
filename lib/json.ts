/**
 * Lossless JSON for Strava records. `JSON.parse` rounds integers above 2^53 (segment effort
 * ids issued since 2023 are that large), so API bodies are parsed with lossless-json and
 * every id becomes a bigint; stored `raw_json` is written back with the exact digits.
 */
import { isInteger, isLosslessNumber, isSafeNumber, parse, stringify } from "lossless-json";

/** Whether an integer under `key` is an identifier, which is always a bigint regardless of size. */
function isIdKey(key: string): boolean {
  return key === "id" || key.endsWith("_id");
}

function revive(key: string, value: unknown): unknown {
  if (!isLosslessNumber(value)) return value;
  const text = value.value;
  if (isInteger(text)) {
    // Ids are bigint even when small so callers never have to guess which type an id has.
    if (isIdKey(key) || !isSafeNumber(text)) return BigInt(text);
    return Number(text);
  }
  // Decimals keep JSON.parse semantics (nearest double), so 2.5139008176951587 stays a number.
  return Number(text);
}

/**
 * Lossless JSON parse (lossless-json): integer values of keys "id" or ending "_id" become bigint;
 * any other integer outside the safe range becomes bigint; all other numbers are JS numbers.
 * Throws SyntaxError on invalid JSON. A repeated key keeps its last value, as JSON.parse does.
 */
export function parseJson(text: string): unknown {
  return parse(text, revive, { onDuplicateKey: ({ newValue }) => newValue });
}

/**
 * JSON.stringify that writes bigint as plain JSON numbers (exact).
 * Throws TypeError for a value JSON cannot represent at the top level (undefined, a function).
 */
export function stringifyJson(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new TypeError(`cannot represent ${typeof value} as JSON`);
  return text;
}
