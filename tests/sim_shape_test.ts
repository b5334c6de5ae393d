/**
 * The simulator held against Strava's recorded answers (house.md, "strava-offline"). Every
 * end-to-end test trusts lib/testing to answer as Strava does, so this file asks the simulator,
 * over real HTTP on 127.0.0.1, for each kind of answer recorded in tests/fixtures/strava and
 * compares shapes, never values: a recorded field the simulator leaves out or sends with another
 * JSON type, and a field the simulator sends that no recording has, is drift. Differences Strava
 * itself makes (a field only with a sensor, null when unset), and the one simplification left, are
 * named in allow-lists with the reason; an entry nothing needs any more fails too, so a list cannot
 * outlive its reasons.
 */
import { ok, strictEqual } from "node:assert/strict";
import { StravaSimulator } from "../lib/testing/strava_sim.ts";
import { ACTIVITY_API_COLUMNS, EFFORT_COLUMNS, SEGMENT_DETAIL_COLUMNS } from "../lib/store/records.ts";

type JsonType = "number" | "string" | "boolean" | "null" | "object" | "array";

/** Field paths of the answers of one kind ("segment_efforts[].segment.city"; "" is the body itself). */
interface Shape {
  /** JSON types seen at each path. */
  types: Map<string, Set<JsonType>>;
  /** The object or array path a path sits in ("laps[]" for "laps[].id", "laps" for "laps[]"). */
  container: Map<string, string>;
  /** How many objects were seen at each path. */
  objects: Map<string, number>;
  /** For a key path: how many of the objects at its container had the key. */
  present: Map<string, number>;
}

/** A difference the simulator may make; `why` says where Strava makes it too, or that it is a simplification. */
interface Allowance {
  why: string;
  /** Types the simulator may send here besides (or instead of) the recorded ones. */
  types?: JsonType[];
  /** Absent from some of the simulator's objects. */
  optional?: true;
  /** Never sent by the simulator. */
  missing?: true;
  /** Sent by the simulator, in no recording. */
  extra?: true;
}
type Allowed = Record<string, Allowance>;

const FIXTURES = new URL("./fixtures/strava/", import.meta.url);
const recorded = (name: string) => JSON.parse(Deno.readTextFileSync(new URL(name, FIXTURES)));

function jsonType(value: unknown): JsonType {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const type = typeof value;
  if (type === "number" || type === "string" || type === "boolean" || type === "object") return type;
  throw new TypeError(`not a JSON value: ${type}`);
}

/** The shape of `samples` (answers of one kind, parsed). */
function shapeOf(samples: unknown[]): Shape {
  const shape: Shape = { types: new Map(), container: new Map(), objects: new Map(), present: new Map() };
  const bump = (map: Map<string, number>, path: string) => map.set(path, (map.get(path) ?? 0) + 1);
  const walk = (value: unknown, path: string) => {
    const type = jsonType(value);
    const types = shape.types.get(path) ?? new Set();
    shape.types.set(path, types.add(type));
    if (type === "array") {
      for (const item of value as unknown[]) {
        shape.container.set(`${path}[]`, path);
        walk(item, `${path}[]`);
      }
    } else if (type === "object") {
      bump(shape.objects, path);
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        const child = path === "" ? key : `${path}.${key}`;
        shape.container.set(child, path);
        bump(shape.present, child);
        walk(v, child);
      }
    }
  };
  for (const sample of samples) walk(sample, "");
  return shape;
}

const types = (set: Iterable<JsonType>) => [...set].sort().join("|");
const shown = (path: string) => path === "" ? "(body)" : path;

