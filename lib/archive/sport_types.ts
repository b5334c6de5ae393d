/**
 * Strava's sport types: the API names, the English display names the bulk export and Strava's
 * pages use for them, older spellings, and the API's legacy `type` for each.
 */

/**
 * The API's sport types and the English names the export and Strava's pages show for them.
 * Names not listed are matched by the API name with spaces and hyphens removed.
 */
export const SPORT_TYPES: Readonly<Record<string, string>> = {
  AlpineSki: "Alpine Ski",
  BackcountrySki: "Backcountry Ski",
  Badminton: "Badminton",
  Basketball: "Basketball",
  Canoeing: "Canoe",
  Cricket: "Cricket",
  Crossfit: "Crossfit",
  Dance: "Dance",
  EBikeRide: "E-Bike Ride",
  Elliptical: "Elliptical",
  EMountainBikeRide: "E-Mountain Bike Ride",
  Golf: "Golf",
  GravelRide: "Gravel Ride",
  Handcycle: "Handcycle",
  HighIntensityIntervalTraining: "HIIT",
  Hike: "Hike",
  IceSkate: "Ice Skate",
  InlineSkate: "Inline Skate",
  Kayaking: "Kayaking",
  Kitesurf: "Kitesurf",
  MountainBikeRide: "Mountain Bike Ride",
  NordicSki: "Nordic Ski",
  Padel: "Padel",
  Pickleball: "Pickleball",
  Pilates: "Pilates",
  Racquetball: "Racquetball",
  Ride: "Ride",
  RockClimbing: "Rock Climb",
  RollerSki: "Roller Ski",
  Rowing: "Rowing",
  Run: "Run",
  Sail: "Sail",
  Skateboard: "Skateboard",
  Snowboard: "Snowboard",
  Snowshoe: "Snowshoe",
  Soccer: "Football (Soccer)",
  Squash: "Squash",
  StairStepper: "Stair-Stepper",
  StandUpPaddling: "Stand Up Paddling",
  Surfing: "Surfing",
  Swim: "Swim",
  TableTennis: "Table Tennis",
  Tennis: "Tennis",
  TrailRun: "Trail Run",
  Velomobile: "Velomobile",
  VirtualRide: "Virtual Ride",
  VirtualRow: "Virtual Row",
  VirtualRun: "Virtual Run",
  Volleyball: "Volleyball",
  Walk: "Walk",
  WeightTraining: "Weight Training",
  Wheelchair: "Wheelchair",
  Windsurf: "Windsurf",
  Workout: "Workout",
  Yoga: "Yoga",
};

/**
 * The sport types the API added after its legacy `type` was frozen, and the legacy `type` each reads as
 * (`Workout` unless named here); every other sport type is a legacy `type` itself.
 */
const NEWER_TYPES: Readonly<Record<string, string>> = {
  MountainBikeRide: "Ride",
  GravelRide: "Ride",
  EMountainBikeRide: "EBikeRide",
  TrailRun: "Run",
  VirtualRow: "Rowing",
  ...Object.fromEntries(
    ("Badminton Basketball Cricket Dance HighIntensityIntervalTraining Padel Pickleball Pilates Racquetball Squash " +
      "TableTennis Tennis Volleyball").split(" ").map((t) => [t, "Workout"]),
  ),
};

function squash(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** Other spellings seen in exports and on Strava's pages over the years. */
const ALIASES: Readonly<Record<string, string>> = {
  canoe: "Canoeing",
  rockclimb: "RockClimbing",
  hiit: "HighIntensityIntervalTraining",
  football: "Soccer",
  footballsoccer: "Soccer",
  surf: "Surfing",
  kayak: "Kayaking",
  row: "Rowing",
  virtualrowing: "VirtualRow",
  sailing: "Sail",
  ebike: "EBikeRide",
  emountainbike: "EMountainBikeRide",
  weighttraining: "WeightTraining",
};

const BY_SQUASHED: ReadonlyMap<string, string> = new Map([
  ...Object.keys(SPORT_TYPES).map((api) => [squash(api), api] as const),
  ...Object.entries(SPORT_TYPES).map(([api, display]) => [squash(display), api] as const),
  ...Object.entries(ALIASES),
]);

/**
 * The API sport type of an export's display name (`Virtual Ride` -> `VirtualRide`,
 * `E-Bike Ride` -> `EBikeRide`). An unknown name comes back with spaces and punctuation removed
 * and `known: false`, so a sport Strava adds later is kept rather than refused.
 */
export function apiSportType(display: string): { sportType: string; known: boolean } {
  let cached = SPORT_CACHE.get(display);
  if (cached === undefined) {
    cached = Object.freeze(resolveSportType(display));
    if (SPORT_CACHE.size < 1000) SPORT_CACHE.set(display, cached);
  }
  return cached;
}
// A file names a handful of sports 50,000 times over.
const SPORT_CACHE = new Map<string, { sportType: string; known: boolean }>();

/** Looks a display name up without the cache (see `apiSportType`). */
function resolveSportType(display: string): { sportType: string; known: boolean } {
  const found = BY_SQUASHED.get(squash(display));
  if (found) return { sportType: found, known: true };
  return { sportType: display.replace(/[^\p{L}\p{N}]/gu, ""), known: false };
}

/** The API's legacy `type` for a sport type (`MountainBikeRide` -> `Ride`; newer sports -> `Workout`). */
export function legacyType(sportType: string): string {
  // Own keys only: a type named like an Object.prototype member ("toString") is no newer type.
  return Object.hasOwn(NEWER_TYPES, sportType) ? NEWER_TYPES[sportType] : sportType;
}

/**
 * The sport type of an `Activity Type` cell in an export of `language` (its type names, see
 * export_languages.ts), then by the English names, which other languages keep for some sports.
 * An English name the tool does not know is kept with its spaces removed (`apiSportType`); a name
 * in another language, or in a language the tool does not know, that it cannot map is null:
 * `sport_type` then stays empty until the backfill stores the API's record.
 */
export function exportSportType(
  display: string,
  language: { readonly types: Readonly<Record<string, string>> } | null,
  english: boolean,
): { sportType: string; known: boolean } | null {
  const local = language?.types[display];
  if (local !== undefined) return { sportType: local, known: true };
  const found = apiSportType(display);
  return found.known || english ? found : null;
}
