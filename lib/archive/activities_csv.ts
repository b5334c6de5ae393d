/**
 * Reading Strava's bulk-export `activities.csv`: a column map built from the header by name and
 * position together, and conversion of each row to the fields of the `activities` table. The
 * CSV syntax is `csv_parser.ts`, the cells (dates, numbers, flags) `archive_cells.ts`, the sport
 * names `sport_types.ts`.
 *
 * The export repeats column names (`Elapsed Time`, `Distance`, `Max Heart Rate`, `Relative Effort`,
 * `Commute`): the first block of columns, up to `Filename`, is the summary Strava shows on the
 * activity page (distance in display units, km), the block after `Filename` holds the detailed
 * figures (distance in metres). A repeated name is therefore resolved by which side of `Filename`
 * it stands on, so a future export that adds, drops or reorders columns still maps correctly.
 *
 * The export is written in the account's language; export_layout.ts recognizes the header (by its
 * names, or by its layout when its language is unknown) and gives each column its English name,
 * so everything below reads English names. A header recognized by its layout alone must be
 * confirmed by the first row's cells (a numeric id, a date, an `activities/…` file name).
 */
import { UsageError } from "../errors.ts";
import { CsvParser, type CsvRecord, CsvSyntaxError } from "./csv_parser.ts";
import { exportSportType, legacyType } from "./sport_types.ts";
import {
  DateOrderError,
  DateReader,
  dayOrderOf,
  type DecimalMark,
  displayNumber,
  flag,
  number,
  RowError,
  seconds,
} from "./archive_cells.ts";
import { ColumnMap, describeFormat, type ExportFormat } from "./export_layout.ts";
import { DATE_LOCALES, ENGLISH, type ExportLanguage } from "./export_languages.ts";
import { Utf8Error, Utf8Text } from "./utf8_text.ts";

/**
 * An activity as the archive describes it, in the units and names of the `activities` table:
 * distances and elevation in metres, times in seconds, speeds in m/s, `start_date` as
 * `YYYY-MM-DDTHH:MM:SSZ`; `type` is the API's legacy type (`Ride` for a `MountainBikeRide`).
 */
export interface ArchiveActivity {
  id: bigint;
  name: string | null;
  type: string | null;
  sport_type: string | null;
  start_date: string;
  distance: number | null;
  moving_time: number | null;
  elapsed_time: number | null;
  total_elevation_gain: number | null;
  average_speed: number | null;
  max_speed: number | null;
  average_heartrate: number | null;
  max_heartrate: number | null;
  average_watts: number | null;
  /** 1 when the row has no Filename (entered by hand), else 0. */
  manual: number;
  commute: number | null;
  /** 0 for manual activities; null when the archive cannot tell. */
  has_gps: number | null;
  /** Every non-empty cell of the row, keyed by its disambiguated header name (see `ColumnMap.keys`). */
  archive_json: string;
  /** The `Activity Type` as written when the tool does not know it (not a column of the table). */
  unknown_type: string | null;
  /** True when that type is kept in `sport_type` (an English name, spaces removed); false when left empty. */
  unknown_type_kept: boolean;
}

/** One parsed data row: an activity, or the reason the row is unusable. */
export type ArchiveRow =
  | { line: number; activity: ArchiveActivity; error?: undefined }
  | { line: number; activity?: undefined; error: string };

// --- Row conversion ----------------------------------------------------------------------

/** Column indexes of the fields the tool maps, resolved once per file. */
function fieldIndexes(map: ColumnMap) {
  return {
    id: map.index("Activity ID"),
    date: map.index("Activity Date"),
    name: map.index("Activity Name"),
    type: map.index("Activity Type"),
    filename: map.index("Filename"),
    elapsedDetail: map.index("Elapsed Time", "detail"),
    elapsedSummary: map.index("Elapsed Time", "summary"),
    moving: map.index("Moving Time"),
    distanceMetres: map.index("Distance", "detail"),
    distanceKm: map.index("Distance", "summary"),
    elevationGain: map.index("Elevation Gain"),
    averageSpeed: map.index("Average Speed"),
    maxSpeed: map.index("Max Speed"),
    averageHeartrate: map.index("Average Heart Rate"),
    maxHeartrateDetail: map.index("Max Heart Rate", "detail"),
    maxHeartrateSummary: map.index("Max Heart Rate", "summary"),
    averageWatts: map.index("Average Watts"),
    commuteSummary: map.index("Commute", "summary"),
    commuteDetail: map.index("Commute", "detail"),
  };
}

