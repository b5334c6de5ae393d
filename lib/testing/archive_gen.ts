/**
 * Generates realistic Strava bulk exports for tests, benchmarks and `deno task demo`: an
 * `activities.csv` in any known layout (92 columns, 2024-25; 94, early 2025; 103, 2026), in
 * English or another language (German, French, a made-up one: see `GenLanguage`), with
 * the export's quirks (repeated column names, km and metres side by side, 12-hour UTC dates in
 * English and the language's own forms elsewhere, display sport names, decimal commas in the
 * display columns, manual rows without a Filename, multi-line quoted descriptions),
 * and export `.zip` files holding it among incompressible filler, written as a stream so a
 * multi-gigabyte archive costs no memory.
 *
 * The header rows are those of real exports (tests/fixtures/strava/activities_header_*.csv,
 * header only); tests/activities_csv_test.ts checks they match when the fixtures are present.
 */
import { configure, TextReader, ZipWriter } from "@zip.js/zip.js";
import { mulberry32 } from "./sim_random.ts";
import { SPORT_TYPES } from "../archive/sport_types.ts";
import { LAYOUTS } from "../archive/export_layout.ts";
import { GERMAN, LANGUAGES } from "../archive/export_languages.ts";

configure({ useWebWorkers: false });

/** A simple activity record to turn into an export row. */
export interface GenActivity {
  id: bigint;
  name: string;
  /** API sport type, e.g. "Ride", "VirtualRide". */
  type: string;
  /** ISO-8601 UTC start, e.g. "2022-10-06T23:19:20Z". */
  startDate: string;
  distanceM: number;
  movingTime: number;
  elapsedTime: number;
  elevationGain: number;
  /** Entered by hand: the row has no Filename and no detailed figures. */
  manual: boolean;
  commute: boolean;
  description?: string;
}

/** Header version: 2024 = 92 columns (the layout of the German export of 2024-25), 2025 = 94, 2026 = 103. */
export type HeaderVersion = 2024 | 2025 | 2026;

/**
 * Languages the generator writes: English, German (the sourced names, see `germanHeader`), French (see FRENCH_94) and
 * `xx`, a made-up language (every name reversed) that stands for one the tool has no table for.
 */
export type GenLanguage = "en" | "de" | "fr" | "xx";

const WIDTH: Record<HeaderVersion, number> = { 2024: 92, 2025: 94, 2026: 103 };

/**
 * A French header of the 94-column layout, for tests. Quoted from French exports in public threads
 * (issue 19): `ID de l'activité`, `Date de l'activité`, `Nom de l'activité`, `Type d'activité`,
 * `Temps écoulé`, `Durée de déplacement`, `Dénivelé positif`, `Fréquence cardiaque moyenne`,
 * `Nom du fichier`. Every other name is INFERRED (a plausible translation, not seen in a real
 * export); the tool reads them by their position in the layout, not by these names.
 */
const FRENCH_94 = (
  "ID de l'activité,Date de l'activité,Nom de l'activité,Type d'activité,Description de l'activité," +
  "Temps écoulé,Distance,Fréquence cardiaque max.,Effort relatif,Trajet,Note privée de l'activité," +
  "Équipement de l'activité,Nom du fichier,Poids de l'athlète,Poids du vélo,Temps écoulé," +
  "Durée de déplacement,Distance,Vitesse max.,Vitesse moyenne,Dénivelé positif,Dénivelé négatif," +
  "Altitude min.,Altitude max.,Pente max.,Pente moyenne,Pente positive moyenne,Pente négative moyenne," +
  "Cadence max.,Cadence moyenne,Fréquence cardiaque max.,Fréquence cardiaque moyenne,Watts max.," +
  "Watts moyens,Calories,Température max.,Température moyenne,Effort relatif,Travail total," +
  "Nombre de descentes,Temps en montée,Temps en descente,Autre temps,Effort perçu,Type,Heure de début," +
  "Puissance moyenne pondérée,Nombre de mesures de puissance,Préférer l'effort perçu,Effort relatif perçu," +
  "Trajet,Poids total soulevé,Depuis un import,Distance ajustée à la pente,Heure d'observation météo," +
  "Conditions météo,Température (météo),Température ressentie,Point de rosée,Humidité,Pression (météo)," +
  "Vitesse du vent,Rafales de vent,Direction du vent,Intensité des précipitations,Heure du lever du soleil," +
  "Heure du coucher du soleil,Phase de la lune,Vélo,Équipement,Probabilité de précipitations," +
  "Type de précipitations,Couverture nuageuse,Visibilité (météo),Indice UV,Ozone (météo),Nombre de sauts," +
  "Difficulté totale,Flow moyen,Signalée,Vitesse moyenne sur le temps écoulé,Distance sur terre," +
  "Distance nouvellement explorée,Distance sur terre nouvellement explorée,Nombre d'activités," +
  "Nombre total de pas,CO₂ économisé,Longueur du bassin,Charge d'entraînement,Intensité," +
  "Allure moyenne ajustée à la pente,Temps du chronomètre,Nombre total de cycles,Médias"
).split(",");

