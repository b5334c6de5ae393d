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
 * Every German header name -> its English name (the 92-, 94- and 103-column layouts, as far as sourced).
 * Source: martin-ueding/geo-activity-playground,
 * src/geo_activity_playground/features/strava/strava-csv-mapping.json @da936e7 (2026-08-03), built
 * from German exports their owners posted in that project's issues #86, #112, #131, #191, #348, #393
 * (#393 a header of 94 columns; #348 the header changing between exports of July and September 2025).
 * Its names of the 92 columns are those of the real header in
 * tests/fixtures/strava/activities_header_de_92cols.csv (a test checks it); `Stoppuhr-Zeit` (Timer
 * Time) and `Zyklen gesamt` (Total Cycles) make a German 94-column export the English 94 layout. No German name is sourced for
 * the 2026 columns `With Kid`, `Downhill Distance`, `Total Sets`, `Total Reps` (found by position).
 */
const GERMAN_NAMES: Readonly<Record<string, string>> = {
  "Aktivitäts-ID": "Activity ID",
  "Aktivitätsdatum": "Activity Date",
  "Name der Aktivität": "Activity Name",
  "Aktivitätsart": "Activity Type",
  "Aktivitätsbeschreibung": "Activity Description",
  "Verstrichene Zeit": "Elapsed Time",
  "Distanz": "Distance",
  "Max. Herzfrequenz": "Max Heart Rate",
  "Relative Leistung": "Relative Effort",
  "Pendeln": "Commute",
  "Hinweis zur Privatsphäre für Aktivitäten": "Activity Private Note",
  "Aktivitätsausrüstung": "Activity Gear",
  "Dateiname": "Filename",
  "Sportlergewicht": "Athlete Weight",
  "Fahrradgewicht": "Bike Weight",
  "Bewegungszeit": "Moving Time",
  "Höchstgeschw.": "Max Speed",
  "Durchschnittliche Geschwindigkeit": "Average Speed",
  "Höhenzunahme": "Elevation Gain",
  "Höhenunterschied": "Elevation Loss",
  "Min. Höhe": "Elevation Low",
  "Max. Höhe": "Elevation High",
  "Max. Steigung": "Max Grade",
  "Durchschnittliche Steigung": "Average Grade",
  "Durchschnittliche positive Steigung": "Average Positive Grade",
  "Durchschnittliche negative Steigung": "Average Negative Grade",
  "Max. Tritt-/Schrittfrequenz": "Max Cadence",
  "Durchschnittliche Trittfrequenz": "Average Cadence",
  "Durchschnittliche Herzfrequenz": "Average Heart Rate",
  "Max. Watt": "Max Watts",
  "Durchschnittliche Watt": "Average Watts",
  "Kalorien": "Calories",
  "Max. Temperatur": "Max Temperature",
  "Durchschnittliche Temperatur": "Average Temperature",
  "Gesamtarbeit": "Total Work",
  "Anzahl Läufe": "Number of Runs",
  "Bergaufzeit": "Uphill Time",
  "Bergabzeit": "Downhill Time",
  "Andere Zeit": "Other Time",
  "Gefühlte Anstrengung": "Perceived Exertion",
  "Art": "Type",
  "Startzeit": "Start Time",
  "Gewichtete durchschnittliche Leistung": "Weighted Average Power",
  "Leistungszahl": "Power Count",
  "Gefühlte Anstrengung verwenden": "Prefer Perceived Exertion",
  "Gefühlte relative Leistung": "Perceived Relative Effort",
  "Insgesamt gestemmtes Gewicht": "Total Weight Lifted",
  "Von Upload": "From Upload",
  "Auf Steigung angepasste Distanz": "Grade Adjusted Distance",
  "Wetterbeobachtungszeit": "Weather Observation Time",
  "Wetterlage": "Weather Condition",
  "Wetter: Temperatur": "Weather Temperature",
  "Scheinbare Temperatur": "Apparent Temperature",
  "Taupunkt": "Dewpoint",
  "Luftfeuchtigkeit": "Humidity",
  "Wetter: Druck": "Weather Pressure",
  "Windgeschwindigkeit": "Wind Speed",
  "Windböe": "Wind Gust",
  "Windrichtung": "Wind Bearing",
  "Niederschlagsintensität": "Precipitation Intensity",
  "Sonnenaufgangszeit": "Sunrise Time",
  "Sonnenuntergangszeit": "Sunset Time",
  "Mondphase": "Moon Phase",
  "Fahrrad": "Bike",
  "Ausrüstung": "Gear",
  "Niederschlagswahrscheinlichkeit": "Precipitation Probability",
  "Niederschlagsart": "Precipitation Type",
  "Wolkendecke": "Cloud Cover",
  "Wetter: Sichtbarkeit": "Weather Visibility",
  "UV-Index": "UV Index",
  "Wetter: Ozon": "Weather Ozone",
  "Sprunganzahl": "Jump Count",
  "Schwierigkeit insgesamt": "Total Grit",
  "Durchschnittlicher Flow": "Average Flow",
  "Markiert": "Flagged",
  "Durchschnittsgeschwindigkeit im Aufzeichnungszeitraum": "Average Elapsed Speed",
  "Auf Schotter zurückgelegte Distanz": "Dirt Distance",
  "Neu getestete Distanz": "Newly Explored Distance",
  "Neu getestete Schotterdistanz": "Newly Explored Dirt Distance",
  "Aktivitätsanzahl": "Activity Count",
  "Schritte insgesamt": "Total Steps",
  "Eingesparte CO₂-Emissionen": "Carbon Saved",
  "Pool-Länge": "Pool Length",
  "Trainingsbelastung": "Training Load",
  "Intensität": "Intensity",
  "Durchschnittliches auf Steigung angepasstes Tempo": "Average Grade Adjusted Pace",
  "Stoppuhr-Zeit": "Timer Time",
  "Zyklen gesamt": "Total Cycles",
  "Regeneration": "Recovery",
  "Mit Haustier": "With Pet",
  "Wettbewerb": "Competition",
  "Langer Lauf": "Long Run",
  "Für einen guten Zweck": "For a Cause",
  "Medien": "Media",
};

/** The English header names of the 92-column layout, in order (export_layout.ts builds the others from it). */
export const ENGLISH_HEADER_92: readonly string[] = ENGLISH_92;

/** English: the header names are the tool's own; types are looked up in sport_types.ts. */
export const ENGLISH: ExportLanguage = {
  locale: "en",
  name: "English",
  headers: new Map(ENGLISH_92.map((n) => [n, n])),
  types: {},
};

/**
 * German. Headers: `GERMAN_NAMES` above. Types: `Radfahrt` (Ride) and `Lauf` (Run) from a real row
 * quoted in geo-activity-playground #86; `Spaziergang` (Walk) and `Wanderung` (Hike) from the output
 * of that project's README statistics notebook, run on a real German account.
 */
export const GERMAN: ExportLanguage = {
  locale: "de",
  name: "German",
  headers: new Map(Object.entries(GERMAN_NAMES)),
  types: { Radfahrt: "Ride", Lauf: "Run", Spaziergang: "Walk", Wanderung: "Hike" },
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
export const DATE_LOCALES: readonly string[] = "en de fr es it nl pt ru pl sv da nb fi cs tr ja ko zh".split(" ");
