/**
 * The bulk export (`activities.csv`) of the simulated athlete, for import tests and the demo:
 * the export's rows are written by lib/testing/archive_gen.ts from the simulator's truth.
 * An export is a snapshot: it holds every activity the truth has when called, deleted and
 * private ones included (an old export still lists what was later deleted on Strava).
 */
import { type GenActivity, generateActivitiesCsv, type GenLanguage, type HeaderVersion } from "./archive_gen.ts";
import type { SimActivity, SimTruth } from "./sim_truth.ts";

/** Options for `generateArchive`. */
export interface ArchiveOptions {
  /** 2024 = 92 columns, 2025 = 94 columns, 2026 = 103 columns. */
  headerVersion: HeaderVersion;
  /** The account's language (default English). */
  language?: GenLanguage;
  bom?: boolean;
  newline?: "\n" | "\r\n";
}

/** One export row's record for a simulated activity. */
export function archiveRecord(a: SimActivity): GenActivity {
  const d = a.detail;
  return {
    id: a.id,
    name: d.name as string,
    type: a.sportType,
    startDate: a.startDate,
    distanceM: a.distance,
    movingTime: d.moving_time as number,
    elapsedTime: d.elapsed_time as number,
    elevationGain: d.total_elevation_gain as number,
    manual: a.manual,
    commute: a.commute,
    description: (d.description as string | null) ?? undefined,
  };
}

/** `activities.csv` text of the athlete's bulk export. */
export function generateArchive(truth: SimTruth, options: ArchiveOptions): string {
  return generateActivitiesCsv(truth.activities.map(archiveRecord), options);
}