/** Lines naming each difference between the two shapes that `allowed` does not excuse, and the allowances used. */
function compareShapes(rec: Shape, sim: Shape, allowed: Allowed): { drift: string[]; used: Set<string> } {
  const drift: string[] = [];
  const used = new Set<string>();
  const differ = (path: string, excused: boolean | undefined, line: string) => {
    if (excused) used.add(path);
    else drift.push(`${shown(path)}: ${line}`);
  };
  for (const [path, recTypes] of rec.types) {
    const a = allowed[path];
    const simTypes = sim.types.get(path);
    const container = rec.container.get(path);
    const isKey = container !== undefined && !path.endsWith("[]");
    if (!simTypes) {
      // A field inside an object (or array) the simulator never sends is named at that container.
      const holder = container === undefined ? undefined : sim.types.get(container);
      if (container !== undefined && !holder?.has(isKey ? "object" : "array")) continue;
      differ(path, a?.missing, `missing (recorded: ${types(recTypes)})`);
      continue;
    }
    if (isKey && rec.present.get(path) === rec.objects.get(container)) {
      const have = sim.present.get(path)!;
      const of = sim.objects.get(container)!;
      if (have < of) differ(path, a?.optional, `absent from ${of - have} of ${of} objects (recorded in every one)`);
    }
    // Types beyond the recorded ones, or a recorded type (null aside) the simulator never sends.
    const unexpected = [...simTypes].filter((t) => !recTypes.has(t));
    const unsent = [...recTypes].filter((t) => t !== "null" && !simTypes.has(t));
    if (unexpected.length > 0 || unsent.length > 0) {
      const excused = a?.types !== undefined && unexpected.every((t) => a.types!.includes(t));
      differ(path, excused, `expected ${types(recTypes)}, got ${types(simTypes)}`);
    }
  }
  for (const [path, simTypes] of sim.types) {
    const container = sim.container.get(path);
    if (rec.types.has(path) || (container !== undefined && !rec.types.has(container))) continue;
    differ(path, allowed[path]?.extra, `not in the recording (got ${types(simTypes)})`);
  }
  return { drift, used };
}

/** Every difference between the simulator's answers and the recorded ones, one line per field path. */
function shapeDrift(recordedAnswers: unknown[], simAnswers: unknown[], allowed: Allowed): string[] {
  if (simAnswers.length === 0) return ["the simulator gave no answer to compare"];
  const { drift, used } = compareShapes(shapeOf(recordedAnswers), shapeOf(simAnswers), allowed);
  for (const path of Object.keys(allowed)) {
    if (!used.has(path)) drift.push(`${shown(path)}: on the allow-list, but the simulator matches the recording now`);
  }
  return drift;
}

/** Fails, naming every field path that differs, unless the simulator's answers have the recorded shape. */
function assertSameShape(kind: string, recordedAnswers: unknown[], simAnswers: unknown[], allowed: Allowed = {}) {
  const drift = shapeDrift(recordedAnswers, simAnswers, allowed);
  strictEqual(drift.length, 0, `${kind}: the simulator differs from the recorded answer:\n  ${drift.join("\n  ")}`);
}

// ---- What Strava itself varies, and the recordings do not show ----

/**
 * "The API reference": the examples in Strava's Swagger spec (stravalib's copy, strava_swagger.json of the
 * shared fixture set), rides; not a recording, but Strava's own word on fields the recorded run lacks.
 */
const SENSORS = "Strava sends it with a power meter or cadence sensor (the API reference's listing and " +
  "GET /activities/{id} examples, rides, have it); the recordings are runs without them";
const NO_HR = "absent when the activity has no heart rate (a manual entry, a ride without a strap)";
const NO_GPS = "absent for activities without a GPS track (manual entries, trainer rides)";
const MANUAL = "null for a manual entry (no upload, no file)";

const SUMMARY_ACTIVITY: Allowed = {
  workout_type: {
    why:
      "null when the athlete set none (dblock/strava-ruby-client client/segment_effort.yml, 2025; the API reference's listing)",
    types: ["null"],
  },
  location_country: {
    why: 'a string where Strava geocoded one ("Canada" in a 2018 listing quoted in eaudet/trainingbot#8)',
    types: ["string"],
  },
  gear_id: { why: "null when no gear is set (a swim; not recorded)", types: ["null"] },
  upload_id: { why: MANUAL, types: ["null"] },
  upload_id_str: { why: MANUAL, types: ["null"] },
  external_id: { why: MANUAL, types: ["null"] },
  average_cadence: { why: SENSORS, extra: true },
  average_watts: { why: SENSORS, extra: true },
  kilojoules: { why: SENSORS, extra: true },
  device_watts: { why: SENSORS, extra: true },
  average_heartrate: { why: NO_HR, optional: true },
  max_heartrate: { why: NO_HR, optional: true },
  suffer_score: { why: NO_HR, optional: true },
  elev_high: { why: NO_GPS, optional: true },
  elev_low: { why: NO_GPS, optional: true },
};

