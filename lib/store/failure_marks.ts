/**
 * Failed attempts awaiting evidence. A transient failure (5xx, network, timeout) may be the
 * record's fault or Strava's outage; it is marked on the record at once (`*_unconfirmed`, so a
 * stop or crash cannot lose it) and charged as an attempt only once Strava is seen answering
 * (lib/backfill/failure_policy.ts decides when). An outage clears the marks: it burns no attempts.
 */
import { type Database, prepareExact, transaction } from "./db.ts";
import { MAX_ATTEMPTS, type Settled } from "./backfill_store.ts";

/** Which table a record lives in. */
export type RecordKind = "activity" | "segment";

/** A record whose marks were charged, with the status it now has (null: still pending). */
interface Charged {
  kind: RecordKind;
  id: bigint;
  status: Settled | null;
  error: string | null;
}

const TABLE = {
  activity: { table: "activities", prefix: "efforts", pending: "segment_efforts_processed = 0" },
  segment: { table: "segments", prefix: "details", pending: "details_status IS NULL" },
} as const;

/**
 * Marks one transient failure of a record; not yet an attempt, and its reason is written only
 * when it is charged (an outage leaves no trace on the record).
 */
export function markUnconfirmed(db: Database, kind: RecordKind, id: bigint): void {
  // Only a pending record can be charged; a refresh of a stored one that fails leaves it as it was.
  const { table, prefix, pending } = TABLE[kind];
  const sql = `UPDATE ${table} SET ${prefix}_unconfirmed = ${prefix}_unconfirmed + 1 WHERE id = ? AND ${pending}`;
  db.prepare(sql).run(id);
}

/** The reason a charged mark gets when the run that made it is over (its message is gone). */
const EARLIER_FAILURE = "failed in an earlier run (server error, network or timeout); charged once Strava answered";

/**
 * Charges every marked pending record one attempt per mark (settling it as `failed` once its
 * attempts reach MAX_ATTEMPTS) and clears the marks; returns the records charged. `reasons`
 * (keyed `kind:id`) are this run's messages; other marks get EARLIER_FAILURE.
 */
export function chargeUnconfirmed(db: Database, now: string, reasons: ReadonlyMap<string, string>): Charged[] {
  return transaction(db, () => {
    const charged: Charged[] = [];
    for (const kind of ["activity", "segment"] as const) {
      const { table, prefix, pending } = TABLE[kind];
      const outOfAttempts = `${prefix}_attempts + ${prefix}_unconfirmed >= ${MAX_ATTEMPTS}`;
      const processed = kind === "activity"
        ? `, segment_efforts_processed = CASE WHEN ${outOfAttempts} THEN 1 ELSE 0 END, updated_at = ?`
        : "";
      const rows = prepareExact(
        db,
        `UPDATE ${table} SET ${prefix}_attempts = ${prefix}_attempts + ${prefix}_unconfirmed, ${prefix}_unconfirmed = 0,
           ${prefix}_error = '${EARLIER_FAILURE}',
           ${prefix}_status = CASE WHEN ${outOfAttempts} THEN 'failed' END${processed}
         WHERE ${prefix}_unconfirmed > 0 AND ${pending}
         RETURNING id, ${prefix}_status status, ${prefix}_error error`,
      ).all(...(kind === "activity" ? [now] : [])) as { id: bigint; status: Settled | null; error: string | null }[];
      const setError = db.prepare(`UPDATE ${table} SET ${prefix}_error = ? WHERE id = ?`);
      for (const r of rows) {
        const reason = reasons.get(`${kind}:${r.id}`);
        if (reason !== undefined) setError.run(reason, r.id);
        charged.push({ kind, id: r.id, status: r.status, error: reason ?? r.error });
      }
    }
    return charged;
  });
}

/** Forgets every mark (an outage explains them); returns how many records carried one. */
export function clearUnconfirmed(db: Database): number {
  return transaction(db, () => {
    let n = 0;
    for (const { table, prefix } of Object.values(TABLE)) {
      n += Number(
        db.prepare(`UPDATE ${table} SET ${prefix}_unconfirmed = 0 WHERE ${prefix}_unconfirmed > 0`).run().changes,
      );
    }
    return n;
  });
}

/** A record Strava answered before (most recently fetched first), to check whether Strava answers now. */
export function knownGoodRecord(db: Database, kind: RecordKind): bigint | null {
  const { table, prefix } = TABLE[kind];
  const row = prepareExact(
    db,
    `SELECT id FROM ${table} WHERE ${prefix}_status = 'ok' ORDER BY ${prefix}_fetched_at DESC, id DESC LIMIT 1`,
  ).get() as { id: bigint } | undefined;
  return row?.id ?? null;
}
