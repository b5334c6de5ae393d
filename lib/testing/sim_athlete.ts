/** The simulated athlete and their gear (DetailedAthlete, SummaryAthlete, SummaryGear as recorded). */
import type { Rng } from "./sim_random.ts";
import type { Json } from "./sim_truth.ts";

/** One bike or pair of shoes. */
export interface GearEntry {
  id: string;
  name: string;
  kind: "bike" | "shoe";
  primary: boolean;
}

/** Three bikes and two pairs of shoes, the first of each primary. */
export function makeGear(r: Rng): GearEntry[] {
  const gear: GearEntry[] = [];
  const bikes = ["Canyon Endurace", "Salsa Journeyman", "Trek Fuel EX"];
  const shoes = ["Hoka Clifton 9", "Saucony Peregrine"];
  bikes.forEach((name, i) =>
    gear.push({ id: `b${r.int(1_000_000, 19_999_999)}`, name, kind: "bike", primary: i === 0 })
  );
  shoes.forEach((name, i) =>
    gear.push({ id: `g${r.int(1_000_000, 19_999_999)}`, name, kind: "shoe", primary: i === 0 })
  );
  return gear;
}

/** SummaryGear JSON of a bike or shoe. */
export function gearJson(g: GearEntry, resourceState: number): Json {
  const distance = 1_000_000 + (Number(g.id.slice(1)) % 9_000_000);
  return {
    id: g.id,
    primary: g.primary,
    name: g.name,
    nickname: "",
    resource_state: resourceState,
    retired: false,
    distance,
    converted_distance: Math.round(distance / 100) / 10,
  };
}

/** The athlete as DetailedAthlete and as the summary in token responses. */
export function makeAthlete(r: Rng, id: bigint, gear: GearEntry[]): { detailed: Json; summary: Json } {
  const firstname = r.pick(["Alex", "Sam", "Jordan", "Robin", "Kim"]);
  const lastname = r.pick(["Okafor", "Lindqvist", "Moreau", "Tanaka", "García"]);
  const picture = `https://dgalywyr863hv.cloudfront.net/pictures/athletes/${id}/${r.int(1_000_000, 9_999_999)}/2`;
  const summary: Json = {
    id,
    username: `${firstname}${lastname}`.toLowerCase().normalize("NFD").replace(/[^a-z]/g, ""),
    resource_state: 2,
    firstname,
    lastname,
    bio: "",
    city: "Boulder",
    state: "CO",
    country: "United States",
    sex: r.pick(["M", "F"]),
    premium: true,
    summit: true,
    created_at: "2014-06-03T17:21:08Z",
    updated_at: "2026-03-30T19:02:44Z",
    badge_type_id: 1n,
    weight: r.float(55, 85, 1),
    profile_medium: `${picture}/medium.jpg`,
    profile: `${picture}/large.jpg`,
    friend: null,
    follower: null,
  };
  const detailed: Json = {
    ...summary,
    resource_state: 3,
    blocked: false,
    can_follow: true,
    follower_count: r.int(10, 400),
    friend_count: r.int(10, 400),
    mutual_friend_count: 0,
    athlete_type: 0,
    date_preference: "%m/%d/%Y",
    measurement_preference: "meters",
    clubs: [],
    postable_clubs_count: 0,
    ftp: r.int(180, 320),
    bikes: gear.filter((g) => g.kind === "bike").map((g) => gearJson(g, 2)),
    shoes: gear.filter((g) => g.kind === "shoe").map((g) => gearJson(g, 2)),
    is_winback_via_upload: false,
    is_winback_via_view: false,
  };
  return { detailed, summary };
}
