/**
 * The live progress line on a terminal: phase, done/total, rate, requests left in the window
 * and the day, ETA at the current limits, and a countdown while waiting for the budget.
 * Off a terminal it prints nothing: the log file gets plain lines from the engine instead.
 */
import { formatDuration, formatLocalAndUtc } from "./time_format.ts";

/** What the engine reports after each record. */
export interface ProgressState {
  phase: string;
  done: number;
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
}

/** A progress sink that shows nothing. */
export const silentProgress: Progress = { update() {}, waiting() {}, clear() {} };

/** Options for `terminalProgress`. */
export interface TerminalProgressOptions {
  write: (text: string) => void;
  now: () => number;
  /** Terminal width; the line is cut to fit. */
  columns?: number;
}

/** A single self-overwriting line, for stderr on a TTY. */
export function terminalProgress({ write, now, columns = 100 }: TerminalProgressOptions): Progress {
  let shown = false;
  let started: { at: number; done: number; phase: string } | null = null;
  const show = (line: string) => {
    write(`\r\x1b[K${line.slice(0, Math.max(20, columns - 1))}`);
    shown = true;
  };
  return {
    update(state) {
      const t = now();
      if (!started || started.phase !== state.phase) started = { at: t, done: state.done, phase: state.phase };
      // A rate from the first seconds is noise (thousands per minute); wait for a sample.
      const elapsedMin = (t - started.at) / 60_000;
      const rate = elapsedMin >= 0.25 ? (state.done - started.done) / elapsedMin : 0;
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
      show(`${reason}: waiting ${formatDuration(until - t)} until ${formatLocalAndUtc(until, t)} (Ctrl-C to stop)`);
    },
    clear() {
      if (shown) write("\r\x1b[K");
      shown = false;
    },
  };
}
