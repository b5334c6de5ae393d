/**
 * Deterministic athlete data for the Strava simulator: a DetailedAthlete, a pool of segments
 * shared between activities (popular ones ridden often), and activities of every kind the
 * backfill must cope with (GPS rides and runs, virtual rides, trainer rides and manual entries
 * without GPS or segments, private and deleted activities), each with a SummaryActivity and a
 * DetailedActivity whose segment efforts have ids above 2^53.
 *
 * Shapes copy the recorded responses in tests/fixtures/strava (dblock/strava-ruby-client
 * cassettes, MIT): same keys, same order, same nesting. The parts live beside this file:
 * sim_truth.ts (what a backfill must store), sim_athlete.ts, sim_segments.ts, sim_activity.ts,
 * sim_efforts.ts, sim_geo.ts and sim_names.ts.
 */
import { Rng } from "./sim_random.ts";
import { type GearEntry, makeAthlete, makeGear } from "./sim_athlete.ts";
import { makeSegmentPool, recomputeSegmentStats, type SegmentPool } from "./sim_segments.ts";
import { type ActivityContext, type ActivityFlags, makeActivity } from "./sim_activity.ts";
import { makeEfforts } from "./sim_efforts.ts";
import {
  type ActivityKind,
  EFFORT_ID_BASE,
  GENERATION_END,
  type Json,
  type SimActivity,
  type SimTruth,
} from "./sim_truth.ts";

/** Builds and extends the simulated athlete's data from a seed. */
export class SimGenerator {
  readonly truth: SimTruth;
  readonly #rng: Rng;
  readonly #pool: SegmentPool;
  readonly #gear: GearEntry[];
  readonly #context: ActivityContext;
  #nextActivityId = 2_000_000_000n;
  #nextEffortId = EFFORT_ID_BASE;
  #lastStart = 0;

  /** Generates an athlete with `segments` pool segments and `activities` activities. */
  constructor(options: { seed: number; activities: number; segments: number }) {
    if (!Number.isInteger(options.activities) || options.activities < 0) {
      throw new RangeError("activities must be a non-negative integer");
    }
    if (!Number.isInteger(options.segments) || options.segments < 1) {
      throw new RangeError("segments must be a positive integer");
    }
    const r = this.#rng = new Rng(options.seed);
    const athleteId = BigInt(r.int(10_000_000, 99_000_000));
    const athleteRef: Json = { id: athleteId, resource_state: 1 };
    this.#gear = makeGear(r);
    const { detailed, summary } = makeAthlete(r, athleteId, this.#gear);
    this.truth = {
      athleteId,
      athlete: detailed,
      athleteSummary: summary,
      activities: [],
      segments: new Map(),
      notFoundSegments: new Set(),
      privateSegments: new Set(),
    };
    this.#pool = makeSegmentPool(r, options.segments, this.truth);
    const effortIds = { next: (rng: Rng) => this.#nextEffortId += BigInt(rng.int(1_000_000, 2_000_000_000)) };
    this.#context = {
      rng: r,
      athleteId,
      athleteRef,
      gear: this.#gear,
      efforts: (facts) => makeEfforts(r, this.#pool, effortIds, athleteRef, facts),
    };
    // Spread activities so that about one falls on each day, ending before GENERATION_END.
    this.#lastStart = Math.floor(GENERATION_END / 1000) - Math.round(options.activities * 1.1 * 86400);
    this.#addActivities(options.activities, true);
  }

  /** Appends `count` newer activities (as if the athlete kept training); returns them. */
  addActivities(count: number): SimActivity[] {
    return this.#addActivities(count, false);
  }

  /** Marks an activity deleted (404 from now on, gone from listings). */
  deleteActivity(id: bigint): SimActivity {
    const activity = this.truth.activities.find((a) => a.id === id);
    if (!activity) throw new RangeError(`no activity ${id}`);
    if (!activity.deleted) {
      activity.deleted = true;
      recomputeSegmentStats(this.#pool, this.truth, new Set(activity.segmentIds));
    }
    return activity;
  }

  #addActivities(count: number, initial: boolean): SimActivity[] {
    const r = this.#rng;
    // Kinds first, then force at least one of each special case when there is room for it.
    const kinds: ActivityKind[] = [];
    const flags: ActivityFlags[] = [];
    for (let i = 0; i < count; i++) {
      const x = r.next();
      kinds.push(
        x < 0.44
          ? "ride"
          : x < 0.74
          ? "run"
          : x < 0.84
          ? "virtual"
          : x < 0.9
          ? "trainer"
          : x < 0.95
          ? "manual"
          : "walk",
      );
      const y = r.next();
      flags.push({ private: y < 0.07, deleted: initial && y >= 0.07 && y < 0.1 });
    }
    if (initial && count >= 10) {
      const forced = r.sample(count, 6);
      kinds[forced[0]] = "manual";
      kinds[forced[1]] = "trainer";
      kinds[forced[2]] = "virtual";
      kinds[forced[3]] = "run";
      flags[forced[4]] = { private: true, deleted: false };
      if (kinds[forced[4]] === "manual" || kinds[forced[4]] === "trainer") kinds[forced[4]] = "ride";
      flags[forced[5]] = { private: false, deleted: true };
      if (kinds[forced[5]] === "manual" || kinds[forced[5]] === "trainer") kinds[forced[5]] = "ride";
    }
    const added: SimActivity[] = [];
    const touched = new Set<bigint>();
    for (let i = 0; i < count; i++) {
      this.#lastStart += r.int(4 * 3600, 36 * 3600);
      this.#nextActivityId += BigInt(r.int(500_000, 8_000_000));
      const activity = makeActivity(this.#context, this.#nextActivityId, this.#lastStart, kinds[i], flags[i]);
      this.truth.activities.push(activity);
      added.push(activity);
      if (!activity.deleted) { for (const s of activity.segmentIds) touched.add(s); }
    }
    recomputeSegmentStats(this.#pool, this.truth, touched);
    return added;
  }
}