/**
 * The German header of a layout: each English name through the German table (export_languages.ts).
 * For 2024 this is the real 92-column header (tests/export_languages_test.ts checks it). The 2026
 * columns that have no sourced German name are written `de:With Kid`, standing for the real one.
 */
function germanHeader(english: readonly string[]): string[] {
  const german = new Map([...GERMAN.headers].map(([de, en]) => [en, de]));
  return english.map((n) => german.get(n) ?? `de:${n}`);
}

/** The header row of an export of `version` in `language` (French: 2025 only). */
export function exportHeader(version: HeaderVersion, language: GenLanguage = "en"): string[] {
  const english = LAYOUTS.find((l) => l.width === WIDTH[version])!.names;
  if (language === "en") return [...english];
  if (language === "xx") return english.map((n) => [...n].reverse().join(""));
  if (language === "de") return germanHeader(english);
  if (language === "fr" && version === 2025) return [...FRENCH_94];
  throw new TypeError(`no ${version} header in ${language}`);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

/** Formats an ISO UTC instant the way the export does: "Oct 6, 2022, 11:19:20 PM". */
export function formatActivityDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new TypeError(`not a date: ${iso}`);
  const h = d.getUTCHours();
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ` +
    `${h % 12 === 0 ? 12 : h % 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? "AM" : "PM"}`;
}

/**
 * An instant as an export in `language` writes it: German `09.12.2022, 15:24:49` (as in a real
 * German row), French `9 déc. 2022, 15:24:49` (both `Intl`'s medium date and time), `xx` numeric
 * day-first `09/12/2022 15:24:49`.
 */
export function localActivityDate(iso: string, language: GenLanguage): string {
  if (language === "en") return formatActivityDate(iso);
  const d = new Date(iso);
  if (language === "xx") {
    return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  }
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" }).format(d);
}

/**
 * The `Activity Type` an export in `language` writes: the sourced name where the tool knows one
 * (German `Radfahrt`, `Lauf`, `Spaziergang`, `Wanderung`), else a made-up `de:Swim`, standing for a
 * real name nobody sourced yet.
 */
export function localSportType(apiType: string, language: GenLanguage): string {
  if (language === "en") return displaySportType(apiType);
  const table = LANGUAGES.find((l) => l.locale === language)?.types ?? {};
  const local = Object.entries(table).find(([, api]) => api === apiType)?.[0];
  return local ?? `${language}:${displaySportType(apiType)}`;
}

/** The export's display name of an API sport type ("VirtualRide" -> "Virtual Ride"). */
export function displaySportType(apiType: string): string {
  return SPORT_TYPES[apiType] ?? apiType.replace(/([a-z])([A-Z])/g, "$1 $2");
}

function csvCell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

const f1 = (n: number) => n.toFixed(1);
/** A figure of the display columns (before `Filename`): other languages write a decimal comma there (`9,44`). */
const display = (figure: string, language: GenLanguage) => (language === "en" ? figure : figure.replace(".", ","));

/**
 * Cells of one activity, by disambiguated column name ("Distance", "Distance (2)"). One long
 * table (over 60 lines) on purpose: it mirrors the export's columns one per line.
 */
function cells(a: GenActivity, language: GenLanguage, date: (iso: string) => string): Record<string, string> {
  const ride = /Ride|Velomobile|Handcycle/.test(a.type);
  const run = /Run|Walk|Hike/.test(a.type);
  // Deterministic per activity, so the same record always gives the same row.
  const seed = Number(a.id % 1000003n);
  const hr = 120 + (seed % 45);
  const base: Record<string, string> = {
    "Activity ID": String(a.id),
    "Activity Date": date(a.startDate),
    "Activity Name": a.name,
    "Activity Type": localSportType(a.type, language),
    "Activity Description": a.description ?? "",
    "Elapsed Time": String(a.elapsedTime),
    "Distance": display((a.distanceM / 1000).toFixed(2), language),
    "Commute": a.commute ? "true" : "false",
    "Filename": a.manual ? "" : `activities/${a.id}.fit.gz`,
    "Athlete Weight": "72.5",
    "Elapsed Time (2)": f1(a.elapsedTime),
    "Moving Time": f1(a.movingTime),
    "Distance (2)": a.distanceM === 0 ? "0.0" : String(a.distanceM),
    "Commute (2)": a.commute ? "1.0" : "0.0",
    "From Upload": a.manual ? "0.0" : "1.0",
    "Prefer Perceived Exertion": "0.0",
    "Activity Count": "1.0",
  };
  if (a.manual) return base;
  const speed = a.movingTime > 0 ? a.distanceM / a.movingTime : 0;
  Object.assign(base, {
    "Max Heart Rate": display(f1(hr + 25), language),
    "Relative Effort": f1(10 + (seed % 150)),
    "Activity Gear": ride ? "Canyon Endurace CF" : run ? "Saucony Endorphin" : "",
    "Bike Weight": ride ? "8.2" : "",
    "Max Speed": (speed * 1.9).toFixed(6),
    "Average Speed": speed.toFixed(6),
    "Elevation Gain": String(a.elevationGain),
    "Elevation Loss": String(a.elevationGain),
    "Elevation Low": f1(seed % 400),
    "Elevation High": f1((seed % 400) + a.elevationGain / 2),
    "Max Grade": f1(5 + (seed % 20)),
    "Average Grade": "0.0",
    "Average Positive Grade": "3.2",
    "Average Negative Grade": "-3.1",
    "Max Cadence": ride ? "118.0" : "94.0",
    "Average Cadence": ride ? "86.4" : "82.1",
    "Max Heart Rate (2)": f1(hr + 25),
    "Average Heart Rate": (hr + 0.37).toFixed(6),
    "Calories": f1(a.movingTime / 4.3),
    "Max Temperature": "24.0",
    "Average Temperature": "19.0",
    "Relative Effort (2)": f1(10 + (seed % 150)),
    "Uphill Time": String(Math.round(a.movingTime * 0.4)),
    "Downhill Time": String(Math.round(a.movingTime * 0.3)),
    "Other Time": String(Math.round(a.movingTime * 0.3)),
    "Average Elapsed Speed": (a.elapsedTime > 0 ? a.distanceM / a.elapsedTime : 0).toFixed(6),
    "Dirt Distance": f1(a.distanceM * 0.05),
    "Newly Explored Distance": f1(a.distanceM * 0.01),
    "Newly Explored Dirt Distance": "0.0",
    "Carbon Saved": a.commute ? f1(a.distanceM * 0.00012) : "",
    "Timer Time": f1(a.elapsedTime),
    "Media": seed % 7 === 0 ? `media/${seed}a.jpg|media/${seed}b.jpg` : "",
    "Recovery": "0.0",
    "Competition": "0.0",
    "Long Run": run && a.distanceM > 25000 ? "1.0" : "0.0",
  });
  if (ride) {
    Object.assign(base, {
      "Max Watts": String(450 + (seed % 400)),
      "Average Watts": f1(150 + (seed % 120)),
      "Total Work": String(Math.round(a.movingTime * (150 + (seed % 120)))),
      "Weighted Average Power": f1(170 + (seed % 120)),
      "Power Count": String(a.movingTime),
      "Total Cycles": String(Math.round(a.movingTime * 1.44)),
    });
  }
  if (run) {
    Object.assign(base, {
      "Grade Adjusted Distance": f1(a.distanceM * 1.02),
      "Average Grade Adjusted Pace": (a.distanceM > 0 ? a.movingTime / a.distanceM : 0).toFixed(6),
      "Total Steps": String(Math.round(a.movingTime * 2.8)),
    });
  }
  return base;
}

/** Options for `generateActivitiesCsv`. */
export interface CsvOptions {
  headerVersion: HeaderVersion;
  /** Start with a UTF-8 byte-order mark, as spreadsheet programs save. */
  bom?: boolean;
  /** Line ending; the export uses "\n". */
  newline?: "\n" | "\r\n";
  /** The account's language (default English): header, dates, display numbers, type names. */
  language?: GenLanguage;
  /** Writes `Activity Date` another way than the language does (tests of other date forms). */
  date?: (iso: string) => string;
}

/** Renders `rows` as an export `activities.csv` (header row plus one row per activity). */
export function generateActivitiesCsv(rows: Iterable<GenActivity>, options: CsvOptions): string {
  const language = options.language ?? "en";
  const header = exportHeader(options.headerVersion, language);
  const date = options.date ?? ((iso: string) => localActivityDate(iso, language));
  const seen = new Map<string, number>();
  // Cells are named in English: every language has the same columns at the same places.
  const keys = exportHeader(options.headerVersion).map((name) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name} (${n})`;
  });
  const nl = options.newline ?? "\n";
  const out: string[] = [header.map(csvCell).join(",")];
  for (const a of rows) {
    const c = cells(a, language, date);
    out.push(keys.map((k) => csvCell(c[k] ?? "")).join(","));
  }
  return (options.bom ? "\ufeff" : "") + out.join(nl) + nl;
}

