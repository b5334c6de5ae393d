/**
 * The `Activity Date` of Strava's bulk export (UTC, English: "Oct 6, 2022, 11:19:20 PM", or the
 * day-first "6 Oct 2022, 23:19:20") as ISO-8601, with a fast path for the export's own form.
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
