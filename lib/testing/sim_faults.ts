/**
 * Fault injection of the simulator: the queue of faults tests ask for, and the abortable delay
 * behind "slow" answers.
 */

/** Kinds of injected faults. */
export type FaultKind = "500" | "503" | "slow" | "drop" | "malformed" | "429" | "rewrite";

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
   * "rewrite": the real answer with its body text passed through `rewrite` (a record the tool
   * cannot store: an id above 2^63, a null id, a field missing).
   */
  kind: FaultKind;
  /** For "rewrite": the body text Strava should have sent instead. */
  rewrite?: (body: string) => string;
  /** default 1 */
  times?: number;
  delayMs?: number;
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
    rewrite?: (body: string) => string;
  }[] = [];
  #pendingDelays = 0;

  /** Queues a fault for the next `times` (default 1) requests whose path matches. */
  add(fault: Fault): void {
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new RangeError("fault times must be a positive integer");
    if (fault.kind === "rewrite" && !fault.rewrite) throw new TypeError("a rewrite fault needs its rewrite function");
    this.#faults.push({
      path: fault.path,
      kind: fault.kind,
      remaining: times,
      delayMs: fault.delayMs ?? 60_000,
      rewrite: fault.rewrite,
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
  take(path: string): { kind: FaultKind; delayMs: number; rewrite?: (body: string) => string } | null {
    for (const f of this.#faults) {
      if (f.remaining <= 0) continue;
      if (f.path) {
        f.path.lastIndex = 0;
        if (!f.path.test(path)) continue;
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