const SUMMARY_SEGMENT_PLACE =
  "null for a virtual (Zwift) segment, which has no place (not recorded; the tool stores NULL either way)";
const SEGMENT_PLACE: Allowed = Object.fromEntries(
  ["city", "state", "country"].map((k) => [k, { why: SUMMARY_SEGMENT_PLACE, types: ["null"] as JsonType[] }]),
);
const inEfforts = (allowed: Allowed, prefix: string): Allowed =>
  Object.fromEntries(Object.entries(allowed).map(([k, v]) => [`${prefix}.${k}`, v]));

const RUNS_ONLY = "sent for runs: the recording is one, the API reference's ride example has none; " +
  "absent for rides, walks and manual entries";
const DETAILED_ACTIVITY: Allowed = {
  ...SUMMARY_ACTIVITY,
  splits_metric: {
    why: "NOT Strava's behaviour for rides (the API reference's ride example has splits_metric): the simulator " +
      "splits only runs with a GPS track, keeping ride bodies the size the benchmarks measured; the tool keeps " +
      "splits only inside raw_json. Manual entries have no track to split",
    optional: true,
  },
  splits_standard: { why: RUNS_ONLY, optional: true },
  best_efforts: { why: RUNS_ONLY, optional: true },
  similar_activities: { why: RUNS_ONLY, optional: true },
  "laps[].pace_zone": { why: `a running pace zone, ${RUNS_ONLY}`, optional: true },
  description: { why: "null when the athlete wrote none", types: ["null"] },
  gear: { why: "null when no gear is set (a swim; not recorded)", types: ["null"] },
  device_name: { why: "absent for a manual entry", optional: true },
  "photos.primary": { why: "null when the activity has no photos (the simulator's have none)", types: ["null"] },
  "photos.use_primary_photo": { why: "sent only with photos", missing: true },
  ...inEfforts(SEGMENT_PLACE, "segment_efforts[].segment"),
  "segment_efforts[].kom_rank": { why: "a number when the effort is in the top ten", types: ["number"] },
  "segment_efforts[].average_heartrate": { why: NO_HR, optional: true },
  "segment_efforts[].max_heartrate": { why: NO_HR, optional: true },
  "segment_efforts[].average_cadence": { why: SENSORS, extra: true },
  "segment_efforts[].average_watts": { why: SENSORS, extra: true },
  "laps[].average_watts": { why: SENSORS, extra: true },
  "laps[].average_heartrate": { why: NO_HR, optional: true },
  "laps[].max_heartrate": { why: NO_HR, optional: true },
  "splits_metric[].average_heartrate": { why: NO_HR, optional: true },
  "splits_standard[].average_heartrate": { why: NO_HR, optional: true },
};

const DETAILED_SEGMENT: Allowed = SEGMENT_PLACE;

const LATER_ATHLETE = "the 2018 recording predates it; Strava's 2025 answer of GET /segment_efforts/{id} " +
  "(dblock/strava-ruby-client client/segment_effort.yml) has it in the same summary athlete";
const SUMMARY_ATHLETE: Allowed = {
  bio: { why: LATER_ATHLETE, extra: true },
  weight: { why: LATER_ATHLETE, extra: true },
};

Deno.test("sim shape: every field the tool stores is recorded, or allowed with a reason as one Strava adds", () => {
  // Columns computed by the tool, not read from a field of the record.
  const computed = new Set(["has_gps", "activity_id", "segment_id", "raw_json"]);
  const read = (columns: readonly string[], prefix: string) =>
    columns.filter((c) => !computed.has(c)).map((c) => `${prefix}${c === "polyline" ? "map.polyline" : c}`);
  const sources: [string, string[], Allowed][] = [
    ["athlete_activities_after_before.json", read(ACTIVITY_API_COLUMNS, ""), SUMMARY_ACTIVITY],
    ["detailed_activity_with_segment_efforts.json", read(EFFORT_COLUMNS, "segment_efforts[]."), DETAILED_ACTIVITY],
    ["detailed_segment.json", read(SEGMENT_DETAIL_COLUMNS, ""), DETAILED_SEGMENT],
  ];
  const unknown: string[] = [];
  for (const [file, paths, allowed] of sources) {
    const data = recorded(file);
    const shape = shapeOf(Array.isArray(data) ? data : [data]);
    for (const path of paths) if (!shape.types.has(path) && !allowed[path]?.extra) unknown.push(`${file}: ${path}`);
  }
  strictEqual(unknown.length, 0, `the tool stores fields no recording has:\n  ${unknown.join("\n  ")}`);
});

