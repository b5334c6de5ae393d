/**
 * What the tool knows of the languages Strava writes its bulk export in: the header names of
 * each language (mapped to the English ones), the locale whose `Intl` data gives its month names
 * and decimal separator, and its activity type names. Only names seen in real exports are here,
 * each with its source; a language or a name that is missing is still read through the column
 * layout (export_layout.ts), since the layout does not change with the language.
 */

/** A language of the export. */
export interface ExportLanguage {
  /** BCP 47 tag: the locale of its month names, day periods and decimal separator (`Intl`). */
  readonly locale: string;
  /** English name, for messages and the summary line. */
  readonly name: string;
  /** Header name in this language -> the English header name. */
  readonly headers: ReadonlyMap<string, string>;
  /** Activity type name in this language -> the API's sport type. */
  readonly types: Readonly<Record<string, string>>;
}

/** The English header of the 2024-25 layout (92 columns): the 94-column one without `Timer Time`, `Total Cycles`. */
const ENGLISH_92 = (
  "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Distance,Max Heart Rate," +
  "Relative Effort,Commute,Activity Private Note,Activity Gear,Filename,Athlete Weight,Bike Weight,Elapsed Time," +
  "Moving Time,Distance,Max Speed,Average Speed,Elevation Gain,Elevation Loss,Elevation Low,Elevation High," +
  "Max Grade,Average Grade,Average Positive Grade,Average Negative Grade,Max Cadence,Average Cadence," +
  "Max Heart Rate,Average Heart Rate,Max Watts,Average Watts,Calories,Max Temperature,Average Temperature," +
  "Relative Effort,Total Work,Number of Runs,Uphill Time,Downhill Time,Other Time,Perceived Exertion,Type," +
  "Start Time,Weighted Average Power,Power Count,Prefer Perceived Exertion,Perceived Relative Effort,Commute," +
  "Total Weight Lifted,From Upload,Grade Adjusted Distance,Weather Observation Time,Weather Condition," +
  "Weather Temperature,Apparent Temperature,Dewpoint,Humidity,Weather Pressure,Wind Speed,Wind Gust," +
  "Wind Bearing,Precipitation Intensity,Sunrise Time,Sunset Time,Moon Phase,Bike,Gear," +
  "Precipitation Probability,Precipitation Type,Cloud Cover,Weather Visibility,UV Index,Weather Ozone," +
  "Jump Count,Total Grit,Average Flow,Flagged,Average Elapsed Speed,Dirt Distance,Newly Explored Distance," +
  "Newly Explored Dirt Distance,Activity Count,Total Steps,Carbon Saved,Pool Length,Training Load,Intensity," +
  "Average Grade Adjusted Pace,Media"
).split(",");

/**
 * The real German header (92 columns), position by position with `ENGLISH_92`. Source: the header
 * of German-language exports of 2024-25 posted by their owners in martin-ueding/geo-activity-playground
 * #191, #348, #393 (tests/fixtures/strava/activities_header_de_92cols.csv).
 */