const NAMES = [
  "Morning Ride",
  "Lunch Run",
  "Zwift - Watopia Figure 8",
  'Café ride, then "coffee"',
  "Morgenrunde ☀️ über die Brücke",
  "雨の中のライド",
  "Évening swim 🏊",
  "Commute home",
  "Hill repeats: 6 × 3'",
  "Walk with the dog",
];
const DESCRIPTIONS = [
  "",
  "",
  "Felt strong.\nLegs were fine, wind from the west, 25 km/h.",
  'Group ride with "the usual suspects", stopped at the bakery.',
  "Line one\r\nLine two, with a comma\n\nLine four after a blank line",
  "Ünïcödé ✓ — 日本語 — emoji 🚴‍♀️",
];
const TYPES = ["Ride", "Ride", "Run", "VirtualRide", "Walk", "MountainBikeRide", "EBikeRide", "Swim", "Hike"];

/** Options for `sampleActivities`. */
export interface SampleOptions {
  seed?: number;
  /** Id of the first activity; ids then grow by a few thousand each (a bigint, Strava's are ~10^10). */
  firstId?: bigint;
  /** ISO start of the first activity; later ones follow about a day apart. */
  firstStart?: string;
  /** One activity in this many is manual (no Filename). Default 9. */
  manualEvery?: number;
}

