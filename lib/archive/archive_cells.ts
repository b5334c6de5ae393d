/**
 * The cells of Strava's export other than dates (archive_dates.ts): numbers, plain in the detailed
 * columns and written the language's way in the display columns (`9,44` km in German), and
 * true/false flags. A number or flag that cannot be read throws `RowError`, which refuses that
 * row, not the file.
 */

const PLAIN_NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const GROUPED_NUMBER = /^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;

/** A number cell: empty is null, English thousands separators are accepted, anything else throws. */
export function number(cell: string | undefined, column: string): number | null {
  if (cell === undefined || cell === "") return null;
  if (PLAIN_NUMBER.test(cell)) return Number(cell);
  const trimmed = cell.trim();
  if (trimmed === "") return null;
  if (PLAIN_NUMBER.test(trimmed)) return Number(trimmed);
  if (GROUPED_NUMBER.test(trimmed)) return Number(trimmed.replaceAll(",", ""));
  throw new RowError(`${column} '${cell}' is not a number`);
}

/** How a file writes the numbers of its display columns (the block before `Filename`). */
export type DecimalMark = "." | "," | "either";

// `9,44`, `1.234,56`, `1 234,56`, `1’234,56`: a decimal comma, optional groups of three.
const COMMA_NUMBER = /^-?(?:\d+|\d{1,3}(?:[.\u00a0\u202f '’]\d{3})+)(?:,\d+)?$/;

/**
 * A display column's number: `mark` is the decimal mark of the file's language (`either` for an
 * unknown language: a comma then decides only when it is not followed by exactly three digits, as
 * Strava's display figures have one or two decimals). Empty is null; anything else throws.
 */
export function displayNumber(cell: string | undefined, column: string, mark: DecimalMark): number | null {
  if (mark === "." || cell === undefined || cell === "") return number(cell, column);
  const trimmed = cell.trim();
  if ((mark === "," || /,\d{1,2}$/.test(trimmed)) && COMMA_NUMBER.test(trimmed)) {
    return Number(trimmed.replace(/[.\u00a0\u202f '’]/g, "").replace(",", "."));
  }
  return number(cell, column);
}

/** A duration cell in whole seconds (the detail block has fractions); empty is null. */
export function seconds(cell: string | undefined, column: string): number | null {
  const n = number(cell, column);
  return n === null ? null : Math.round(n);
}

/** `true`/`false` (summary block) or `1.0`/`0.0` (detail block); empty is null. */
export function flag(cell: string | undefined, column: string): number | null {
  if (cell === undefined) return null;
  const text = cell.trim().toLowerCase();
  if (text === "") return null;
  if (text === "true") return 1;
  if (text === "false") return 0;
  const n = number(text, column);
  if (n === 0 || n === 1) return n;
  throw new RowError(`${column} '${cell}' is neither true nor false`);
}

/** Why one row cannot be an activity: the row is refused (or skipped), the file goes on. */
export class RowError extends Error {}
