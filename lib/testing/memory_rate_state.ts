/**
 * Test double of the folder's budget store (lib/store/rate_state.ts): the state held in memory,
 * with reservations, shared by limiters of one process as the folder's store is shared by
 * processes (tests and benchmarks model several processes with it).
 */
import type {
  RateReservation,
  RateStateChange,
  RateStateRow,
  RateStateStore,
  RateStateView,
} from "../store/rate_state.ts";

/** The budget store in memory. */
export class MemoryRateState implements RateStateStore {
  readonly #rows = new Map<string, RateStateRow>();
  #reservations: RateReservation[] = [];

  /** A copy of the rows. */
  load(): RateStateRow[] {
    return [...this.#rows.values()].map((r) => ({ ...r }));
  }

  /** Live reservations (for tests). */
  reservations(): RateReservation[] {
    return this.#reservations.map((r) => ({ ...r }));
  }

  /** Applies what `next` returns: rows by name, one reservation added or removed; expired ones dropped. */
  update(now: number, next: (current: RateStateView) => RateStateChange): void {
    const expired = this.#reservations.filter((r) => r.expiresAt <= now);
    this.#reservations = this.#reservations.filter((r) => r.expiresAt > now);
    const change = next({ rows: this.load(), reservations: this.reservations(), expired });
    for (const row of change.rows ?? []) this.#rows.set(row.name, { ...row });
    if (change.release) this.#reservations = this.#reservations.filter((r) => r.id !== change.release);
    if (change.reserve) this.#reservations.push({ ...change.reserve });
  }
}