export const GERMAN_92 = (
  "Aktivitäts-ID,Aktivitätsdatum,Name der Aktivität,Aktivitätsart,Aktivitätsbeschreibung,Verstrichene Zeit," +
  "Distanz,Max. Herzfrequenz,Relative Leistung,Pendeln,Hinweis zur Privatsphäre für Aktivitäten," +
  "Aktivitätsausrüstung,Dateiname,Sportlergewicht,Fahrradgewicht,Verstrichene Zeit,Bewegungszeit,Distanz," +
  "Höchstgeschw.,Durchschnittliche Geschwindigkeit,Höhenzunahme,Höhenunterschied,Min. Höhe,Max. Höhe," +
  "Max. Steigung,Durchschnittliche Steigung,Durchschnittliche positive Steigung," +
  "Durchschnittliche negative Steigung,Max. Tritt-/Schrittfrequenz,Durchschnittliche Trittfrequenz," +
  "Max. Herzfrequenz,Durchschnittliche Herzfrequenz,Max. Watt,Durchschnittliche Watt,Kalorien," +
  "Max. Temperatur,Durchschnittliche Temperatur,Relative Leistung,Gesamtarbeit,Anzahl Läufe,Bergaufzeit," +
  "Bergabzeit,Andere Zeit,Gefühlte Anstrengung,Art,Startzeit,Gewichtete durchschnittliche Leistung," +
  "Leistungszahl,Gefühlte Anstrengung verwenden,Gefühlte relative Leistung,Pendeln," +
  "Insgesamt gestemmtes Gewicht,Von Upload,Auf Steigung angepasste Distanz,Wetterbeobachtungszeit,Wetterlage," +
  "Wetter: Temperatur,Scheinbare Temperatur,Taupunkt,Luftfeuchtigkeit,Wetter: Druck,Windgeschwindigkeit," +
  "Windböe,Windrichtung,Niederschlagsintensität,Sonnenaufgangszeit,Sonnenuntergangszeit,Mondphase,Fahrrad," +
  "Ausrüstung,Niederschlagswahrscheinlichkeit,Niederschlagsart,Wolkendecke,Wetter: Sichtbarkeit,UV-Index," +
  "Wetter: Ozon,Sprunganzahl,Schwierigkeit insgesamt,Durchschnittlicher Flow,Markiert," +
  "Durchschnittsgeschwindigkeit im Aufzeichnungszeitraum,Auf Schotter zurückgelegte Distanz," +
  "Neu getestete Distanz,Neu getestete Schotterdistanz,Aktivitätsanzahl,Schritte insgesamt," +
  "Eingesparte CO₂-Emissionen,Pool-Länge,Trainingsbelastung,Intensität," +
  "Durchschnittliches auf Steigung angepasstes Tempo,Medien"
).split(",");

/** The English header names of the 92-column layout, in order (export_layout.ts builds the others from it). */
export const ENGLISH_HEADER_92: readonly string[] = ENGLISH_92;

function zip(localized: readonly string[], english: readonly string[]): Map<string, string> {
  if (localized.length !== english.length) throw new Error("header tables of different lengths");
  return new Map(localized.map((name, i) => [name, english[i]]));
}

/** English: the header names are the tool's own; types are looked up in sport_types.ts. */
export const ENGLISH: ExportLanguage = {
  locale: "en",
  name: "English",
  headers: new Map(ENGLISH_92.map((n) => [n, n])),
  types: {},
};

/**
 * German. Headers: the real 92-column header above. Types: `Radfahrt` (Ride) and `Lauf` (Run)
 * from a real row quoted in geo-activity-playground #86; no other German type name has been seen.
 */
export const GERMAN: ExportLanguage = {
  locale: "de",
  name: "German",
  headers: zip(GERMAN_92, ENGLISH_92),
  types: { Radfahrt: "Ride", Lauf: "Run" },
};

/**
 * French: the column names quoted from French exports in public threads (collected in issue 19 and
 * tests/fixtures/strava/README.md). The other columns are found by their position in the layout.
 * No French activity type name has been seen in a real export, so none is mapped.
 */
export const FRENCH: ExportLanguage = {
  locale: "fr",
  name: "French",
  headers: new Map([
    ["ID de l'activité", "Activity ID"],
    ["Date de l'activité", "Activity Date"],
    ["Nom de l'activité", "Activity Name"],
    ["Type d'activité", "Activity Type"],
    ["Temps écoulé", "Elapsed Time"],
    ["Durée de déplacement", "Moving Time"],
    ["Dénivelé positif", "Elevation Gain"],
    ["Fréquence cardiaque moyenne", "Average Heart Rate"],
    ["Nom du fichier", "Filename"],
  ]),
  types: {},
};

/** Every language whose header names the tool knows, English first. */
export const LANGUAGES: readonly ExportLanguage[] = [ENGLISH, GERMAN, FRENCH];

/**
 * Locales whose month names and day periods dates are read with when the header's language is
 * not known: the languages Strava offers its site in (as far as `Intl` has them).
 */
export const DATE_LOCALES: readonly string[] = [
  "en",
  "de",
  "fr",
  "es",
  "it",
  "nl",
  "pt",
  "ru",
  "pl",
  "sv",
  "da",
  "nb",
  "fi",
  "cs",
  "tr",
  "ja",
  "ko",
  "zh",
];
