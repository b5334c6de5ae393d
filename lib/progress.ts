/**
 * The live progress line on a terminal: phase, done/total over the whole job, rate, requests left
 * in the window and the day, ETA, and a countdown while waiting for the budget. Off a terminal
 * (`waitNotice`) only a wait for the budget is said, once per wait, with when the run resumes;
 * the log file gets plain lines from the engine as well.
 */
import { formatDuration, formatLocalAndUtc } from "./time_format.ts";

/** What the engine reports before each record. */
export interface ProgressState {
  phase: string;
  /** Requests done in this command so far. */
  done: number;
  /** `done` plus every request still pending (the whole job, not the current batch). */
  total: number;
  /** Reads left in the current window and day (after the buffer). */
  left15: number;
  leftDay: number;
  /** When everything pending would be done at the current limits (ms), if known. */
  finishAt?: number;
}

/** Receives progress from the engine. */
export interface Progress {
  update(state: ProgressState): void;
  /** Waiting for the rate budget until `until` (ms); called repeatedly as the countdown runs. */
  waiting(until: number, reason: string): void;
  /** Clears the live line (before a summary is printed). */
  clear(): void;
  /** Wants `waiting` every second (a live countdown); otherwise once per wait is enough. */
  countdown?: boolean;
}

/** A progress sink that shows nothing. */
export const silentProgress: Progress = { update() {}, waiting() {}, clear() {} };

/**
 * A single self-overwriting line, for stderr on a TTY, cut to `columns` (the terminal's width).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * const written: string[] = [];
 * const progress = terminalProgress({ write: (text) => written.push(text), now: () => 0 });
 * progress.update({ phase: "efforts", done: 3, total: 10, left15: 97, leftDay: 997 });
 * strictEqual(written.at(-1), "\r\x1b[Kefforts 3/10 | left: 97 this window, 997 today");
 * progress.clear();
 * strictEqual(written.at(-1), "\r\x1b[K");
 * ```
 */
export function terminalProgress(
  { write, now, columns = 100 }: { write: (text: string) => void; now: () => number; columns?: number },
): Progress {
  let shown = false;
  let started: { at: number; done: number } | null = null;
  // Time spent waiting for the budget is not time spent on requests: the rate leaves it out.
  let waited = 0;
  let waitingSince: number | null = null;
  const show = (line: string) => {
    write(`\r\x1b[K${line.slice(0, Math.max(20, columns - 1))}`);
    shown = true;
  };
  return {
    countdown: true,
    update(state) {
      const t = now();
      if (waitingSince !== null) waited += t - waitingSince;
      waitingSince = null;
      started ??= { at: t, done: state.done };
      // The rate from the first record on: over the whole command, phases and batches alike.
      const elapsedMin = (t - started.at - waited) / 60_000;
      const rate = elapsedMin > 0 ? (state.done - started.done) / elapsedMin : 0;
      const eta = state.finishAt === undefined
        ? ""
        : state.finishAt === Infinity
        ? " | ETA unknown"
        : ` | ETA ${formatDuration(state.finishAt - t)}`;
      show(
        `${state.phase} ${state.done}/${state.total}` +
          (rate > 0 ? ` | ${rate.toFixed(1)}/min` : "") +
          ` | left: ${state.left15} this window, ${state.leftDay} today${eta}`,
      );
    },
    waiting(until, reason) {
      const t = now();
      waitingSince ??= t;
      show(`${reason}: waiting ${formatDuration(until - t)} until ${formatLocalAndUtc(until, t)} (Ctrl-C to stop)`);
    },
    clear() {
      if (shown) write("\r\x1b[K");
      shown = false;
    },
  };
}

/**
 * Off a terminal (output redirected, cron): nothing per record, but a wait for the rate budget
 * is said once (through `writeLine`), with when the run resumes, so a log of stderr shows why
 * nothing happens.
 *
 * @example
 * ```ts
 * import { ok, strictEqual } from "node:assert/strict";
 * const lines: string[] = [];
 * const notice = waitNotice({ writeLine: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 1, 10, 0) });
 * notice.waiting(Date.UTC(2026, 0, 1, 10, 15), "15-minute limit");
 * notice.waiting(Date.UTC(2026, 0, 1, 10, 15), "15-minute limit"); // the same wait: said once
 * strictEqual(lines.length, 1);
 * ok(lines[0].startsWith("15-minute limit: waiting 15m 00s; resumes at "), lines[0]);
 * ```
 */
export function waitNotice({ writeLine, now }: { writeLine: (line: string) => void; now: () => number }): Progress {
  let announced: number | null = null;
  return {
    update() {},
    waiting(until, reason) {
      if (announced === until) return;
      announced = until;
      const t = now();
      writeLine(`${reason}: waiting ${formatDuration(until - t)}; resumes at ${formatLocalAndUtc(until, t)}`);
    },
    clear() {},
  };
}

/**
 * The progress line of import_archive.ts: rows read, throughput and share of a file of `size`
 * bytes (null: unknown, no share shown), as one self-overwriting line. `bytes(n)` is the part of
 * the file read so far, `rows(n)` redraws at most every 250 ms, `clear()` wipes the line before
 * the summary. `now` is a monotonic clock in ms (performance.now); off a terminal (`enabled`
 * false) nothing is ever written.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * let now = 0;
 * const written: string[] = [];
 * const progress = importProgress(1000, { write: (text) => written.push(text), now: () => now, enabled: true });
 * progress.bytes(500);
 * now = 1000;
 * progress.rows(2000);
 * strictEqual(written.at(-1), "\r\x1b[K2,000 rows (50%), 2,000 rows/s");
 * ```
 */
export function importProgress(
  size: number | null,
  { write, now, enabled }: { write: (text: string) => void; now: () => number; enabled: boolean },
): { bytes(n: number): void; rows(n: number): void; clear(): void } {
  let last = 0;
  const start = now();
  let shown = false;
  let bytes = 0;
  return {
    bytes(n) {
      bytes = n;
    },
    rows(n) {
      const t = now();
      if (!enabled || t - last < 250) return;
      last = t;
      const rate = n / Math.max((t - start) / 1000, 0.001);
      const share = size ? ` (${Math.min(100, Math.floor((bytes / size) * 100))}%)` : "";
      write(`\r\x1b[K${n.toLocaleString("en-US")} rows${share}, ${Math.round(rate).toLocaleString("en-US")} rows/s`);
      shown = true;
    },
    clear() {
      if (shown) write("\r\x1b[K");
    },
  };
}
