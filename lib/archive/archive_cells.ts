/**
 * The cells of Strava's export: numbers, plain in the detailed columns and written the language's
 * way in the display columns (`9,44` km in German), true/false flags, and the `Activity Date`. A
 * number or flag that cannot be read throws `RowError`, which refuses that row, not the file.
 *
 * Dates come in any form Strava writes them: English month names (`Oct 6, 2022, 11:19:20 PM`,
 * `6 Oct 2022, 23:19:20`), month names of other languages (`9 déc. 2022, 15:24:49`), numeric
 * day-first (`09.12.2022, 15:24:49`, `09/12/2022 15:24:49`), year-first (`2022/12/09 15:24:49`,
 * `2022年12月9日`, `2022년 12월 9일`), 12 h and 24 h. Always UTC, as the export writes it.
 *
 * Month names and day periods (`PM`, `p. m.`, `午後`) come from the runtime's `Intl` data, not from
 * tables of our own. A numeric date whose day and month are both 12 or less (`03/04/2022`) is
 * ambiguous: the file decides, from its first date that is not (a day above 12), else the
 * language's own convention; `DateReader` keeps that decision for the whole file.
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

// --- Dates -------------------------------------------------------------------------------

/** Order of day and month in a numeric date. */
type DayOrder = "day-first" | "month-first";

/** How a file's ambiguous numeric dates were read. */
export interface OrderDecision {
  order: DayOrder;
  /** `row`: a date of the file settled it (`evidence` is that date); `convention`: the language's. */
  by: "row" | "convention";
  evidence?: string;
}

interface Names {
  /** Normalized month word (lowercase, no final dot) -> month 1-12. */
  months: Map<string, number>;
  /** Long month names (for unique prefixes: `sept`, `janv`), month 1-12 each. */
  long: [string, number][];
  /** Normalized day period (no dots or spaces) -> true for afternoon. */
  periods: Map<string, boolean>;
}

const NAMES_CACHE = new Map<string, Names>();

const norm = (word: string) => word.toLowerCase().replace(/[.\s]/g, "");

/** Month names and day periods of `locales` from `Intl`; a word two locales read differently is dropped. */
function namesOf(locales: readonly string[]): Names {
  const key = locales.join(",");
  const cached = NAMES_CACHE.get(key);
  if (cached) return cached;
  const months = new Map<string, number>();
  const clash = new Set<string>();
  const long: [string, number][] = [];
  const periods = new Map<string, boolean>();
  const add = (word: string, month: number) => {
    const w = norm(word);
    if (w === "" || /\d/.test(w)) return;
    if (months.has(w) && months.get(w) !== month) clash.add(w);
    months.set(w, month);
  };
  for (const locale of locales) {
    const styles: Intl.DateTimeFormatOptions[] = [
      { month: "short" },
      { month: "long" },
      { day: "numeric", month: "short" },
      { day: "numeric", month: "long" },
    ];
    for (const style of styles) {
      const format = new Intl.DateTimeFormat(locale, { ...style, timeZone: "UTC" });
      for (let m = 1; m <= 12; m++) {
        const word = format.formatToParts(Date.UTC(2022, m - 1, 15)).find((p) => p.type === "month")?.value;
        if (word === undefined) continue;
        add(word, m);
        if (style.month === "long" && !/\d/.test(word)) long.push([norm(word), m]);
      }
    }
    const clock = new Intl.DateTimeFormat(locale, { hour: "numeric", hour12: true, timeZone: "UTC" });
    for (const [hour, pm] of [[3, false], [15, true]] as const) {
      const period = clock.formatToParts(Date.UTC(2022, 0, 1, hour)).find((p) => p.type === "dayPeriod")?.value;
      if (period !== undefined) periods.set(norm(period), pm);
    }
  }
  for (const w of clash) months.delete(w);
  periods.set("am", false);
  periods.set("pm", true);
  const names = { months, long, periods };
  NAMES_CACHE.set(key, names);
  return names;
}

