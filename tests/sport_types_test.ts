import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { apiSportType, exportSportType, legacyType, SPORT_TYPES } from "../lib/archive/sport_types.ts";

Deno.test("apiSportType / legacyType: display names to the API's, every sport type round-trips", () => {
  strictEqual(apiSportType("Virtual Ride").sportType, "VirtualRide");
  strictEqual(apiSportType("E-Bike Ride").sportType, "EBikeRide");
  strictEqual(apiSportType("E-Mountain Bike Ride").sportType, "EMountainBikeRide");
  strictEqual(apiSportType("HIIT").sportType, "HighIntensityIntervalTraining");
  strictEqual(apiSportType("Stand Up Paddling").sportType, "StandUpPaddling");
  for (const [api, display] of Object.entries(SPORT_TYPES)) {
    deepStrictEqual(apiSportType(display), { sportType: api, known: true }, display);
    deepStrictEqual(apiSportType(api), { sportType: api, known: true }, api);
  }
  deepStrictEqual(apiSportType("Underwater Hockey"), { sportType: "UnderwaterHockey", known: false });
  strictEqual(legacyType("MountainBikeRide"), "Ride");
  strictEqual(legacyType("TrailRun"), "Run");
  strictEqual(legacyType("VirtualRide"), "VirtualRide");
  // A name like an Object.prototype member is an unknown type, kept as it is.
  strictEqual(legacyType("toString"), "toString");
  strictEqual(legacyType("Pickleball"), "Workout");
});

Deno.test("exportSportType: a language's names, then the English ones; an unknown local name is null", () => {
  const german = { types: { Radfahrt: "Ride", Lauf: "Run" } };
  deepStrictEqual(exportSportType("Radfahrt", german, false), { sportType: "Ride", known: true });
  deepStrictEqual(exportSportType("Yoga", german, false), { sportType: "Yoga", known: true });
  strictEqual(exportSportType("Schneeschuhwandern", german, false), null);
  strictEqual(exportSportType("Underwater Hockey", null, false), null);
  deepStrictEqual(exportSportType("Underwater Hockey", null, true), { sportType: "UnderwaterHockey", known: false });
});
