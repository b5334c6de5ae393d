/**
 * Reading the athlete's activity list, and when a listing is evidence that an activity is gone.
 *
 * Pages follow a time cursor, never an offset (`page=N` alone): an activity deleted or uploaded
 * while the pages are read would shift every later one by a place, and one would never be seen.
 * - New activities (`listNewer`): `after=` the newest start seen so far, oldest first (what
 *   Strava answers to `after` alone). A page cut short only ends the listing early; the next
 *   listing goes on from the newest stored start, so nothing is lost and nothing is re-asked.
 * - The whole history (`listWithEvidence`, the survey and the refresh): `before=` the oldest
 *   start seen so far, newest first; an upload during the listing is newer than the cursor and
 *   shifts nothing.
 * Each cursor overlaps the last page by one second (both bounds are exclusive, and activities
 * may share a start second); ids are de-duplicated. When a whole page shares one second the
 * cursor cannot move, so the next page is asked by `page=` within that same cursor: every
 * request either moves the cursor or the page on, and a short page ends the listing.
 *
 * Absence is concluded (docs/backfill.md, "A listing is evidence, not truth") only from a
 * listing that is complete (every page a valid answer, its end confirmed) and consistent:
 * - its end is confirmed when no stored activity that absence would remove is older than the
 *   oldest listed start, or when a re-ask from where it ended brings nothing new (at most
 *   MAX_REASKS per listing); a full page of ids listed already (Strava repeating itself) ends it
 *   incomplete, so no answer can keep it going forever;
 * - a listing that would remove more than SUSPECT_SHARE of the stored live activities (and more
 *   than SUSPECT_MIN) is listed again in full; only activities absent from both count as gone;
 * - a listing that lists nothing at all is never evidence.
 * Otherwise nothing is concluded from absence in this run, and the caller says so.
 */
import { logger } from "../log.ts";
import { idOf } from "../store/records.ts";
import type { RunScope } from "./run_scope.ts";

const log = logger("backfill");

/** Activities per list page (Strava's maximum). */
export const PER_PAGE = 200;

/** A listing that would remove more than this share of the stored live activities is listed again. */
const SUSPECT_SHARE = 0.05;

/** ... and more than this many: deleting a few activities at once is ordinary and costs no second listing. */
const SUSPECT_MIN = 3;

/**
 * Re-asks of an early end per listing: one for a glitch, one to confirm a genuine end below
 * stored activities (the oldest ones deleted); a listing that needs more is not evidence.
 */
const MAX_REASKS = 2;

type Json = Record<string, unknown>;

/** What a listing does with each page (as RecordLoop does with each record, lib/backfill/run_scope.ts). */
export interface Lister {
  /** The progress line's phase ("listing", "survey", "refresh: listing"). */
  phase: string;
  /** Stores one page (an answered page: the caller may count it as Strava answering). */
  store: (list: Json[]) => void;
}