/** What one file's rows are read with: its columns, its language's dates, numbers and type names. */
interface FileReading {
  f: ReturnType<typeof fieldIndexes>;
  jsonKeys: readonly string[];
  dates: DateReader;
  /** Decimal mark of the display columns (before `Filename`). */
  mark: DecimalMark;
  language: ExportLanguage | null;
}

/** Sets up the reading of a file whose header is `map`. */
function fileReading(map: ColumnMap): FileReading {
  const language = map.recognized.language;
  const english = language === ENGLISH;
  // English needs no Intl data unless a date leaves the export's own form (what `Intl` says for
  // `en`, tested in archive_cells_test.ts): loading a locale's data costs a few MB of memory.
  const dates = language === null
    ? new DateReader(DATE_LOCALES, "day-first")
    : english
    ? new DateReader(DATE_LOCALES, "month-first")
    : new DateReader([language.locale, "en"], dayOrderOf(language.locale));
  return {
    f: fieldIndexes(map),
    jsonKeys: map.keys.map((k) => JSON.stringify(k) + ":"),
    dates,
    mark: language === null ? "either" : english ? "." : decimalMarkOf(language.locale),
    language,
  };
}

function decimalMarkOf(locale: string): DecimalMark {
  const decimal = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === "decimal")?.value;
  return decimal === "," ? "," : ".";
}

const ID_TEXT = /^[1-9]\d{0,18}$/;
// Cells JSON must escape: quotes, backslashes, control characters, surrogates.
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

const at = (row: string[], i: number): string | undefined => (i < 0 ? undefined : row[i]);

/** Thrown by `convert` for an ambiguous numeric date the file has not settled yet: the row waits. */
const UNDECIDED = Symbol("undecided date order");

/** Converts a row to an activity; `RowError` says why it cannot be. */
function convert(row: string[], r: FileReading): ArchiveActivity {
  const f = r.f;
  const idText = row[f.id].trim();
  if (!ID_TEXT.test(idText) || (idText.length === 19 && idText > "9223372036854775807")) {
    throw new RowError(`Activity ID '${row[f.id]}' is not an activity id`);
  }
  let start: string | null | undefined;
  try {
    start = r.dates.read(row[f.date]);
  } catch (err) {
    if (err instanceof DateOrderError) throw new RowError(err.message);
    throw err;
  }
  if (start === undefined) throw UNDECIDED;
  if (start === null) {
    throw new RowError(`Activity Date '${row[f.date]}' is not a date like 'Oct 6, 2022, 11:19:20 PM'`);
  }
  const typeText = row[f.type].trim();
  const sport = typeText === "" ? null : exportSportType(typeText, r.language, r.language === ENGLISH);

  const metres = number(at(row, f.distanceMetres), "Distance");
  const filename = at(row, f.filename);
  const manual = filename === undefined ? 0 : filename.trim() === "" ? 1 : 0;

  // Keys are JSON-encoded once per file and plain cells need no escaping: building the text
  // directly took 150 ms for 50,000 rows where JSON.stringify of an object took 400 ms.
  let json = "{";
  let first = true;
  for (let i = 0; i < row.length; i++) {
    const cell = row[i];
    if (cell === "") continue;
    json += (first ? "" : ",") + r.jsonKeys[i] + (NEEDS_ESCAPE.test(cell) ? JSON.stringify(cell) : '"' + cell + '"');
    first = false;
  }
  json += "}";

  return {
    id: BigInt(idText),
    name: row[f.name],
    type: sport === null ? null : legacyType(sport.sportType),
    sport_type: sport === null ? null : sport.sportType,
    start_date: start,
    // The display columns (km, summary times) are read only when the detailed ones are empty.
    distance: metres ?? kmToMetres(displayNumber(at(row, f.distanceKm), "Distance", r.mark)),
    moving_time: seconds(at(row, f.moving), "Moving Time"),
    elapsed_time: seconds(at(row, f.elapsedDetail), "Elapsed Time") ??
      durationSeconds(displayNumber(at(row, f.elapsedSummary), "Elapsed Time", r.mark)),
    total_elevation_gain: number(at(row, f.elevationGain), "Elevation Gain"),
    average_speed: number(at(row, f.averageSpeed), "Average Speed"),
    max_speed: number(at(row, f.maxSpeed), "Max Speed"),
    average_heartrate: number(at(row, f.averageHeartrate), "Average Heart Rate"),
    max_heartrate: number(at(row, f.maxHeartrateDetail), "Max Heart Rate") ??
      displayNumber(at(row, f.maxHeartrateSummary), "Max Heart Rate", r.mark),
    average_watts: number(at(row, f.averageWatts), "Average Watts"),
    manual,
    commute: r.language === ENGLISH
      ? flag(at(row, f.commuteSummary), "Commute") ?? flag(at(row, f.commuteDetail), "Commute")
      : flag(at(row, f.commuteDetail), "Commute") ?? localFlag(at(row, f.commuteSummary)),
    has_gps: manual === 1 ? 0 : null,
    archive_json: json,
    unknown_type: sport === null ? (typeText === "" ? null : typeText) : sport.known ? null : sport.sportType,
    unknown_type_kept: sport !== null && !sport.known,
  };
}

