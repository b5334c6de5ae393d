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
 */
import { UsageError } from "../errors.ts";
import { CsvParser, type CsvRecord, CsvSyntaxError } from "./csv_parser.ts";
import { apiSportType, legacyType } from "./sport_types.ts";
import { flag, number, parseActivityDate, RowError, seconds } from "./archive_cells.ts";
import { Utf8Error, Utf8Text } from "./utf8_text.ts";

/** An activity as the archive describes it, in the units and names of the `activities` table. */
export interface ArchiveActivity {
  id: bigint;
  name: string | null;
  /** The API's legacy `type` (e.g. `Ride` for a `MountainBikeRide`). */
  type: string | null;
  /** The API's `sport_type` (e.g. `VirtualRide`). */
  sport_type: string | null;
  /** `YYYY-MM-DDTHH:MM:SSZ`. */
  start_date: string;
  /** Metres. */
  distance: number | null;
  /** Seconds. */
  moving_time: number | null;
  /** Seconds. */
  elapsed_time: number | null;
  /** Metres. */
  total_elevation_gain: number | null;
  /** m/s. */
  average_speed: number | null;
  /** m/s. */
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
}

/** One parsed data row: an activity, or the reason the row is unusable. */
export type ArchiveRow =
  | { line: number; activity: ArchiveActivity; error?: undefined }
  | { line: number; activity?: undefined; error: string };

// --- Column map --------------------------------------------------------------------------

/** Header names the tool requires; an export without them is not a Strava activities export. */
export const REQUIRED_COLUMNS = ["Activity ID", "Activity Date", "Activity Name", "Activity Type"] as const;

type Block = "summary" | "detail";

/**
 * Where each known field is in a given export's header. Built once per file from the header row;
 * `keys` are the header names with repeats disambiguated (`Distance`, `Distance (2)`), used as the
 * keys of `archive_json`.
 */
export class ColumnMap {
  /** One key per column, unique. */
  readonly keys: readonly string[];
  readonly width: number;
  private readonly header: readonly string[];
  private readonly split: number;

  private constructor(header: string[]) {
    this.header = header;
    this.width = header.length;
    const seen = new Map<string, number>();
    this.keys = header.map((name) => {
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      return n === 1 ? name : `${name} (${n})`;
    });
    this.split = header.indexOf("Filename");
  }

  /** Validates the header row (English, Strava's) and maps it. Throws `UsageError` otherwise. */
  static fromHeader(header: string[], label: string): ColumnMap {
    const cells = header.map((c) => c.trim());
    if (cells.length === 0 || (cells.length === 1 && cells[0] === "")) throw new UsageError(`${label} is empty`);
    const missing = REQUIRED_COLUMNS.filter((name) => !cells.includes(name));
    if (missing.length > 0) {
      if (looksLocalized(cells)) {
        throw new UsageError(
          `${label} is a Strava export in a language other than English (first column '${cells[0]}'), ` +
            `which this tool cannot read; switch Strava's language to English and request a new export`,
        );
      }
      throw new UsageError(
        `${label} is not a Strava activities export: its header has no ${missing.map((m) => `'${m}'`).join(", ")} ` +
          `column${missing.length > 1 ? "s" : ""}`,
      );
    }
    return new ColumnMap(cells);
  }

  /** Index of the column `name`; for a repeated name, the one in `block` (around `Filename`). -1 if none. */
  index(name: string, block?: Block): number {
    const positions: number[] = [];
    this.header.forEach((h, i) => h === name && positions.push(i));
    if (block === undefined) return positions[0] ?? -1;
    if (this.split >= 0) return positions.find((i) => (block === "summary") === (i < this.split)) ?? -1;
    return positions[block === "summary" ? 0 : 1] ?? -1;
  }
}

/** A header that is a Strava export in another language: many columns, an id-like first column. */
function looksLocalized(cells: string[]): boolean {
  if (cells.length < 40) return false;
  return /\bid\b/i.test(cells[0]);
}

// --- Row conversion ----------------------------------------------------------------------

/** Column indexes of the fields the tool maps, resolved once per file. */
interface FieldIndexes {
  id: number;
  date: number;
  name: number;
  type: number;
  filename: number;
  elapsedDetail: number;
  elapsedSummary: number;
  moving: number;
  distanceMetres: number;
  distanceKm: number;
  elevationGain: number;
  averageSpeed: number;
  maxSpeed: number;
  averageHeartrate: number;
  maxHeartrateDetail: number;
  maxHeartrateSummary: number;
  averageWatts: number;
  commuteSummary: number;
  commuteDetail: number;
}

