/**
 * What a failed fetch does to its record. A 404/403 settles the record at once (Strava answered,
 * so it is up). A transient failure (5xx, network, garbled body) is charged to the record only
 * once a later request succeeds: if Strava or the network is down, no record should burn its
 * attempts. Too many transient failures in a row end the run (exit 1) instead of spending budget.
 */
import { RuntimeError } from "../errors.ts";
import type { Database } from "../store/db.ts";
import { settleActivity, type Settled, settleSegment } from "../store/backfill_store.ts";
import { ForbiddenError, NotFoundError, ResponseTooLargeError, StravaError } from "../strava/client.ts";
import { logger } from "../log.ts";
import type { PhaseSummary } from "./run_types.ts";

const log = logger("backfill");

/** Transient failures in a row after which the run gives up (exit 1) instead of spending budget. */
export const MAX_CONSECUTIVE_FAILURES = 3;

/**
 * The run could not reach Strava: transient failures in a row, or every record it tried failed
 * without one answer. Exit 1 with "nothing was lost, run again later"; continuous mode logs it
 * and tries again after a back-off instead of ending.
 */
export class StravaUnreachableError extends RuntimeError {
  override name = "StravaUnreachableError";
}

/** Which table a record lives in. */
export type RecordKind = "activity" | "segment";

const FORBIDDEN_HINT: Record<RecordKind, string> = {
  activity: "re-run setup_auth.ts with --scope read,activity:read_all so private activities can be read",
  segment:
    "private segments need the scope read_all: re-run setup_auth.ts with --scope read,read_all,activity:read_all",
};

interface Unconfirmed {
  kind: RecordKind;
  id: bigint;
  message: string;
  phase: PhaseSummary;
}

/** The failure policy of one run; see the module comment. */
export class FailurePolicy {
  private unconfirmed: Unconfirmed[] = [];
  private consecutiveFailures = 0;
  private readonly forbiddenLogged = new Set<RecordKind>();

  /**
   * `reached`: whether Strava already answered in this command before this run (then an
   * all-failed run is a record's failure, not an outage).
   */
  constructor(private readonly db: Database, private readonly stamp: () => string, private reached = false) {}

  /** A request succeeded: Strava is up, so the failures before it are charged to their records. */
  succeeded(): void {
    this.consecutiveFailures = 0;
    this.reached = true;
    for (const u of this.unconfirmed) this.charge(u.kind, u.id, null, u.message, u.phase);
    this.unconfirmed = [];
  }

  /**
   * Files a failed fetch of a record. Rethrows what is not Strava's failure (database errors,
   * AuthError, bugs): those end the run.
   */
  failed(kind: RecordKind, id: bigint, err: unknown, phase: PhaseSummary): void {
    if (!(err instanceof StravaError)) throw err;
    const message = err.message.slice(0, 500);
    if (err instanceof ResponseTooLargeError) {
      // Strava answered; asking again would get the same body: fail the record now, with the reason.
      this.succeeded();
      this.charge(kind, id, "failed", message, phase);
      return;
    }
    if (err instanceof NotFoundError || err instanceof ForbiddenError) {
      this.succeeded();
      this.charge(kind, id, err instanceof NotFoundError ? "not_found" : "forbidden", message, phase);
      return;
    }
    this.unconfirmed.push({ kind, id, message, phase });
    if (++this.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
      throw new StravaUnreachableError(
        `Strava failed ${this.consecutiveFailures} times in a row (last: ${message}); nothing was lost, run again later`,
      );
    }
  }

  /**
   * At the end of a run that was not stopped: if it tried records and not one request got an
   * answer, Strava was unreachable, whatever the batch size; that is exit 1, never a quiet 0.
   */
  ended(): void {
    if (this.reached || this.unconfirmed.length === 0) return;
    const n = this.unconfirmed.length;
    const last = this.unconfirmed[n - 1].message;
    throw new StravaUnreachableError(
      `Strava could not be reached for any of the ${n} record${n === 1 ? "" : "s"} tried (last: ${last}); ` +
        `nothing was lost, run again later`,
    );
  }

  /** Records one failed attempt (settling as `status`, or as failed once attempts run out) and counts it. */
  private charge(kind: RecordKind, id: bigint, status: Settled | null, message: string, phase: PhaseSummary): void {
    const result = kind === "activity"
      ? settleActivity(this.db, id, status, message, this.stamp())
      : settleSegment(this.db, id, status, message);
    if (result === "not_found") phase.not_found++;
    else if (result === "forbidden") phase.forbidden++;
    else if (result === "failed") phase.failed++;
    else phase.retry_later++;
    log.warn("{kind} {id}: {result} ({message})", { kind, id, result: result ?? "will retry", message });
    if (result === "forbidden" && !this.forbiddenLogged.has(kind)) {
      this.forbiddenLogged.add(kind);
      log.warn("some {kind} records are forbidden with the current token: {hint}", {
        kind,
        hint: FORBIDDEN_HINT[kind],
      });
    }
  }
}