/** `count` varied activities: sports, unicode names, multi-line descriptions, commutes, manual entries. */
export function sampleActivities(count: number, options: SampleOptions = {}): GenActivity[] {
  const random = mulberry32(options.seed ?? 1);
  let id = options.firstId ?? 8_000_000_000n;
  let start = Date.parse(options.firstStart ?? "2019-01-01T06:30:00Z");
  const manualEvery = options.manualEvery ?? 9;
  const out: GenActivity[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[Math.floor(random() * TYPES.length)];
    const moving = 600 + Math.floor(random() * 10_000);
    const speed = type.includes("Ride") ? 6 + random() * 4 : type === "Swim" ? 0.8 : 2 + random() * 2;
    out.push({
      id,
      name: NAMES[Math.floor(random() * NAMES.length)],
      type,
      startDate: new Date(start).toISOString().slice(0, 19) + "Z",
      distanceM: Math.round(moving * speed * 10) / 10,
      movingTime: moving,
      elapsedTime: moving + Math.floor(random() * 900),
      elevationGain: Math.round(random() * 1500 * 10) / 10,
      manual: i % manualEvery === manualEvery - 1,
      commute: random() < 0.1,
      description: DESCRIPTIONS[Math.floor(random() * DESCRIPTIONS.length)],
    });
    id += 1000n + BigInt(Math.floor(random() * 50_000));
    start += 3_600_000 * (6 + Math.floor(random() * 40));
  }
  return out;
}