function fieldIndexes(map: ColumnMap): FieldIndexes {
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

const ID_TEXT = /^[1-9]\d{0,18}$/;
// Cells JSON must escape: quotes, backslashes, control characters, surrogates.
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

const at = (row: string[], i: number): string | undefined => (i < 0 ? undefined : row[i]);

/** Converts a row to an activity; `RowError` says why it cannot be. */
function convert(row: string[], f: FieldIndexes, jsonKeys: readonly string[]): ArchiveActivity {
  const idText = row[f.id].trim();
  if (!ID_TEXT.test(idText) || (idText.length === 19 && idText > "9223372036854775807")) {
    throw new RowError(`Activity ID '${row[f.id]}' is not an activity id`);
  }
  const start = parseActivityDate(row[f.date]);
  if (start === null) {
    throw new RowError(`Activity Date '${row[f.date]}' is not a date like 'Oct 6, 2022, 11:19:20 PM'`);
  }
  const typeText = row[f.type].trim();
  const sport = typeText === "" ? null : apiSportType(typeText).sportType;

  const km = number(at(row, f.distanceKm), "Distance");
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
    json += (first ? "" : ",") + jsonKeys[i] + (NEEDS_ESCAPE.test(cell) ? JSON.stringify(cell) : '"' + cell + '"');
    first = false;
  }
  json += "}";

  return {
    id: BigInt(idText),
    name: row[f.name],
    type: sport === null ? null : legacyType(sport),
    sport_type: sport,
    start_date: start,
    distance: metres ?? (km === null ? null : Math.round(km * 1000 * 100) / 100),
    moving_time: seconds(at(row, f.moving), "Moving Time"),
    elapsed_time: seconds(at(row, f.elapsedDetail), "Elapsed Time") ??
      seconds(at(row, f.elapsedSummary), "Elapsed Time"),
    total_elevation_gain: number(at(row, f.elevationGain), "Elevation Gain"),
    average_speed: number(at(row, f.averageSpeed), "Average Speed"),
    max_speed: number(at(row, f.maxSpeed), "Max Speed"),
    average_heartrate: number(at(row, f.averageHeartrate), "Average Heart Rate"),
    max_heartrate: number(at(row, f.maxHeartrateDetail), "Max Heart Rate") ??
      number(at(row, f.maxHeartrateSummary), "Max Heart Rate"),
    average_watts: number(at(row, f.averageWatts), "Average Watts"),
    manual,
    commute: flag(at(row, f.commuteSummary), "Commute") ?? flag(at(row, f.commuteDetail), "Commute"),
    has_gps: manual === 1 ? 0 : null,
    archive_json: json,
  };
}

// --- Reading an export ----------------------------------------------------------------------

/** Options for `readActivities`. */
export interface ReadOptions {
  /** Names the file in messages, e.g. `export.zip:activities.csv`. */
  label: string;
  /** Called with the number of bytes read so far (progress). */
  onBytes?: (bytes: number) => void;
}

/**
 * Turns the records of one file into rows: the first record is the header, each later one an
 * activity or the reason it is unusable. Remembers ids already seen, so a repeat is reported.
 */
class RowConverter {
  private map: ColumnMap | undefined;
  private fields: FieldIndexes | undefined;
  private jsonKeys: string[] = [];
  private dataRows = 0;
  private readonly seen = new Map<string, number>();

  constructor(private readonly label: string) {}

  /** True once the header has been read. */
  get sawHeader(): boolean {
    return this.map !== undefined;
  }

  /** Converts `records` (the header first, when not yet seen) and empties the array. */
  convertAll(records: CsvRecord[]): ArchiveRow[] {
    const batch: ArchiveRow[] = [];
    for (const { fields: record, line } of records) {
      if (this.map === undefined) {
        this.map = ColumnMap.fromHeader(record, this.label);
        this.fields = fieldIndexes(this.map);
        this.jsonKeys = this.map.keys.map((k) => JSON.stringify(k) + ":");
        continue;
      }
      batch.push(this.row(record, line, this.map.width, this.fields!));
    }
    records.length = 0;
    return batch;
  }

  private row(record: string[], line: number, width: number, f: FieldIndexes): ArchiveRow {
    this.dataRows++;
    if (record.length !== width) return { line, error: `has ${record.length} fields, the header has ${width}` };
    let activity: ArchiveActivity;
    try {
      activity = convert(record, f, this.jsonKeys);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      if (this.dataRows === 1 && err.message.startsWith("Activity Date") && /\d/.test(record[f.date])) {
        throw new UsageError(
          `${this.label} line ${line}: Activity Date '${record[f.date]}' is not in the English form ` +
            `'Oct 6, 2022, 11:19:20 PM': an export in another language is not supported; ` +
            `switch Strava's language to English and request a new export`,
        );
      }
      return { line, error: err.message };
    }
    const key = record[f.id].trim();
    const earlier = this.seen.get(key);
    if (earlier !== undefined) return { line, error: `Activity ID ${key} already appears on line ${earlier}` };
    this.seen.set(key, line);
    return { line, activity };
  }
}

/**
 * Parses an `activities.csv` byte stream, yielding its data rows in batches (one per chunk read):
 * each an activity or the reason the row is unusable, with the line it starts on. The header is
 * checked first: a file that is empty, not a Strava export, or a Strava export in another
 * language is a `UsageError`, as is broken CSV syntax or text that is not UTF-8. The first row's
 * date also decides the language, since a localized export may keep English headers.
 */
export async function* readActivities(
  source: ReadableStream<Uint8Array>,
  { label, onBytes }: ReadOptions,
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
      const batch = rows.convertAll(records);
      if (batch.length > 0) yield batch;
      if (done) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (!rows.sawHeader) throw new UsageError(`${label} is empty`);
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