const durationSeconds = (n: number | null) => (n === null ? null : Math.round(n));
const kmToMetres = (km: number | null) => (km === null ? null : Math.round(km * 1000 * 100) / 100);

/**
 * The summary `Commute` of an export in another language: `true`/`false` as in the real German
 * export, but a word the tool cannot read (a translated `true`) leaves it unknown rather than
 * refusing the row; the detailed column (1.0/0.0) is read first anyway.
 */
function localFlag(cell: string | undefined): number | null {
  try {
    return flag(cell, "Commute");
  } catch (err) {
    if (err instanceof RowError) return null;
    throw err;
  }
}

// --- Reading an export ----------------------------------------------------------------------

/** Options for `readActivities`. */
interface ReadOptions {
  /** Names the file in messages, e.g. `export.zip:activities.csv`. */
  label: string;
  /** Called with the number of bytes read so far (progress). */
  onBytes?: (bytes: number) => void;
  /** Called once the whole file is read: its language, layout and how its dates were read. */
  onFormat?: (format: ExportFormat) => void;
}

/**
 * Turns the records of one file into rows: the first record is the header, each later one an
 * activity or the reason it is unusable. Remembers ids already seen, so a repeat is reported.
 * While the file has not settled how its ambiguous numeric dates read (`03/04/2022`), the rows
 * from the first such date on wait, and come out in file order once a date settles it (or the
 * file ends: then the language's convention does).
 */
class RowConverter {
  private map: ColumnMap | undefined;
  private reading: FileReading | undefined;
  private dataRows = 0;
  private readonly seen = new Map<string, number>();
  private waiting: CsvRecord[] = [];

  constructor(private readonly label: string) {}

  /** True once the header has been read. */
  get sawHeader(): boolean {
    return this.map !== undefined;
  }

  /** How the file was read (after its header). */
  format(): ExportFormat | undefined {
    if (this.map === undefined) return undefined;
    const { language, layout } = this.map.recognized;
    const dates = this.reading!.dates.order;
    return { language: language?.name ?? null, layout: layout?.label ?? null, width: this.map.width, dates };
  }

  /** Converts `records` (the header first, when not yet seen) and empties the array; `final` at the file's end. */
  convertAll(records: CsvRecord[], final = false): ArchiveRow[] {
    const batch: ArchiveRow[] = [];
    for (const record of records) {
      if (this.map === undefined) {
        this.map = ColumnMap.fromHeader(record.fields, this.label);
        this.reading = fileReading(this.map);
        continue;
      }
      if (++this.dataRows === 1) this.confirm(record);
      if (this.waiting.length > 0) {
        this.waiting.push(record);
        const date = record.fields[this.reading!.f.date];
        if (record.fields.length === this.map.width && this.reading!.dates.settles(date)) this.release(batch);
        continue;
      }
      const row = this.row(record);
      if (row === UNDECIDED) this.waiting.push(record);
      else batch.push(row);
    }
    records.length = 0;
    if (final && this.waiting.length > 0) {
      this.reading!.dates.settleByConvention();
      this.release(batch);
    }
    return batch;
  }