/** Words that may stand between a date's parts: `9 de dic. de 2022`, `9 дек. 2022 г.`, `um`, `alle ore`. */
const FILLERS = new Set("de del г klo kl um à a at om o alle ore às las la le el v в".split(" "));

// The English export's own form, 50,000 times per big file: no normalization, no Date object.
const FAST_DATE = /^([A-Z][a-z]{2}) ([1-9]\d?), (\d{4}), ([1-9]\d?):([0-5]\d):([0-5]\d) (AM|PM)$/;
const FAST_MONTHS: Readonly<Record<string, number>> = Object.fromEntries(
  "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ").map((m, i) => [m, i + 1]),
);
const TIME = /(\d{1,2}):(\d{2}):(\d{2})(?!\d)/;
// Finnish and Danish write `15.24.49`: tried when no time has colons.
const DOTTED_TIME = /(\d{1,2})\.(\d{2})\.(\d{2})(?![.\d])/;
// `p. m.`, `a.m.`, `PM`: one day period, however spaced.
const LATIN_PERIOD = /(?:^|[\s,])([ap])\.? ?m\.?(?=[\s,]|$)/;
const TOKEN = /\d+|[年月日년월일]|[\p{L}\p{M}]+\.?|[./-]/gu;

const pad2 = (n: number) => (n < 10 ? "0" + n : String(n));

/** `YYYY-MM-DDTHH:MM:SSZ`, or null when there is no such instant. */
function iso(year: number, month: number, day: number, hour: number, minute: number, second: number): string | null {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1 || year < 1970 || year > 2999) return null;
  return `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}Z`;
}

/**
 * Reads one file's dates. `locales` are the header's language (plus English); an unknown language
 * reads with every locale of `DATE_LOCALES`. `convention` settles ambiguous numeric dates when no
 * date of the file does.
 */
export class DateReader {
  private decision: OrderDecision | undefined;
  private loaded: Names | undefined;

  constructor(private readonly locales: readonly string[], private readonly convention: DayOrder) {}

  /** Month names and day periods, gathered from `Intl` on first need (the English export never needs them). */
  private get names(): Names {
    return this.loaded ??= namesOf(this.locales);
  }

  /** How ambiguous numeric dates are read; undefined while no date has needed or settled it. */
  get order(): OrderDecision | undefined {
    return this.decision;
  }

  /** Settles ambiguous dates by the convention (at the end of a file no date settled). */
  settleByConvention(): void {
    this.decision ??= { order: this.convention, by: "convention" };
  }

  /**
   * The date as `YYYY-MM-DDTHH:MM:SSZ`; null when it is not a date; undefined when it is an
   * ambiguous numeric date and the file has not settled the order yet. Throws `DateOrderError` for
   * a numeric date that contradicts the order the file settled.
   */
  read(text: string): string | null | undefined {
    const fast = FAST_DATE.exec(text);
    if (fast !== null) {
      const h12 = +fast[4];
      if (h12 <= 12) {
        const hour = (h12 % 12) + (fast[7] === "PM" ? 12 : 0);
        const found = iso(+fast[3], FAST_MONTHS[fast[1]] ?? 0, +fast[2], hour, +fast[5], +fast[6]);
        if (found !== null) return found;
      }
    }
    return this.readAny(text);
  }

  /** True when `text` settles the order of ambiguous dates (and records it); false otherwise. */
  settles(text: string): boolean {
    if (this.decision !== undefined) return false;
    try {
      this.readAny(text);
    } catch (err) {
      if (!(err instanceof DateOrderError)) throw err;
    }
    return this.decision !== undefined;
  }

