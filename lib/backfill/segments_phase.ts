/** Phase 2: the details of each segment the stored efforts reference, most-ridden first. */
import { countPendingSegments, pendingSegments, saveSegmentDetails } from "../store/backfill_store.ts";
import { logger } from "../log.ts";
import type { RunScope } from "./run_scope.ts";
import { StopRun } from "./run_types.ts";

const log = logger("backfill");

/** Runs the segments phase for up to `limits.segments` segments. */
export async function segmentsPhase(run: RunScope): Promise<void> {
  const { db, client } = run.ctx;
  const { filter } = run.limits;
  const tried = run.limits.tried?.segments;
  const ids = pendingSegments(db, run.limits.segments, tried, filter);
  for (const [done, id] of ids.entries()) {
    run.gate.report("segments", done, ids.length, countPendingSegments(db, filter));
    try {
      const segment = await run.gate.call(`segment ${id}`, () => client.getSegment(id));
      saveSegmentDetails(db, id, segment, run.stamp());
      run.summary.segments.fetched++;
      log.info("segment {id}: stored details; {usage}", { id, usage: run.gate.usage() });
      run.policy.succeeded();
    } catch (err) {
      if (err instanceof StopRun) throw err;
      tried?.add(id);
      await run.policy.failed("segment", id, err);
    }
  }
}
