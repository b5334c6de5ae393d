/** Name tables of the simulated athlete's world: cities, segment and activity names (with the odd ones real data has). */

/** Cities of the segments near home. */
export const CITIES = ["Boulder", "Lyons", "Nederland", "Louisville", "Golden", "Longmont"];
/** Roads and trails segment names start with. */
export const SEGMENT_PLACES = [
  "Flagstaff Rd",
  "Lefthand Canyon",
  "Sunshine Canyon",
  "Old Stage Rd",
  "Magnolia Rd",
  "Lee Hill Dr",
  "Olde Stage",
  "Linden St",
  "Fourmile Canyon",
  "Jamestown",
  "Neva Rd",
  "Nelson Rd",
  "Boulder Creek Path",
  "Mesa Trail",
  "Chautauqua",
  "Wonderland Lake",
];
/** How segment names end. */
export const SEGMENT_SUFFIXES = ["Climb", "Sprint", "Descent", "- Full", "to the top", "(bottom half)", "KOM", "Loop"];
/** Names with quotes, commas, non-ASCII and emoji, as real segments have. */
export const ODD_SEGMENT_NAMES = [
  'The "Wall", Part 2',
  "Café Sprint – Pearl St",
  "Hwy 36, northbound",
  "SSüper Steep 🚴",
];
/** Zwift segments. */
export const VIRTUAL_SEGMENTS = ["Epic KOM", "Volcano Climb", "Alpe du Zwift", "Watopia Sprint", "Radio Tower Climb"];
/** DetailedActivity.stats_visibility as recorded. */
export const STATS_VISIBILITY = ["heart_rate", "pace", "power", "speed", "calories"].map((type) => ({
  type,
  visibility: "everyone",
}));
/** Strava's default activity names by start hour (0-4, 5-9, …). */
export const PART_OF_DAY = ["Morning", "Lunch", "Afternoon", "Evening", "Night"];
/** Activity names with quotes, commas, semicolons and emoji. */
export const ODD_ACTIVITY_NAMES = [
  "Flagstaff, again",
  'Café "loop" with Sam',
  "Zwift - Watopia Figure 8 in Watopia",
  "Recovery 🚲 spin",
  "Commute, rainy; wet",
];
