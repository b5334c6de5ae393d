/**
 * What a failed fetch does to its record, and when the run gives up.
 *
 * - A 404/403 settles the record at once (Strava answered, so it is up).
 * - A record Strava answered but the tool cannot store (InvalidRecordError: a value beyond
 *   SQLite's integers, a missing id, no segment_efforts array) fails with that reason; the run
 *   goes on. One that will never change is `failed` at once; a missing array counts an attempt.
 * - A transient failure (5xx, network, timeout, garbled body) may be the record's fault or an
 *   outage. It is marked on the record at once (lib/store/failure_marks.ts) and charged as an
 *   attempt only on evidence that Strava was up: a later success in this run or in any later
 *   run. Where no later request would come (the failure ends the queue, or
 *   MAX_CONSECUTIVE_FAILURES in a row), one check request re-reads a record Strava answered
 *   before: an answer charges the failures (a poison record settles as `failed` after
 *   MAX_ATTEMPTS runs and stops costing reads); no answer is an outage: the marks are cleared,
 *   no attempt burnt, and the run ends with StravaUnreachableError (exit 1).
 */
import { RuntimeError } from "../errors.ts";
import type { Database } from "../store/db.ts";
import { settleActivity, type Settled, settleSegment } from "../store/backfill_store.ts";
import { chargeUnconfirmed, clearUnconfirmed, markUnconfirmed, type RecordKind } from "../store/failure_marks.ts";
import { InvalidRecordError } from "../store/records.ts";
import { ForbiddenError, NotFoundError, ResponseTooLargeError, StravaError } from "../strava/client.ts";
import { logger } from "../log.ts";
import type { PhaseSummary, RunSummary } from "./run_types.ts";

const log = logger("backfill");

/** Transient failures in a row after which Strava is checked (and the run ends if it does not answer). */
export const MAX_CONSECUTIVE_FAILURES = 3;

/**
 * The run could not reach Strava: transient failures in a row, or every record it tried failed
 * without one answer. Exit 1 with "nothing was lost, run again later"; continuous mode logs it
 * and tries again after a back-off instead of ending.
 */
export class StravaUnreachableError extends RuntimeError {
  override name = "StravaUnreachableError";
}

/** Asks Strava for a record it answered before; true if it answered now. */
type Probe = (kind: RecordKind) => Promise<boolean>;

const FORBIDDEN_HINT: Record<RecordKind, string> = {
  activity: "re-run setup_auth.ts with --scope read,activity:read_all so private activities can be read",
  segment:
    "private segments need the scope read_all: re-run setup_auth.ts with --scope read,read_all,activity:read_all",
};

/** The failure policy of one run; see the module comment. */
export class FailurePolicy {
  private consecutiveFailures = 0;
  /** Transient failures of this run still awaiting evidence, and the last one's reason. */
  private unconfirmed = 0;
  private readonly reasons = new Map<string, string>();
  private lastFailure = "";
  private lastKind: RecordKind = "activity";
  /** Marks may exist (left by an earlier run, or made in this one) until a charge clears them. */
  private marksMayExist = true;
  private readonly forbiddenLogged = new Set<RecordKind>();

  /**
   * `reached`: whether Strava already answered in this command before this run (one-time mode's
   * earlier batches); it only changes the message when the run ends on an outage.
   */
  constructor(
    private readonly db: Database,
    private readonly summary: RunSummary,
    private readonly stamp: () => string,
    private readonly probe: Probe,
    private reached = false,
  ) {}

  /** Strava answered: the failures marked before (in this run or an earlier one) are charged. */
  succeeded(): void {
    this.consecutiveFailures = 0;
    this.reached = true;
    this.unconfirmed = 0;
    if (!this.marksMayExist) return;
    this.marksMayExist = false;
    const charged = chargeUnconfirmed(this.db, this.stamp(), this.reasons);
    this.reasons.clear();
    for (const c of charged) {
      this.count(c.kind, c.id, c.status, c.error ?? "failed");
    }
  }

