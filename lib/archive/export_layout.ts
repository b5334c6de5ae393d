/**
 * Recognizing an `activities.csv` header whatever its language: by its names where the language
 * is known (export_languages.ts), and by its layout where it is not. Strava keeps the column
 * layout the same in every language (the German 92-column header is the English layout of early
 * 2025 without `Timer Time` and `Total Cycles`), so a header of a known width whose repeated names
 * stand where Strava repeats them (`Elapsed Time`, `Distance`, `Max Heart Rate`, `Relative Effort`,
 * `Commute`, before and after `Filename`) is read by position, in English names.
 */
import { UsageError } from "../errors.ts";
import type { OrderDecision } from "./archive_cells.ts";
import { ENGLISH, ENGLISH_HEADER_92, type ExportLanguage, LANGUAGES } from "./export_languages.ts";

/** A column layout of a known export version. */
interface Layout {
  /** Number of columns. */
  readonly width: number;
  /** For messages: "the 94-column layout of early 2025". */
  readonly label: string;
  /** The English name of each column. */
  readonly names: readonly string[];
}

const ADDED_2026 = "Recovery,With Pet,Competition,Long Run,For a Cause,With Kid,Downhill Distance,Total Sets,Total Reps"
  .split(",");
const NAMES_94 = [...ENGLISH_HEADER_92.slice(0, -1), "Timer Time", "Total Cycles", "Media"];

/** The known layouts: 92 columns (2024-25, seen in German), 94 (early 2025), 103 (2026). */
export const LAYOUTS: readonly Layout[] = [
  { width: 92, label: "the 92-column layout of 2024-25", names: ENGLISH_HEADER_92 },
  { width: 94, label: "the 94-column layout of early 2025", names: NAMES_94 },
  { width: 103, label: "the 103-column layout of 2026", names: [...NAMES_94.slice(0, -1), ...ADDED_2026, "Media"] },
];

/** Header names the tool requires (in English); an export without them is not a Strava activities export. */
const REQUIRED_COLUMNS = ["Activity ID", "Activity Date", "Activity Name", "Activity Type"] as const;

/** What a header was recognized as. */
interface RecognizedHeader {
  /** The English name of each column (a name the tool does not know is kept as written). */
  names: string[];
  /** The header's language; null when none of its words is known (read by layout alone). */
  language: ExportLanguage | null;
  /** The known layout it matches, if any. */
  layout: Layout | null;
  /** Columns were assigned by position in `layout`, not by name. */
  byPosition: boolean;
}

/** Groups of positions holding the same name in a layout (the export's repeated columns). */
function repeats(names: readonly string[]): number[][] {
  const at = new Map<string, number[]>();
  names.forEach((n, i) => at.set(n, [...(at.get(n) ?? []), i]));
  return [...at.values()].filter((g) => g.length > 1);
}
const REPEATS = new Map(LAYOUTS.map((l) => [l, repeats(l.names)]));

/** The known layout `cells` has: its width, with the same name wherever the layout repeats one. */
function matchLayout(cells: readonly string[]): Layout | null {
  const layout = LAYOUTS.find((l) => l.width === cells.length);
  if (layout === undefined) return null;
  const same = REPEATS.get(layout)!.every((group) => group.every((i) => cells[i] === cells[group[0]]));
  return same ? layout : null;
}

/**
 * Recognizes a header (trimmed cells): English by its names; another known language by its names,
 * read by position when it also has a known layout and every name it knows stands where that layout
 * puts it; any other header by the layout alone (the rows must then confirm it, see
 * activities_csv.ts). Null when it is none of these.
 */
export function recognizeHeader(cells: readonly string[]): RecognizedHeader | null {
  if (REQUIRED_COLUMNS.every((n) => cells.includes(n))) {
    return { names: [...cells], language: ENGLISH, layout: matchLayout(cells), byPosition: false };
  }
  const language = identifyLanguage(cells);
  const layout = matchLayout(cells);
  if (language !== null) {
    const translated = cells.map((c) => language.headers.get(c) ?? ENGLISH.headers.get(c) ?? c);
    const fits = layout !== null &&
      cells.every((c, i) => !language.headers.has(c) || language.headers.get(c) === layout.names[i]);
    if (fits) return { names: [...layout.names], language, layout, byPosition: true };
    if (REQUIRED_COLUMNS.every((n) => translated.includes(n))) {
      return { names: translated, language, layout: null, byPosition: false };
    }
  }
  // Words of a language the tool has not seen (or a header edited by hand): the layout alone.
  if (layout !== null) return { names: [...layout.names], language: null, layout, byPosition: true };
  return null;
}

