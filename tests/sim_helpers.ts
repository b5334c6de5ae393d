/** Requests to the simulator as a client sends them, and the project's lossless JSON reading. */
import { isInteger, isLosslessNumber, isSafeNumber, parse } from "lossless-json";
import type { Json, StravaSimulator } from "../lib/testing/strava_sim.ts";

/** 2^53: effort ids above it lose digits in a float parse. */
export const TWO_53 = 2n ** 53n;
/** Strava's short window. */
export const WINDOW = 15 * 60 * 1000;

/** Lossless parse with the project's convention (lib/json.ts): id and *_id integers are bigint. */
export function parseExact(text: string): unknown {
  return parse(text, (key, value) => {
    if (!isLosslessNumber(value)) return value;
    if (isInteger(value.value) && (key === "id" || key.endsWith("_id") || !isSafeNumber(value.value))) {
      return BigInt(value.value);
    }
    return Number(value.value);
  });
}

/** GET an API path, with a bearer token when given. */
export async function get(
  sim: StravaSimulator,
  path: string,
  token?: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const res = await fetch(`${sim.apiUrl}${path}`, { ...init, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** POST a form; the JSON answer. */
export async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(form) });
  return { status: res.status, body: JSON.parse(await res.text()) };
}