  /** Converts the waiting rows, now that the date order is settled. */
  private release(batch: ArchiveRow[]): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const record of waiting) batch.push(this.row(record) as ArchiveRow);
  }

  /**
   * The first row must be an activity the header's reading can read: a header recognized by its
   * layout alone is not taken for Strava's unless the row's cells confirm it, and a date form the
   * tool cannot read refuses the file once instead of every row.
   */
  private confirm({ fields: record, line }: CsvRecord): void {
    const { recognized } = this.map!;
    const f = this.reading!.f;
    if (record.length !== this.map!.width) {
      if (recognized.language !== null) return;
      throw new UsageError(this.unconfirmed(line, `it has ${record.length} fields, not ${this.map!.width}`));
    }
    let date: string | null | undefined = null;
    try {
      date = this.reading!.dates.read(record[f.date]);
    } catch (err) {
      if (!(err instanceof DateOrderError)) throw err;
    }
    if (recognized.language === null) {
      const filename = record[f.filename].trim();
      const wrong = !ID_TEXT.test(record[f.id].trim())
        ? `its first cell '${record[f.id]}' is not an activity id`
        : date === null
        ? `its date '${record[f.date]}' is not a date`
        : filename !== "" && !filename.startsWith("activities/")
        ? `its file name '${filename}' is not in activities/`
        : null;
      if (wrong !== null) throw new UsageError(this.unconfirmed(line, wrong));
    } else if (date === null && /\d/.test(record[f.date])) {
      throw new UsageError(
        `${this.label} line ${line}: Activity Date '${record[f.date]}' is not a date in any form this tool reads ` +
          `(read as ${describeFormat(this.format()!)}); please report it with this line`,
      );
    }
  }

  private unconfirmed(line: number, why: string): string {
    const layout = this.map!.recognized.layout!;
    return `${this.label} is not a Strava activities export: its header has ${layout.label} but no column name ` +
      `in English, German or French, and line ${line} does not confirm it (${why})`;
  }

  private row({ fields: record, line }: CsvRecord): ArchiveRow | typeof UNDECIDED {
    const width = this.map!.width;
    if (record.length !== width) return { line, error: `has ${record.length} fields, the header has ${width}` };
    let activity: ArchiveActivity;
    try {
      activity = convert(record, this.reading!);
    } catch (err) {
      if (err === UNDECIDED) return UNDECIDED;
      if (!(err instanceof RowError)) throw err;
      return { line, error: err.message };
    }
    const key = record[this.reading!.f.id].trim();
    const earlier = this.seen.get(key);
    if (earlier !== undefined) return { line, error: `Activity ID ${key} already appears on line ${earlier}` };
    this.seen.set(key, line);
    return { line, activity };
  }
}

/**
 * Parses an `activities.csv` byte stream, yielding its data rows in batches (one per chunk read):
 * each an activity or the reason the row is unusable, with the line it starts on. The header is
 * recognized first (in any language, see export_layout.ts): a file that is empty or not a Strava
 * export in any layout is a `UsageError`, as is broken CSV syntax or text that is not UTF-8, or a
 * first row whose date no form reads.
 */
export async function* readActivities(
  source: ReadableStream<Uint8Array>,
  { label, onBytes, onFormat }: ReadOptions,
): AsyncGenerator<ArchiveRow[], void, undefined> {
  const reader = source.getReader();
  const utf8 = new Utf8Text();
  const parser = new CsvParser();
  const rows = new RowConverter(label);
  const records: CsvRecord[] = [];
  try {
    while (true) {
      const { done, value } = await reader.read();
      let text: string;
      try {
        text = done ? utf8.end() : utf8.decode(value);
      } catch (err) {
        if (!(err instanceof Utf8Error)) throw err;
        throw new UsageError(`${label} is not UTF-8 text (${err.message}); is it really Strava's activities.csv?`);
      }
      if (!done) onBytes?.(utf8.bytes);
      feed(parser, text, done, records, label);
      const batch = rows.convertAll(records, done);
      if (batch.length > 0) yield batch;
      if (done) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (!rows.sawHeader) throw new UsageError(`${label} is empty`);
  onFormat?.(rows.format()!);
}

/** Feeds decoded text to the parser; broken CSV syntax becomes a `UsageError` naming the file. */
function feed(parser: CsvParser, text: string, final: boolean, records: CsvRecord[], label: string): void {
  try {
    if (text.length > 0) parser.push(text, records);
    if (final) parser.end(records);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw new UsageError(`${label} ${err.message}`);
    throw err;
  }
}