/** The non-English language most of the header's names belong to, if it has the required columns' names. */
function identifyLanguage(cells: readonly string[]): ExportLanguage | null {
  let best: ExportLanguage | null = null;
  let bestHits = 0;
  for (const language of LANGUAGES) {
    if (language === ENGLISH) continue;
    const english = new Set(cells.map((c) => language.headers.get(c)).filter((n) => n !== undefined));
    if (!REQUIRED_COLUMNS.every((n) => english.has(n))) continue;
    const hits = cells.filter((c) => language.headers.has(c)).length;
    if (hits > bestHits) [best, bestHits] = [language, hits];
  }
  return best;
}

// --- Column map --------------------------------------------------------------------------

type Block = "summary" | "detail";

/**
 * Where each known field is in a given export's header. Built once per file from the header row;
 * `keys` are the header names as written with repeats disambiguated (`Distance`, `Distance (2)`),
 * used as the keys of `archive_json`; fields are found by the columns' English names.
 */
export class ColumnMap {
  /** One key per column, unique. */
  readonly keys: readonly string[];
  readonly width: number;
  /** What the header was recognized as. */
  readonly recognized: RecognizedHeader;
  private readonly names: readonly string[];
  private readonly split: number;

  private constructor(header: string[], recognized: RecognizedHeader) {
    this.recognized = recognized;
    this.names = recognized.names;
    this.width = header.length;
    const seen = new Map<string, number>();
    this.keys = header.map((name) => {
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      return n === 1 ? name : `${name} (${n})`;
    });
    this.split = this.names.indexOf("Filename");
  }

  /** Recognizes the header row (any language, see export_layout.ts) and maps it. Throws `UsageError` otherwise. */
  static fromHeader(header: string[], label: string): ColumnMap {
    const cells = header.map((c) => c.trim());
    if (cells.length === 0 || (cells.length === 1 && cells[0] === "")) throw new UsageError(`${label} is empty`);
    const recognized = recognizeHeader(cells);
    if (recognized === null) {
      throw new UsageError(
        `${label} is not a Strava activities export: its header (${cells.length} columns, the first ` +
          `'${cells[0].slice(0, 40)}') has no 'Activity ID' column in English, German or French, and not the ` +
          `column layout of a Strava export (92, 94 or 103 columns, with Strava's repeated names)`,
      );
    }
    return new ColumnMap(cells, recognized);
  }

  /** Index of the column `name` (English); for a repeated name, the one in `block` (around `Filename`). -1 if none. */
  index(name: string, block?: Block): number {
    const positions: number[] = [];
    this.names.forEach((h, i) => h === name && positions.push(i));
    if (block === undefined) return positions[0] ?? -1;
    if (this.split >= 0) return positions.find((i) => (block === "summary") === (i < this.split)) ?? -1;
    return positions[block === "summary" ? 0 : 1] ?? -1;
  }
}

/** How a file was read, for the summary line. */
export interface ExportFormat {
  /** The header's language, or null when it was read by its layout alone. */
  language: string | null;
  /** The known layout it has (`the 94-column layout of early 2025`), or null. */
  layout: string | null;
  width: number;
  /** How ambiguous numeric dates were read, when the file has any. */
  dates?: OrderDecision;
}

/** One phrase for the summary line: `German export, the 92-column layout of 2024-25`. */
export function describeFormat(format: ExportFormat): string {
  const layout = format.layout ?? `${format.width} columns mapped by name`;
  let text = format.language === null
    ? `export in a language this tool does not know, read by ${layout}`
    : `${format.language} export, ${layout}`;
  const d = format.dates;
  if (d !== undefined) {
    text += d.by === "row"
      ? `; numeric dates read ${d.order}, as '${d.evidence}' shows`
      : `; numeric dates read ${d.order}, by ${
        format.language === null ? "the most common" : `the ${format.language}`
      } convention ` +
        `(no date in the file settles it)`;
  }
  return text;
}