  /** Reads every form (see the module's comment); the long way, for all but the English export's own. */
  private readAny(text: string): string | null | undefined {
    const clean = text.normalize("NFC").replace(/[\s\u00a0\u202f]+/g, " ").trim().toLowerCase();
    const time = TIME.exec(clean) ?? DOTTED_TIME.exec(clean);
    if (time === null) return null;
    let hour = +time[1];
    const [minute, second] = [+time[2], +time[3]];
    let rest = clean.slice(0, time.index) + " " + clean.slice(time.index + time[0].length);
    let pm: boolean | undefined;
    const latin = LATIN_PERIOD.exec(rest);
    if (latin !== null) {
      pm = latin[1] === "p";
      rest = rest.slice(0, latin.index) + " " + rest.slice(latin.index + latin[0].length);
    }
    const numbers: string[] = [];
    const separators = new Set<string>();
    let month = 0;
    let cjk = false;
    for (const token of rest.match(TOKEN) ?? []) {
      if (/^\d/.test(token)) numbers.push(token);
      else if ("年月日년월일".includes(token)) cjk = true;
      else if (token === "." || token === "/" || token === "-") separators.add(token);
      else {
        const word = norm(token);
        const period = this.names.periods.get(word);
        if (period !== undefined && pm === undefined) pm = period;
        else if (FILLERS.has(word)) continue;
        else {
          const m = this.month(word);
          if (m === 0 || month !== 0) return null;
          month = m;
        }
      }
    }
    if (pm !== undefined) {
      if (hour < 1 || hour > 12) return null;
      hour = (hour % 12) + (pm ? 12 : 0);
    }
    if (month !== 0) {
      if (numbers.length !== 2) return null;
      const yearAt = numbers.findIndex((n) => n.length === 4);
      if (yearAt < 0) return null;
      return iso(+numbers[yearAt], month, +numbers[1 - yearAt], hour, minute, second);
    }
    if (numbers.length !== 3 || separators.size > 1) return null;
    if (numbers[0].length === 4 || cjk) return iso(+numbers[0], +numbers[1], +numbers[2], hour, minute, second);
    if (numbers[2].length !== 4) return null;
    const [p, q, year] = [+numbers[0], +numbers[1], +numbers[2]];
    // Dotted numeric dates are day-first in every language that writes them.
    if (separators.has(".")) return iso(year, q, p, hour, minute, second);
    return this.numeric(text.trim(), p, q, year, hour, minute, second);
  }

  /** A slash or dash date `p/q/year`: settles the file's order, or follows it. */
  private numeric(text: string, p: number, q: number, year: number, h: number, mi: number, s: number) {
    let says: DayOrder | undefined;
    if (p > 12 && q <= 12) says = "day-first";
    else if (q > 12 && p <= 12) says = "month-first";
    else if (p > 12) return null;
    if (says !== undefined) {
      if (this.decision === undefined) this.decision = { order: says, by: "row", evidence: text };
      else if (this.decision.order !== says) {
        const settled = this.decision.by === "row" ? `'${this.decision.evidence}'` : "the language's convention";
        throw new DateOrderError(
          `Activity Date '${text}' is ${says}, where ${settled} made this file's dates ` +
            `${this.decision.order}`,
        );
      }
    }
    const order = says ?? this.decision?.order;
    if (order === undefined) return undefined;
    return order === "day-first" ? iso(year, q, p, h, mi, s) : iso(year, p, q, h, mi, s);
  }

  /** Month of a word: a name or abbreviation, or the unique long name it begins (`sept`, `janv`). */
  private month(word: string): number {
    const exact = this.names.months.get(word);
    if (exact !== undefined) return exact;
    if (word.length < 3) return 0;
    const found = new Set(this.names.long.filter(([name]) => name.startsWith(word)).map(([, m]) => m));
    return found.size === 1 ? [...found][0] : 0;
  }
}

/** A numeric date whose order contradicts the file's: that row is bad, the file goes on. */
export class DateOrderError extends Error {}

/** The order of day and month in `locale`'s numeric dates (`en`: month-first, `de`: day-first). */
export function dayOrderOf(locale: string): DayOrder {
  const parts = new Intl.DateTimeFormat(locale, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" })
    .formatToParts(Date.UTC(2022, 11, 9)).map((p) => p.type);
  return parts.indexOf("month") < parts.indexOf("day") ? "month-first" : "day-first";
}
