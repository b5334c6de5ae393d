/**
 * Changes to the simulated athlete's world after a backfill, as they happen on Strava: an
 * activity renamed or otherwise edited (summary fields only), cropped (distance and times
 * shrink; the efforts that fell off the track are gone), deleted, newly uploaded, and a
 * segment renamed or grown (effort and athlete counts). The simulator answers from the live
 * truth, so every change shows in the next listing or fetch; `expectedBackfill(sim.truth)` and
 * the truth's records describe the new world for comparison.
 */
import type { Json, SimActivity, StravaSimulator } from "./strava_sim.ts";
import { isoSeconds } from "./sim_geo.ts";

function activityOf(sim: StravaSimulator, id: bigint): SimActivity {
  const activity = sim.truth.activities.find((a) => a.id === id);
  if (!activity) throw new RangeError(`no activity ${id}`);
  return activity;
}

/** Summary fields that an edit in Strava's web app changes without touching the track. */
export interface ActivityEdit {
  name?: string;
  sport_type?: string;
  commute?: boolean;
  trainer?: boolean;
  private?: boolean;
  gear_id?: string | null;
}

/** Edits an activity's summary fields (listing and detail both show the change); returns it. */
export function editActivity(sim: StravaSimulator, id: bigint, edit: ActivityEdit): SimActivity {
  const activity = activityOf(sim, id);
  for (const record of [activity.summary, activity.detail]) Object.assign(record, edit);
  if (edit.sport_type !== undefined) activity.sportType = edit.sport_type;
  if (edit.commute !== undefined) activity.commute = edit.commute;
  if (edit.trainer !== undefined) activity.trainer = edit.trainer;
  if (edit.private !== undefined) activity.private = edit.private;
  return activity;
}

/**
 * Crops an activity to its first `keep` fraction (0 < keep < 1): distance, moving and elapsed
 * time shrink in the listing and the detail, and the efforts that started after the cut are
 * dropped, as Strava does when it re-processes a cropped activity. Returns the removed effort ids.
 */
export function cropActivity(sim: StravaSimulator, id: bigint, keep = 0.6): bigint[] {
  if (!(keep > 0 && keep < 1)) throw new RangeError("keep must be between 0 and 1");
  const activity = activityOf(sim, id);
  const elapsed = Number(activity.detail.elapsed_time);
  const cutSeconds = Math.floor(elapsed * keep);
  const start = activity.startEpoch;
  const efforts = activity.detail.segment_efforts as Json[];
  const kept: Json[] = [];
  const removed: bigint[] = [];
  for (const effort of efforts) {
    const at = Date.parse(String(effort.start_date)) / 1000 - start + Number(effort.elapsed_time);
    if (at <= cutSeconds) kept.push(effort);
    else removed.push(effort.id as bigint);
  }
  if (removed.length === 0 && efforts.length > 0) removed.push((kept.pop() as Json).id as bigint);
  const distance = Math.round(activity.distance * keep * 10) / 10;
  const changes = {
    distance,
    elapsed_time: cutSeconds,
    moving_time: Math.min(Number(activity.detail.moving_time), cutSeconds),
  };
  for (const record of [activity.summary, activity.detail]) Object.assign(record, changes);
  activity.distance = distance;
  activity.detail.segment_efforts = kept;
  activity.effortIds = kept.map((e) => e.id as bigint);
  activity.segmentIds = kept.map((e) => (e.segment as Json).id as bigint);
  recomputeAthleteStats(sim, new Set(efforts.map((e) => (e.segment as Json).id as bigint)));
  return removed;
}

/** The athlete deletes an activity (404 from now on, no longer listed). */
export function deleteActivity(sim: StravaSimulator, id: bigint): SimActivity {
  return sim.deleteActivity(id);
}

/** The athlete uploads `count` newer activities. */
export function addActivities(sim: StravaSimulator, count: number): SimActivity[] {
  return sim.addActivities(count);
}