// ---- Asking the simulator ----

const HIGH = { read15: 1_000_000, readDay: 1_000_000, all15: 1_000_000, allDay: 1_000_000 };

interface Answer {
  what: string;
  status: number;
  headers: Headers;
  body: unknown;
}

/** One request to the simulator; the answer with its body parsed (plain JSON: types, not values, matter here). */
async function call(what: string, url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { redirect: "manual", ...init });
  const text = await res.text();
  return { what, status: res.status, headers: res.headers, body: text === "" ? null : JSON.parse(text) };
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: "POST",
  body: new URLSearchParams(fields),
  headers,
});

/** Every listed activity, page by page, as a token with activity:read_all sees them. */
async function listAll(sim: StravaSimulator, token: string): Promise<unknown[]> {
  const items: unknown[] = [];
  for (let page = 1;; page++) {
    const res = await call("list", `${sim.apiUrl}/athlete/activities?page=${page}&per_page=200`, bearer(token));
    strictEqual(res.status, 200);
    const list = res.body as unknown[];
    if (list.length === 0) return items;
    items.push(...list);
  }
}

/** A simulator with activities of every kind (checked) and rate limits no test here reaches. */
async function startSim(): Promise<StravaSimulator> {
  const sim = await StravaSimulator.start({ seed: 3, activities: 150, segments: 60, limits: HIGH });
  const kinds = new Set(sim.truth.activities.filter((a) => !a.deleted).map((a) => a.kind));
  strictEqual(kinds.size, 6, `every kind of activity is compared (got ${[...kinds]})`);
  return sim;
}

Deno.test("sim shape: a page of GET /athlete/activities has the recorded fields and types", async () => {
  await using sim = await startSim();
  const listed = await listAll(sim, sim.issueTokens().access_token);
  assertSameShape("athlete activities", recorded("athlete_activities_after_before.json"), listed, SUMMARY_ACTIVITY);
});

Deno.test("sim shape: GET /activities/{id} (efforts, their segments, map, laps, splits) has the recorded shape", async () => {
  await using sim = await startSim();
  const { access_token } = sim.issueTokens();
  const visible = sim.truth.activities.filter((a) => !a.deleted);
  const details = await Promise.all(visible.map(async (a) => {
    const res = await call(
      "activity",
      `${sim.apiUrl}/activities/${a.id}?include_all_efforts=true`,
      bearer(access_token),
    );
    strictEqual(res.status, 200);
    return res.body;
  }));
  assertSameShape(
    "detailed activity",
    [recorded("detailed_activity_with_segment_efforts.json")],
    details,
    DETAILED_ACTIVITY,
  );
});

Deno.test("sim shape: GET /segments/{id} has the recorded DetailedSegment shape", async () => {
  await using sim = await startSim();
  const token = sim.issueTokens("read,read_all,activity:read_all").access_token;
  const segments = await Promise.all([...sim.truth.segments.keys()].map(async (id) => {
    const res = await call("segment", `${sim.apiUrl}/segments/${id}`, bearer(token));
    strictEqual(res.status, 200);
    return res.body;
  }));
  assertSameShape("detailed segment", [recorded("detailed_segment.json")], segments, DETAILED_SEGMENT);
});

