import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { abortableSleep, MAX_TIMER_MS, type Timers } from "../lib/backfill/session.ts";

/** Timers that fire at once and record the delays asked for. */
function recordingTimers(): Timers & { delays: number[]; cleared: number } {
  const t = {
    delays: [] as number[],
    cleared: 0,
    setTimeout(fn: () => void, ms: number) {
      t.delays.push(ms);
      queueMicrotask(fn);
      return t.delays.length;
    },
    clearTimeout() {
      t.cleared++;
    },
  };
  return t;
}

Deno.test("abortableSleep: a sleep beyond the timer's maximum is taken in chunks, not skipped", async () => {
  const timers = recordingTimers();
  const ms = 3_000_000 * 1000; // --interval 3000000 (about 35 days): one timer would fire at once
  await abortableSleep(ms, undefined, timers);
  deepStrictEqual(timers.delays, [MAX_TIMER_MS, ms - MAX_TIMER_MS]);
  strictEqual(timers.delays.reduce((a, b) => a + b), ms);
});

Deno.test("abortableSleep: a short sleep is one timer; an aborted signal ends it early", async () => {
  const timers = recordingTimers();
  await abortableSleep(300_000, undefined, timers);
  deepStrictEqual(timers.delays, [300_000]);
  const controller = new AbortController();
  const started = Date.now();
  const sleeping = abortableSleep(60_000, controller.signal);
  controller.abort();
  await sleeping;
  strictEqual(Date.now() - started < 30_000, true);
  await abortableSleep(60_000, AbortSignal.abort()); // already aborted: returns at once
});
