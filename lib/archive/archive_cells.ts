/**
 * The cells of Strava's export: its English UTC dates (`Oct 6, 2022, 11:19:20 PM`), numbers with
 * English thousands separators, and true/false flags. A number or flag that cannot be read throws
 * `RowError`, which refuses that row, not the file; a date that cannot be read is null.
 */

const MONTHS: Readonly<Record<string, number>> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  sept: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};
// "Oct 6, 2022, 11:19:20 PM" (newer ICU puts a narrow no-break space before PM), and the
// day-first English form "6 Oct 2022, 23:19:20".
const MONTH_FIRST = /^([A-Za-z]{3,9})\.? (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([AaPp])\.?[Mm]\.?)?$/;
const DAY_FIRST = /^(\d{1,2}) ([A-Za-z]{3,9})\.? (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([AaPp])\.?[Mm]\.?)?$/;

/**
 * Converts the export's `Activity Date` (UTC, English) to `YYYY-MM-DDTHH:MM:SSZ`, or null when
 * the text is not such a date.
 */
export function parseActivityDate(text: string): string | null {
  const fast = FAST_DATE.exec(text);
  if (fast !== null) {
    // The export's own form, 50,000 times per big file: no normalization, no Date object.
    const month = MONTHS[fast[1].toLowerCase()];
    const [day, year, h12, minute, second] = [+fast[2], +fast[3], +fast[4], +fast[5], +fast[6]];
    if (month !== undefined && day <= daysIn(year, month) && h12 <= 12 && minute <= 59 && second <= 59) {
      const hour = (h12 % 12) + (fast[7] === "PM" ? 12 : 0);
      return `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${fast[5]}:${fast[6]}Z`;
    }
  }
  const clean = text.replace(/[\s\u00a0\u202f]+/g, " ").trim();
  let monthName: string, day: string, rest: RegExpMatchArray;
  const a = MONTH_FIRST.exec(clean);
  if (a) {
    [monthName, day] = [a[1], a[2]];
    rest = a;
  } else {
    const b = DAY_FIRST.exec(clean);
    if (!b) return null;
    [day, monthName] = [b[1], b[2]];
    rest = b;
  }
  const lower = monthName.toLowerCase();
  const month = MONTHS[lower] ?? FULL_MONTHS.indexOf(lower) + 1;
  if (!month) return null;
  const [year, minute, second] = [Number(rest[3]), Number(rest[5]), Number(rest[6])];
  let hour = Number(rest[4]);
  const meridiem = rest[7]?.toLowerCase();
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (meridiem === "p" ? 12 : 0);
  }
  const d = Number(day);
  if (hour > 23 || minute > 59 || second > 59 || d < 1) return null;
  const ms = Date.UTC(year, month - 1, d, hour, minute, second);
  const date = new Date(ms);
  if (date.getUTCDate() !== d || date.getUTCMonth() !== month - 1) return null;
  return date.toISOString().slice(0, 19) + "Z";
}
const FAST_DATE = /^([A-Z][a-z]{2}) ([1-9]\d?), (\d{4}), ([1-9]\d?):([0-5]\d):([0-5]\d) (AM|PM)$/;
const pad2 = (n: number) => (n < 10 ? "0" + n : String(n));
function daysIn(year: number, month: number): number {
  return month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : [4, 6, 9, 11].includes(month)
    ? 30
    : 31;
}
const FULL_MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];

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
