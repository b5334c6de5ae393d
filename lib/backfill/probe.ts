/**
 * The check request of the failure policy: after transient failures that no later request
 * confirmed, re-read one record Strava answered before (of the same kind when there is one, so
 * an outage of one endpoint is seen as such). Any answer, even a 404, shows Strava is up.
 */
import { knownGoodRecord, type RecordKind } from "../store/failure_marks.ts";
import { MalformedResponseError, StravaError, TransientError } from "../strava/client.ts";
import type { RequestGate } from "./request_gate.ts";
import type { EngineContext } from "./run_types.ts";

/** Whether Strava answers now; false when it does not, or when no record was ever answered. */
export async function probeStrava(ctx: EngineContext, gate: RequestGate, kind: RecordKind): Promise<boolean> {
  const other: RecordKind = kind === "activity" ? "segment" : "activity";
  let target: { kind: RecordKind; id: bigint } | null = null;
  for (const k of [kind, other]) {
    const id = knownGoodRecord(ctx.db, k);
    if (id !== null) {
      target = { kind: k, id };
      break;
    }
  }
  if (target === null) return false;
  const { client } = ctx;
  const { kind: k, id } = target;
  try {
    await gate.call(
      `check request (${k} ${id})`,
      () => k === "activity" ? client.getActivity(id) : client.getSegment(id),
    );
    return true;
  } catch (err) {
    if (err instanceof TransientError || err instanceof MalformedResponseError) return false;
    if (err instanceof StravaError) return true; // an answer, whatever it says
    throw err; // a stop (budget, signal), AuthError: as for any request
  }
}
