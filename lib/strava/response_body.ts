/**
 * Reading Strava's response bodies: the whole body under a size cap (so memory stays bounded by
 * the cap), an error body parsed leniently for its message and the permission it names, and a
 * failed request described in one line.
 */
import { parseJson } from "../json.ts";

/** Whether `value` is a JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Strava's error body, parsed leniently (an error page may be HTML): its message, and the
 * permission it says is missing (`{"field": "activity:read_permission", "code": "missing"}`).
 */
export function errorBody(text: string | null): { message?: string; missing?: string } {
  let body: unknown;
  try {
    body = text ? parseJson(text) : undefined;
  } catch {
    // Not JSON: the status alone classifies the error; the body has nothing to add.
  }
  if (!isRecord(body)) return {};
  const errors = Array.isArray(body.errors) ? body.errors.filter(isRecord) : [];
  const hit = errors.find((e) =>
    typeof e.field === "string" && e.field.endsWith("_permission") && e.code === "missing"
  );
  return { message: typeof body.message === "string" ? body.message : undefined, missing: hit?.field as string };
}

/** A response's body as read: its text, or why there is none. */
export interface ReadBody {
  text: string | null;
  /** Set (bytes seen or declared) when the body was over the cap and not read. */
  tooLarge?: number;
  /** Reading failed (the connection broke, or `timeout` aborted: a TimeoutError). */
  bodyError?: unknown;
}

/**
 * The body as text, read chunk by chunk so that one over `maxBytes` (declared or as it arrives) is
 * cancelled instead of held: the caller's memory stays bounded by the cap.
 */
export async function readCapped(response: Response, maxBytes: number, timeout: AbortSignal): Promise<ReadBody> {
  try {
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (declared > maxBytes) {
      await response.body?.cancel().catch(() => {});
      return { text: null, tooLarge: declared };
    }
    if (!response.body) return { text: "" };
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return { text: null, tooLarge: total };
      }
      chunks.push(value);
    }
    let bytes = chunks[0] ?? new Uint8Array();
    if (chunks.length > 1) {
      bytes = new Uint8Array(total);
      let at = 0;
      for (const chunk of chunks.splice(0)) {
        bytes.set(chunk, at);
        at += chunk.byteLength;
      }
    }
    return { text: new TextDecoder().decode(bytes) };
  } catch (error) {
    return { text: null, bodyError: timeout.aborted ? new DOMException("request timed out", "TimeoutError") : error };
  }
}

/** One line for a request that got no answer: a timeout, or the network error and its cause. */
export function describeFailure(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut || (error instanceof DOMException && error.name === "TimeoutError")) {
    return `no response within ${timeoutMs / 1000} s`;
  }
  return `network error: ${networkCause(error)}`;
}

/**
 * What failed, from fetch's error and its cause ("fetch failed: … tcp connect error: Connection
 * refused"), without the URL Deno repeats in the cause: the request is already named.
 */
function networkCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
  const detail = cause.replace(/^error sending request for url \([^)]*\):\s*/, "").split("\n")[0].slice(0, 200);
  return detail && !message.includes(detail) ? `${message}: ${detail}` : message;
}
