/** Test fixture: rows and reservations of the persisted rate state, for the stores' tests. */
import type { RateReservation, RateStateRow } from "../lib/store/rate_state.ts";

/** A family's row at Strava's default limits, `usage` reads in the window and ten times that in the day. */
export function stateRow(name: string, usage: number): RateStateRow {
  return {
    name,
    limit_15min: 100,
    limit_daily: 1000,
    usage_15min: usage,
    usage_daily: usage * 10,
    observed_at: 1_000,
    blocked_until: null,
  };
}

/** A reservation of one read in both families, in window 0 of day 0. */
export function reservation(id: string, expiresAt: number): RateReservation {
  return { id, families: ["read", "overall"], window: 0, day: 0, expiresAt };
}