/** Options for `writeExportZip`. */
export interface ZipOptions {
  /** Contents of activities.csv; omit for a zip without one. */
  csv?: string | Uint8Array;
  /** Path of the CSV inside the zip (default "activities.csv"; some tools nest it in a folder). */
  csvPath?: string;
  /** Total bytes of incompressible filler (activity files), stored uncompressed. */
  fillerBytes?: number;
  /** Number of filler entries the bytes are spread over (default: one per 256 KiB, at least 1). */
  fillerEntries?: number;
  /** Deflate the CSV (default true, as Strava does). */
  compressCsv?: boolean;
  /** Write zip64 records even for a small archive. */
  zip64?: boolean;
}

/** An export's zip written to `path` as a stream: filler first and last, activities.csv between. */
export async function writeExportZip(path: string, options: ZipOptions = {}): Promise<void> {
  const fillerBytes = options.fillerBytes ?? 0;
  const entries = fillerBytes === 0 ? 0 : options.fillerEntries ?? Math.max(1, Math.ceil(fillerBytes / 262_144));
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const zip = new ZipWriter(file.writable, { zip64: options.zip64 ?? false, useWebWorkers: false });
  try {
    await zip.add("profile.csv", new TextReader("Athlete ID,Email Address\n12345,athlete@example.com\n"));
    const before = Math.ceil(entries / 2);
    for (let i = 0; i < entries; i++) {
      if (i === before && options.csv !== undefined) await addCsv(zip, options);
      const size = Math.floor(fillerBytes / entries) + (i < fillerBytes % entries ? 1 : 0);
      await zip.add(`activities/${1_000_000 + i}.fit.gz`, randomStream(size), { level: 0 });
    }
    if ((entries === 0 || before >= entries) && options.csv !== undefined) await addCsv(zip, options);
  } finally {
    await zip.close();
  }
}

async function addCsv(zip: ZipWriter<unknown>, options: ZipOptions): Promise<void> {
  const bytes = typeof options.csv === "string" ? new TextEncoder().encode(options.csv) : options.csv!;
  await zip.add(options.csvPath ?? "activities.csv", ReadableStream.from([bytes]), {
    level: options.compressCsv === false ? 0 : 6,
  });
}

/** `size` random bytes in 64 KiB chunks. */
function randomStream(size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream({
    pull(controller) {
      if (left === 0) return controller.close();
      const chunk = new Uint8Array(Math.min(65_536, left));
      crypto.getRandomValues(chunk);
      left -= chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** An extracted export folder: `dir/activities.csv` plus a filler file, as unzipping gives. */
export async function writeExportFolder(dir: string, csv: string): Promise<void> {
  await Deno.mkdir(`${dir}/activities`, { recursive: true });
  await Deno.writeTextFile(`${dir}/activities.csv`, csv);
  await Deno.writeTextFile(`${dir}/profile.csv`, "Athlete ID\n12345\n");
  await Deno.writeFile(`${dir}/activities/1.fit.gz`, crypto.getRandomValues(new Uint8Array(1024)));
}