/** What changes on a segment over time. */
export interface SegmentChange {
  name?: string;
  effort_count?: number;
  athlete_count?: number;
  star_count?: number;
}

/**
 * Changes a segment's details (GET /segments/{id}); a new name also shows in the summary
 * segment inside every effort on it, as on Strava. Returns the detail record.
 */
export function changeSegment(sim: StravaSimulator, id: bigint, change: SegmentChange): Json {
  const detail = sim.truth.segments.get(id);
  if (!detail) throw new RangeError(`no segment ${id} with details`);
  Object.assign(detail, change);
  if (change.name !== undefined) {
    for (const activity of sim.truth.activities) {
      for (const effort of activity.detail.segment_efforts as Json[]) {
        const segment = effort.segment as Json;
        if (segment.id === id) segment.name = change.name;
      }
    }
  }
  return detail;
}

/** The athlete's own figures in each touched segment's detail, from the activities that still count. */
function recomputeAthleteStats(sim: StravaSimulator, segmentIds: ReadonlySet<bigint>): void {
  const stats = new Map<bigint, { count: number; pr: number | null; date: string | null; activity: bigint | null }>();
  for (const id of segmentIds) stats.set(id, { count: 0, pr: null, date: null, activity: null });
  for (const activity of sim.truth.activities) {
    if (activity.deleted) continue;
    for (const effort of activity.detail.segment_efforts as Json[]) {
      const s = stats.get((effort.segment as Json).id as bigint);
      if (!s) continue;
      s.count++;
      const t = Number(effort.elapsed_time);
      if (s.pr === null || t < s.pr) {
        s.pr = t;
        s.date = String(effort.start_date_local).slice(0, 10);
        s.activity = activity.id;
      }
    }
  }
  for (const [id, s] of stats) {
    const detail = sim.truth.segments.get(id);
    if (!detail) continue;
    detail.athlete_segment_stats = s.count === 0 ? { pr_elapsed_time: null, pr_date: null, effort_count: 0 } : {
      pr_elapsed_time: s.pr,
      pr_date: s.date,
      pr_visibility: "everyone",
      pr_activity_id: s.activity,
      pr_activity_visibility: "everyone",
      effort_count: s.count,
    };
  }
}

/** A deleted activity is back (made public again, or restored): listed and readable again. */
export function restoreActivity(sim: StravaSimulator, id: bigint): SimActivity {
  const activity = activityOf(sim, id);
  activity.deleted = false;
  recomputeAthleteStats(sim, new Set(activity.segmentIds));
  return activity;
}

/** A segment is removed (or hidden) on Strava: GET /segments/{id} answers 404 from now on. */
export function removeSegment(sim: StravaSimulator, id: bigint): void {
  if (!sim.truth.segments.delete(id)) throw new RangeError(`no segment ${id} with details`);
  sim.truth.privateSegments.delete(id);
  sim.truth.notFoundSegments.add(id);
}

/**
 * `count` activities from index `from` of the truth (oldest first) now start in the same second
 * as the first of them, as a watch and a phone uploading one ride can: a listing page boundary
 * may fall between activities of one start second. Efforts keep their times; the truth stays
 * ordered by start. Returns the activities.
 */
export function startTogether(sim: StravaSimulator, from: number, count: number): SimActivity[] {
  const together = sim.truth.activities.slice(from, from + count);
  if (together.length !== count || count < 2) throw new RangeError("startTogether needs count >= 2 activities");
  const second = together[0].startEpoch;
  for (const activity of together) {
    const shift = second - activity.startEpoch;
    const local = Date.parse(String(activity.summary.start_date_local)) / 1000 + shift;
    activity.startEpoch = second;
    activity.startDate = isoSeconds(second);
    for (const record of [activity.summary, activity.detail]) {
      Object.assign(record, { start_date: activity.startDate, start_date_local: isoSeconds(local) });
    }
  }
  return together;
}