/** Start of a listed activity in epoch seconds, or null when it has none Strava could mean. */
function startOf(activity: Json): number | null {
  const ms = typeof activity.start_date === "string" ? Date.parse(activity.start_date) : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** One list request through the lister; adds its ids to `seen` and returns the page and how many ids were new to it. */
async function page(
  run: RunScope,
  l: Lister,
  query: { after?: number; before?: number; page: number },
  seen: Set<bigint>,
): Promise<{ list: Json[]; fresh: number }> {
  const n = run.summary.listed.pages + 1;
  run.report(l.phase, 1);
  const list = await run.send(
    `activity list page ${n}`,
    () => run.ctx.client.listActivities({ ...query, perPage: PER_PAGE }),
  );
  run.summary.listed.pages++;
  let fresh = 0;
  for (const activity of list) {
    const id = idOf(activity.id);
    if (id === null) continue;
    if (!seen.has(id)) fresh++;
    seen.add(id);
    if (!run.listed.has(id)) run.summary.listed.seen++;
    run.listed.add(id);
  }
  l.store(list);
  const where = query.after !== undefined
    ? `after ${query.after}`
    : query.before !== undefined
    ? `before ${query.before}`
    : "newest";
  log.info("activity list page {n} ({where}, page {page}): {count} activities, {fresh} not listed before; {usage}", {
    n,
    where,
    page: query.page,
    count: list.length,
    fresh,
    usage: run.usage(),
  });
  return { list, fresh };
}

/**
 * Lists the activities that started after `after` (epoch s), oldest first, storing every page;
 * returns the ids seen. A short page ends it (see the module comment: the next listing goes on).
 */
export async function listNewer(run: RunScope, l: Lister, after: number): Promise<Set<bigint>> {
  const seen = new Set<bigint>();
  const cursor = { after, page: 1 };
  for (;;) {
    const { list, fresh } = await page(run, l, cursor, seen);
    // A full page of known ids is Strava repeating itself (see listHistory): the next listing goes on.
    if (list.length < PER_PAGE || fresh === 0) return seen;
    const starts = list.map(startOf).filter((s): s is number => s !== null);
    // One second back: `after` is exclusive and the next activity may share the newest start second.
    const next = starts.length > 0 ? Math.max(...starts) - 1 : cursor.after;
    if (next > cursor.after) Object.assign(cursor, { after: next, page: 1 });
    else cursor.page++;
  }
}

/** How one full listing ended. */
interface HistoryEnd {
  /** Every page answered and the end confirmed. */
  complete: boolean;
  /** Why it is not complete. */
  why: string | null;
}

/**
 * Lists the whole history newest first by `before=` into `seen`, storing every page. At a short
 * page, `olderRemovable(start)` says how many stored activities that absence from `seen` would
 * remove started before `start` (the oldest listed; null: nothing listed, any start): none, and the end
 * is confirmed; some, and the listing is asked again from where it ended (one request): nothing
 * new then confirms the end; new activities mean the short page was a glitch, and the listing
 * goes on (its next end is judged the same way). At most MAX_REASKS re-asks, then the listing
 * is incomplete.
 */
async function listHistory(
  run: RunScope,
  l: Lister,
  seen: Set<bigint>,
  olderRemovable: (start: number | null) => number,
): Promise<HistoryEnd> {
  let before: number | undefined;
  let pageNo = 1;
  let oldest: number | null = null;
  let reasks = 0;
  let reasking = false;
  for (;;) {
    const { list, fresh } = await page(run, l, { before, page: pageNo }, seen);
    const starts = list.map(startOf).filter((s): s is number => s !== null);
    const pageOldest = starts.length > 0 ? Math.min(...starts) : null;
    if (pageOldest !== null && (oldest === null || pageOldest < oldest)) oldest = pageOldest;
    const advance = () => {
      // One second up: `before` is exclusive and the next activity may share the oldest start second.
      const next = pageOldest === null ? before : pageOldest + 1;
      if (next !== undefined && (before === undefined || next < before)) [before, pageNo] = [next, 1];
      else pageNo++;
    };
    const wasReask = reasking;
    reasking = false;
    if (list.length === PER_PAGE && fresh === 0) {
      // Every cursor step moves past what was listed, so a full page of known ids is Strava
      // repeating itself: asking on could go on forever.
      return { complete: false, why: "Strava answered a list page with only activities it had listed already" };
    }
    if (list.length === PER_PAGE) {
      advance();
      continue;
    }
    const remaining = olderRemovable(oldest);
    if (remaining === 0) return { complete: true, why: null };
    if (wasReask && fresh === 0) {
      log.info("asked again, the listing still ends there: {n} stored activities older than its end are gone", {
        n: remaining,
      });
      return { complete: true, why: null };
    }
    if (reasks === MAX_REASKS) {
      return {
        complete: false,
        why: `the listing kept ending early (${reasks} times asked again; ${remaining} stored activities are older ` +
          "than where it ended)",
      };
    }
    log.info(
      "list page {n} ended the listing with {count} activities, but {remaining} stored ones are older: asking again from there",
      { n: run.summary.listed.pages, count: list.length, remaining },
    );
    reasks++;
    reasking = true;
    if (list.length > 0) advance();
  }
}

/** What the stored activities are, for judging a listing (each caller's own rows). */
interface Removable {
  /** Stored activities that absence from `listed` would remove, started before `before` (null: any). */
  count(listed: ReadonlySet<bigint> | null, before: number | null): number;
  /** Stored live (not deleted) activities. */
  live(): number;
}

/** A listing's verdict: the ids to treat as listed (everything else is gone), or why nothing may be concluded. */
type Evidence = { listed: Set<bigint>; absence: null } | { listed: null; absence: string };

/**
 * Lists the whole history (see the module comment) and judges whether absence from it is
 * evidence. Requests: the list pages, plus one or two when the end must be confirmed, plus a
 * second full listing only when the first would remove more than a small share. When nothing may be
 * concluded, `absence` says why and the run's summary carries it.
 */
export async function listWithEvidence(run: RunScope, l: Lister, removable: Removable): Promise<Evidence> {
  const first = new Set<bigint>();
  const end = await listHistory(run, l, first, (start) => removable.count(first, start));
  let verdict: Evidence;
  if (!end.complete) verdict = { listed: null, absence: end.why! };
  else verdict = await judge(run, l, removable, first);
  if (verdict.absence !== null) {
    const text = `${verdict.absence}: nothing concluded from absence in this run; the activities not listed stay as ` +
      "they were and the next listing looks at them again";
    run.summary.listed.absence = text;
    log.warn("{text}", { text });
    return { listed: null, absence: text };
  }
  return verdict;
}

/** A complete first listing: evidence as it stands, or asked again in full when it would remove too much. */
async function judge(run: RunScope, l: Lister, removable: Removable, first: Set<bigint>): Promise<Evidence> {
  const removing = removable.count(first, null);
  if (removing === 0) return { listed: first, absence: null };
  if (first.size === 0) return { listed: null, absence: "the listing holds no activity at all" };
  const live = removable.live();
  if (removing <= SUSPECT_MIN || removing <= SUSPECT_SHARE * live) return { listed: first, absence: null };
  const why = "the listing would take {removing} of {live} stored activities for gone: listing everything again";
  log.info(why, { removing, live });
  const second = new Set<bigint>();
  const end = await listHistory(run, l, second, (start) => removable.count(second, start));
  if (!end.complete) return { listed: null, absence: `the second listing did not confirm the first: ${end.why}` };
  if (second.size === 0) return { listed: null, absence: "the second listing holds no activity at all" };
  // Gone only when absent from both: an activity either listing saw is on Strava.
  for (const id of second) first.add(id);
  log.info("second listing: {n} stored activities are absent from both listings", { n: removable.count(first, null) });
  return { listed: first, absence: null };
}
