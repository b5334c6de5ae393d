/**
 * Fault injection of the simulator: the queue of faults tests ask for, and the abortable delay
 * behind "slow" answers.
 */

import { parseJson, stringifyJson } from "../json.ts";

/** Kinds of injected faults. */
export type FaultKind =
  | "500"
  | "503"
  | "slow"
  | "drop"
  | "malformed"
  | "429"
  | "huge"
  | "rewrite"
  | "empty"
  | "truncate"
  | "race";

/** A queued fault: the next `times` requests whose path matches get it. */
export interface Fault {
  /** Tested against the path (e.g. /\/segments\//); unset: any request, OAuth included. */
  path?: RegExp;
  /**
   * "500"/"503": that status ("503" with the text body Strava's envoy proxy sends);
   * "slow": the real answer after `delayMs` (abortable by the client; default 60000);
   * "drop": the connection breaks (socket: headers then a body that errors; in-process: fetch
   * rejects with TypeError); "malformed": the real status with the body cut in half;
   * "429": the rest of the 15-minute window is spent (usage jumps past the limit), then 429;
   * "huge": the real answer grown to at least `bytes` (an activity by more segment efforts with
   * fresh ids, anything else by a long `description`), like an all-day ride's body;
   * "rewrite": the real answer with its body text passed through `rewrite` (a record the tool
   * cannot store: an id above 2^63, a null id, a field missing);
   * "empty": the real status with the body `[]` (a list page that came back empty for once);
   * "truncate": the real answer with only the first half of its list (a page cut short);
   * "race": the real answer, then `race()` runs before the next request is served (the world
   * changes between two list pages: an activity deleted or uploaded after page 1 was served).
   */
  kind: FaultKind;
  /** For "rewrite": the body text Strava should have sent instead. */
  rewrite?: (body: string) => string;
  /** For "race": what changes on Strava right after this answer. */
  race?: () => void;
  /** default 1 */
  times?: number;
  /** The first `skip` matching requests pass untouched (default 0): a fault in the middle of a listing. */
  skip?: number;
  delayMs?: number;
  /** "huge": the least body size in bytes (default 10 MiB). */
  bytes?: number;
}

/** Default size of a "huge" answer. */
export const DEFAULT_HUGE_BYTES = 10 * 1024 * 1024;

/**
 * `text` (a JSON object) grown to at least `bytes`: segment efforts are repeated with fresh ids
 * (above every real one) when the record has any, else a long description is added.
 */
export function growBody(text: string, bytes: number): string {
  const record = parseJson(text);
  if (record === null || typeof record !== "object" || Array.isArray(record)) return text;
  const body = record as Record<string, unknown>;
  const efforts = Array.isArray(body.segment_efforts) ? body.segment_efforts as unknown[] : undefined;
  const template = efforts?.[0];
  if (!efforts || template === null || typeof template !== "object") {
    body.description = "x".repeat(Math.max(0, bytes - text.length));
    return stringifyJson(body);
  }
  const perEffort = stringifyJson(template).length + 1;
  const copies = Math.max(0, Math.ceil((bytes - text.length) / perEffort));
  const base = 9_000_000_000_000_000n; // above every id the simulator issues, below 2^63
  const grown = Array.from({ length: copies }, (_, i) => ({ ...template, id: base + BigInt(i) }));
  body.segment_efforts = [...efforts, ...grown];
  return stringifyJson(body);
}

/** `text` (a JSON array) cut to its first half (rounded down); any other body as it is. */
export function halveList(text: string): string {
  const list = parseJson(text);
  if (!Array.isArray(list)) return text;
  return stringifyJson(list.slice(0, Math.floor(list.length / 2)));
}

/** The error a dropped connection's body stream fails with (the server's onError expects it). */
export class SimulatedDrop extends Error {
  override name = "SimulatedDrop";
}

/** Faults waiting for matching requests, in the order they were added. */
export class FaultQueue {
  readonly #faults: {
    path?: RegExp;
    kind: FaultKind;
    remaining: number;
    delayMs: number;
    bytes: number;
    rewrite?: (body: string) => string;
    race?: () => void;
    skip: number;
  }[] = [];
  #pendingDelays = 0;

  /** Queues a fault for the next `times` (default 1) requests whose path matches. */
  add(fault: Fault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new RangeError("fault times must be a positive integer");
    if (fault.kind === "rewrite" && !fault.rewrite) throw new TypeError("a rewrite fault needs its rewrite function");
    if (fault.kind === "race" && !fault.race) throw new TypeError("a race fault needs its race function");
    const skip = fault.skip ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new RangeError("fault skip must be a non-negative integer");
    this.#faults.push({
      path: fault.path,
      kind: fault.kind,
      remaining: times,
      delayMs: fault.delayMs ?? 60_000,
      bytes: fault.bytes ?? DEFAULT_HUGE_BYTES,
      rewrite: fault.rewrite,
      race: fault.race,
      skip,
    });
  }

  /** Faults queued but not yet delivered. */
  pending(): number {
    return this.#faults.reduce((n, f) => n + f.remaining, 0);
  }

  /** Slow answers still waiting. */
  pendingDelays(): number {
    return this.#pendingDelays;
  }

  /** The fault the request to `path` gets (consuming one of its `times`), or null. */
  take(path: string): {
    kind: FaultKind;
    delayMs: number;
    bytes: number;
    rewrite?: (body: string) => string;
    race?: () => void;
  } | null {
    for (const f of this.#faults) {
      if (f.remaining <= 0) continue;
      if (f.path) {
        f.path.lastIndex = 0;
        if (!f.path.test(path)) continue;
      }
      if (f.skip > 0) {
        f.skip--;
        continue;
      }
      f.remaining--;
      return f;
    }
    return null;
  }

  /** Waits `ms`, or less when any signal aborts; the timer never outlives the wait. */
  delay(ms: number, signals: AbortSignal[]): Promise<"done" | "aborted"> {
    return new Promise((resolve) => {
      if (signals.some((s) => s.aborted)) return resolve("aborted");
      this.#pendingDelays++;
      const cleanup = () => {
        this.#pendingDelays--;
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        cleanup();
        resolve("aborted");
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve("done");
      }, ms);
      for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
    });
  }
}