/** The OAuth answers of the recorded flow: a code grant, a refresh, a deauthorization. */
async function oauthAnswers(sim: StravaSimulator): Promise<Record<"code" | "refresh" | "deauthorize", Answer>> {
  const query = new URLSearchParams({
    client_id: "12345",
    redirect_uri: "http://127.0.0.1:8721/callback",
    response_type: "code",
    scope: "read,activity:read_all",
  });
  const consent = await call("authorize", `${sim.oauthUrl}/authorize?${query}`);
  strictEqual(consent.status, 302);
  const code = new URL(consent.headers.get("location")!).searchParams.get("code")!;
  const client = { client_id: "12345", client_secret: "sim-secret" };
  const grant = await call(
    "token",
    `${sim.oauthUrl}/token`,
    form({ ...client, code, grant_type: "authorization_code" }),
  );
  const refresh = await call(
    "refresh",
    `${sim.oauthUrl}/token`,
    form({
      ...client,
      grant_type: "refresh_token",
      refresh_token: (grant.body as { refresh_token: string }).refresh_token,
    }),
  );
  const access = (refresh.body as { access_token: string }).access_token;
  const deauthorize = await call("deauthorize", `${sim.oauthUrl}/deauthorize`, { method: "POST", ...bearer(access) });
  for (const a of [grant, refresh, deauthorize]) strictEqual(a.status, 200, a.what);
  return { code: grant, refresh, deauthorize };
}

Deno.test("sim shape: OAuth token bodies (code grant, refresh) and the deauthorize answer have the recorded shape", async () => {
  await using sim = await startSim();
  const oauth = recorded("oauth_token_responses.json");
  const answers = await oauthAnswers(sim);
  const grantAllowed = inEfforts(SUMMARY_ATHLETE, "athlete");
  assertSameShape("code grant", [oauth.authorization_code_exchange.body], [answers.code.body], grantAllowed);
  assertSameShape("refresh", [oauth.refresh_token_grant.body], [answers.refresh.body]);
  assertSameShape("deauthorize", [oauth.deauthorize.body], [answers.deauthorize.body]);
  // GET /athlete without profile:read_all is the same summary athlete as in the code grant.
  const athlete = await call("athlete", `${sim.apiUrl}/athlete`, bearer(sim.issueTokens().access_token));
  assertSameShape("athlete", [oauth.authorization_code_exchange.body.athlete], [athlete.body], SUMMARY_ATHLETE);
});

/** One answer of every error the simulator gives as JSON (the 503 of Strava's proxy is text, not compared). */
async function errorAnswers(sim: StravaSimulator): Promise<Answer[]> {
  const t = sim.truth;
  const api = sim.apiUrl;
  const oauth = sim.oauthUrl;
  const full = sim.issueTokens().access_token;
  const readOnly = sim.issueTokens("read").access_token;
  const deleted = t.activities.find((a) => a.deleted)!;
  const client = { client_id: "12345", client_secret: "sim-secret" };
  sim.addFault({ path: /\/athlete\/activities$/, kind: "500" });
  const fault500 = await call("500 server error", `${api}/athlete/activities`, bearer(full));
  const answers = [
    fault500,
    await call("401 no token", `${api}/athlete/activities`),
    await call("401 unknown token", `${api}/athlete/activities`, bearer("nope")),
    await call("401 token in the query", `${api}/athlete/activities?access_token=${full}`, bearer(full)),
    await call("401 missing scope", `${api}/athlete/activities`, bearer(readOnly)),
    await call("400 bad parameter", `${api}/athlete/activities?page=x`, bearer(full)),
    await call("404 deleted activity", `${api}/activities/${deleted.id}`, bearer(full)),
    await call("404 removed segment", `${api}/segments/${[...t.notFoundSegments][0]}`, bearer(full)),
    await call("403 private segment", `${api}/segments/${[...t.privateSegments][0]}`, bearer(full)),
    await call("404 unknown path", `${api}/nothing/here`, bearer(full)),
    await call("400 invalid client", `${oauth}/token`, form({ client_id: "1", client_secret: "x" })),
    await call("400 wrong secret", `${oauth}/token`, form({ client_id: "12345", client_secret: "x" })),
    await call("400 invalid code", `${oauth}/token`, form({ ...client, code: "0", grant_type: "authorization_code" })),
    await call(
      "400 dead refresh token",
      `${oauth}/token`,
      form({ ...client, grant_type: "refresh_token", refresh_token: "0" }),
    ),
    await call("401 revoke without client", `${oauth}/revoke`, form({ token: "0" })),
    await call(
      "400 revoke unknown token",
      `${oauth}/revoke`,
      form({ token: "0" }, { Authorization: `Basic ${btoa("12345:sim-secret")}` }),
    ),
    await call("401 deauthorize unknown token", `${oauth}/deauthorize`, { method: "POST", ...bearer("nope") }),
  ];
  // Last: a 429 fault spends the rest of the window, so every later API request would be refused too.
  sim.addFault({ path: /\/athlete\/activities$/, kind: "429" });
  return [...answers, await call("429 rate limit", `${api}/athlete/activities`, bearer(full))];
}

