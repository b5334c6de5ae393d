/** Test fixture: a rate budget as the limiter reports it, for the ETA and progress tests that need no limiter. */
import type { BudgetStatus, FamilyBudget } from "../lib/strava/rate_window.ts";

/** 12:05 UTC, inside the 12:00 window. */
export const T0 = Date.UTC(2026, 4, 1, 12, 5, 0);

function family(remaining15: number, remainingDay: number, allowed15 = 90, allowedDay = 900): FamilyBudget {
  return {
    limit15: 100,
    limitDay: 1000,
    usage15: 0,
    usageDay: 0,
    inFlight: 0,
    allowed15,
    allowedDay,
    remaining15,
    remainingDay,
  };
}

/** Strava's default limits (90/900 reads usable) with `remaining15`/`remainingDay` reads left at T0. */
export function budgetStatus(
  remaining15: number,
  remainingDay: number,
  blockedUntil: number | null = null,
): BudgetStatus {
  return {
    read: family(remaining15, remainingDay),
    overall: family(180, 1800, 180, 1800),
    blockedUntil,
    windowResetsAt: Date.UTC(2026, 4, 1, 12, 15),
    dayResetsAt: Date.UTC(2026, 4, 2),
  };
}