  /**
   * Files a failed fetch (or store) of a record. Rethrows what is neither Strava's failure nor
   * the record's (database errors, AuthError, bugs): those end the run. `keep` (a refresh of a
   * record whose stored copy is good): a failure other than a 404/403 is handed to it instead of
   * marked or charged, and counts toward the failures in a row like any other.
   */
  async failed(kind: RecordKind, id: bigint, err: unknown, keep?: (message: string) => void): Promise<void> {
    if (err instanceof InvalidRecordError) {
      this.succeeded(); // Strava answered with a body
      this.charge(kind, id, err.final ? "failed" : null, `cannot store: ${err.message}`);
      return;
    }
    if (!(err instanceof StravaError)) throw err;
    const message = err.message.slice(0, 500);
    if (keep && !(err instanceof NotFoundError || err instanceof ForbiddenError)) {
      keep(message);
      this.lastFailure = message; // not lastKind: the check at the end is about the unconfirmed ones
      if (++this.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) await this.check(kind, "in a row");
      return;
    }
    if (err instanceof ResponseTooLargeError) {
      // Strava answered; asking again would get the same body: fail the record now, with the reason.
      this.succeeded();
      this.charge(kind, id, "failed", message);
      return;
    }
    if (err instanceof NotFoundError || err instanceof ForbiddenError) {
      this.succeeded();
      this.charge(kind, id, err instanceof NotFoundError ? "not_found" : "forbidden", message);
      return;
    }
    markUnconfirmed(this.db, kind, id);
    this.reasons.set(`${kind}:${id}`, message);
    this.marksMayExist = true;
    this.unconfirmed++;
    this.lastFailure = message;
    this.lastKind = kind;
    log.warn("{kind} {id}: failed ({message}); charged once Strava is seen answering", { kind, id, message });
    if (++this.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) await this.check(kind, "in a row");
  }

  /** At the end of a run that was not stopped: failures no later request confirmed are checked now. */
  async ended(): Promise<void> {
    if (this.unconfirmed > 0) await this.check(this.lastKind, "at the end");
  }

  /** One check request decides between a bad record (charge it) and an outage (end the run). */
  private async check(kind: RecordKind, when: "in a row" | "at the end"): Promise<void> {
    const failures = this.unconfirmed;
    if (await this.probe(kind)) {
      log.info("Strava answers a check request: the {n} failure(s) before it are the records' own", { n: failures });
      this.succeeded();
      return;
    }
    clearUnconfirmed(this.db); // an outage explains them: no attempt is burnt
    this.marksMayExist = false;
    this.reasons.clear();
    const last = this.lastFailure;
    if (when === "in a row") {
      throw new StravaUnreachableError(
        `Strava failed ${this.consecutiveFailures} times in a row (last: ${last}); nothing was lost, run again later`,
      );
    }
    if (!this.reached) {
      throw new StravaUnreachableError(
        `Strava could not be reached for any of the ${failures} record${failures === 1 ? "" : "s"} tried ` +
          `(last: ${last}); nothing was lost, run again later`,
      );
    }
    throw new StravaUnreachableError(
      `Strava stopped answering: the last ${failures} record${failures === 1 ? "" : "s"} tried failed and so did ` +
        `a check request (last: ${last}); nothing was lost, run again later`,
    );
  }

  /** Records one failed attempt (settling as `status`, or as failed once attempts run out) and counts it. */
  private charge(kind: RecordKind, id: bigint, status: Settled | null, message: string): void {
    const result = kind === "activity"
      ? settleActivity(this.db, id, status, message, this.stamp())
      : settleSegment(this.db, id, status, message);
    this.count(kind, id, result, message);
  }

  private count(kind: RecordKind, id: bigint, result: Settled | null, message: string): void {
    const phase: PhaseSummary = kind === "activity" ? this.summary.efforts : this.summary.segments;
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