/** Error answers whose `errors` list is empty (no recording has one). */
const ERROR_ALLOWED: Record<string, Allowed> = {
  "404 unknown path": {
    "errors[]": {
      why: 'Strava answers a path it does not have with {"message":"Resource Not Found","errors":[]} ' +
        "(seen by roznet/connectstats#54)",
      missing: true,
    },
  },
  "500 server error": {
    "errors[]": { why: "Strava's 500 is not recorded; the simulator sends it like Resource Not Found", missing: true },
  },
};

Deno.test("sim shape: every error body (400, 401, 403, 404, 429, 500) has the recorded shape", async () => {
  await using sim = await startSim();
  const bodies = Object.values(recorded("error_responses.json")).map((e) => (e as { body: unknown }).body);
  const drift: string[] = [];
  for (const answer of await errorAnswers(sim)) {
    strictEqual(String(answer.status), answer.what.slice(0, 3), `${answer.what}: status`);
    const lines = shapeDrift(bodies, [answer.body], ERROR_ALLOWED[answer.what] ?? {});
    drift.push(...lines.map((line) => `${answer.what}: ${line}`));
  }
  strictEqual(drift.length, 0, `error bodies differ from the recorded ones:\n  ${drift.join("\n  ")}`);
});

/** Headers the simulator sends that the recording has not, and why they are fine (redirects are not compared). */
const HEADER_ALLOWED: Record<string, string> = {
  "content-length": "Deno's server frames a body it has whole by length; Strava's proxy chunks (either is HTTP/1.1)",
};
/** Headers every recorded-kind answer must carry, as recorded, and what their value looks like. */
const HEADER_FORMAT: Record<string, RegExp> = {
  "content-type": /^application\/json; charset=utf-8$/,
  date: /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  "x-ratelimit-limit": /^\d+,\d+$/,
  "x-ratelimit-usage": /^\d+,\d+$/,
  "x-readratelimit-limit": /^\d+,\d+$/,
  "x-readratelimit-usage": /^\d+,\d+$/,
};

Deno.test("sim shape: every answer carries the recorded rate-limit headers (X-RateLimit-*, X-ReadRateLimit-*)", async () => {
  await using sim = await startSim();
  const fixture = recorded("response_headers_rate_limit.json").headers as Record<string, string>;
  const names = new Set(Object.keys(fixture).map((n) => n.toLowerCase()));
  for (const [name, format] of Object.entries(HEADER_FORMAT)) {
    ok(names.has(name) && format.test(fixture[Object.keys(fixture).find((n) => n.toLowerCase() === name)!]), name);
  }
  const token = sim.issueTokens().access_token;
  const activity = sim.truth.activities.find((a) => !a.deleted)!;
  const answers = [
    await call("list", `${sim.apiUrl}/athlete/activities`, bearer(token)),
    await call("activity", `${sim.apiUrl}/activities/${activity.id}`, bearer(token)),
    await call("segment", `${sim.apiUrl}/segments/${[...sim.truth.segments.keys()][0]}`, bearer(token)),
    ...await errorAnswers(sim),
    ...Object.values(await oauthAnswers(sim)),
  ];
  const drift: string[] = [];
  const used = new Set<string>();
  for (const answer of answers) {
    for (const [name, format] of Object.entries(HEADER_FORMAT)) {
      const value = answer.headers.get(name);
      if (value === null || !format.test(value)) drift.push(`${answer.what}: ${name} is ${value ?? "missing"}`);
    }
    for (const name of answer.headers.keys()) {
      if (names.has(name)) continue;
      if (HEADER_ALLOWED[name]) used.add(name);
      else drift.push(`${answer.what}: header ${name} is in no recording`);
    }
  }
  for (const name of Object.keys(HEADER_ALLOWED)) {
    if (!used.has(name)) drift.push(`${name}: on the allow-list, but no answer sends it now`);
  }
  strictEqual(drift.length, 0, `the simulator's headers differ from the recorded ones:\n  ${drift.join("\n  ")}`);
});
