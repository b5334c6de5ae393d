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

/** The progress line of import_archive.ts. */
export interface ImportProgress {
  /** Bytes of the file read so far (for the share shown). */
  bytes(n: number): void;
  /** Rows written so far; redraws the line at most every 250 ms. */
  rows(n: number): void;
  /** Clears the line (before the summary is printed). */
  clear(): void;
}

/** Options for `importProgress`. */
export interface ImportProgressOptions {
  write: (text: string) => void;
  /** A monotonic clock in ms (performance.now). */
  now: () => number;
  /** False off a terminal: nothing is ever written. */
  enabled: boolean;
}

/**
 * Rows read, throughput and share of a file of `size` bytes (null: unknown, no share shown),
 * as one self-overwriting line redrawn a few times a second.
 */
export function importProgress(size: number | null, { write, now, enabled }: ImportProgressOptions): ImportProgress {
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
