/**
 * What the client does when Strava's API answers with a redirect (the old base may answer a
 * permanent redirect to the new host once Strava retires it).
 *
 * The decision: follow it, with the Authorization header, but only to one of Strava's API hosts
 * over https (STRAVA_API_HOSTS), or within the origin STRAVA_API_URL names (the simulator).
 * fetch itself would drop the header on a cross-origin redirect, and the run would end in a
 * misleading "run setup_auth", so the client follows by hand (redirect: "manual"). A permanent
 * redirect (301, 308) that maps the old base onto a new one moves the client to the new base for
 * the rest of the process, so the detour costs one request, not one per record, and the user is
 * told once which STRAVA_API_URL to set. A redirect anywhere else is not followed: the token is
 * never sent to a host that is not Strava's, and the run stops with one line (exit 2).
 */
import { STRAVA_API_HOSTS } from "../config.ts";
import { UsageError } from "../errors.ts";

/** Redirects followed for one request before the run stops (a loop, or a chain of moves). */
export const MAX_REDIRECTS = 3;

/** Statuses that redirect a GET. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A redirect to follow: the next URL, and the new base when a permanent one moves the whole API. */
interface Redirect {
  url: string;
  /** Set for 301/308 when the target is `base`'s path moved onto another base. */
  newBase?: string;
}

/**
 * The redirect to follow for an answer `status` with header `location` to a request for `url`
 * on `base`; undefined when the answer is no redirect. Throws UsageError for a target that is
 * not one of Strava's API hosts.
 */
export function followRedirect(
  label: string,
  base: string,
  url: string,
  status: number,
  location: string | null,
): Redirect | undefined {
  if (!REDIRECTS.has(status) || !location) return undefined;
  let target: URL;
  try {
    target = new URL(location, url);
  } catch {
    return undefined;
  }
  const sameOrigin = target.origin === new URL(base).origin;
  const strava = target.protocol === "https:" && target.port === "" && STRAVA_API_HOSTS.includes(target.hostname);
  if (!sameOrigin && !strava) {
    throw new UsageError(
      `${label}: ${base} answered ${status}, a redirect to ${target.origin}, which is not one of Strava's API hosts ` +
        `(${STRAVA_API_HOSTS.join(", ")}); not followed, so the token was not sent there: check STRAVA_API_URL`,
    );
  }
  const redirect: Redirect = { url: target.href };
  const rest = url.slice(base.length);
  if ((status === 301 || status === 308) && url.startsWith(base) && target.href.endsWith(rest)) {
    const moved = target.href.slice(0, target.href.length - rest.length).replace(/\/+$/, "");
    if (moved !== base) redirect.newBase = moved;
  }
  return redirect;
}

/** The line that tells the user once that the API moved and what to set. */
export function movedLine(oldBase: string, newBase: string, status: number): string {
  return `Strava's API has moved: ${oldBase} answers ${status} (permanent redirect) to ${newBase}; this run ` +
    `follows it. Set STRAVA_API_URL=${newBase} to skip the detour`;
}
