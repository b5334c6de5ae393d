/**
 * Issue "Input and files": every refusal as a user meets it. Each row runs a script as a
 * subprocess under its scoped permissions and checks the exit code, the one line it prints,
 * and that the database file's bytes (sha256) did not change; refused foreign files also gain
 * no -wal, -shm or lock file beside them. Add a row for every new refusal.
 */
import { ok, strictEqual } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { ScriptName } from "../lib/permissions.ts";
import { acquireRunLock } from "../lib/store/run_lock.ts";
import { generateActivitiesCsv, sampleActivities } from "../lib/testing/archive_gen.ts";
import { createDatabase, fileDigest, runScript, tempDir } from "./helpers.ts";
import { LATEST_VERSION } from "../lib/store/schema.ts";

const DB = "data/segments.db";

/** Nothing listens on port 9: a row that reached the network would fail differently. */
const ENV = {
  STRAVA_ACCESS_TOKEN: "test-token",
  STRAVA_CLIENT_ID: "1",
  STRAVA_CLIENT_SECRET: "secret",
  STRAVA_API_URL: "http://127.0.0.1:9/api/v3",
  STRAVA_OAUTH_URL: "http://127.0.0.1:9/oauth",
};

/** Every script that opens a database, with the arguments that make it open `db`. */
const OPENERS: Record<string, { script: ScriptName; args: (db: string) => string[] }> = {
  update_schema: { script: "update_schema", args: (db) => ["--db", db] },
  import: { script: "import_archive", args: (db) => ["--db", db, "activities.csv"] },
  incremental: { script: "incremental_backfill", args: (db) => ["--db", db] },
  "one-time": { script: "manage_backfill", args: (db) => ["--db", db, "--mode", "one-time"] },
  stats: { script: "manage_backfill", args: (db) => ["--db", db] },
  "stats --json": { script: "manage_backfill", args: (db) => ["--db", db, "--json"] },
  setup_auth: { script: "setup_auth", args: (db) => ["--db", db, "--code", "abc", "--no-browser"] },
};

interface Row {
  name: string;
  opener: keyof typeof OPENERS;
  /** Creates the files in `dir`; may return what to release after the run. */
  setup: (dir: string) => void | Disposable;
  /** The file whose bytes must not change (relative to the folder). */
  db?: string;
  /** --db value (default DB). */
  dbArg?: string;
  code: number;
  /** What the one line on stderr says (after "error: "); for exit 0, what stdout says. */
  says: RegExp;
  /** No file appears or disappears in the database's folder (the log of a backfill aside). */
  noNewFiles?: boolean;
  /** Skip when the machine cannot set the row up. */
  ignore?: boolean;
}

function sqlite(path: string, sql: string): void {
  Deno.mkdirSync(path.replace(/\/[^/]*$/, ""), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(sql);
  db.close();
}

const foreign = (version: number) => (dir: string) =>
  sqlite(
    `${dir}/${DB}`,
    `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); CREATE TABLE users (id, name);
     INSERT INTO notes VALUES (1, 'keep me'); PRAGMA user_version = ${version}`,
  );

function chattr(flag: "+i" | "-i", path: string): boolean {
  try {
    return new Deno.Command("chattr", { args: [flag, path], stderr: "null", stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Whether this machine can make a file immutable (root on a filesystem with attributes). */
const CAN_CHATTR = (() => {
  const path = Deno.makeTempFileSync();
  const can = chattr("+i", path) && chattr("-i", path);
  Deno.removeSync(path);
  return can;
})();

const ROWS: Row[] = [];

for (const version of [0, 7]) {
  for (const opener of Object.keys(OPENERS)) {
    ROWS.push({
      name: `another application's database (user_version ${version})`,
      opener,
      setup: foreign(version),
      code: 2,
      says: new RegExp(
        `^${DB} is a SQLite database of another application \\(tables: notes, users${
          version ? "; user_version 7" : ""
        }\\); not touching it$`,
      ),
      noNewFiles: true,
    });
  }
}

// WAL mode with no -wal: SQLite would create -wal and -shm just to read the catalogue.
for (const opener of Object.keys(OPENERS)) {
  ROWS.push({
    name: "another application's database in WAL mode",
    opener,
    setup: (dir) =>
      sqlite(`${dir}/${DB}`, "PRAGMA journal_mode = WAL; CREATE TABLE users (id, name); CREATE TABLE notes (id)"),
    code: 2,
    says: new RegExp(`^${DB} is a SQLite database of another application \\(tables: notes, users\\); not touching it$`),
    noNewFiles: true,
  });
}

ROWS.push(
  ...["update_schema", "incremental", "stats"].map((opener): Row => ({
    name: "a database written by a newer strava-backfill",
    opener,
    setup: (dir) => {
      createDatabase(dir);
      sqlite(`${dir}/${DB}`, `PRAGMA user_version = ${LATEST_VERSION + 5}`);
    },
    code: opener === "stats" ? 0 : 2,
    says: opener === "stats"
      ? /note: .* newer strava-backfill/
      : new RegExp(`^${DB} was written by a newer strava-backfill \\(schema version ${LATEST_VERSION + 5};`),
  })),
  ...["update_schema", "incremental", "one-time", "stats", "setup_auth"].map((opener): Row => ({
    name: "a database with a second hard link",
    opener,
    setup: (dir) => {
      createDatabase(dir);
      Deno.linkSync(`${dir}/${DB}`, `${dir}/data/copy.db`);
    },
    code: 2,
    says: new RegExp(`^${DB} has 2 hard links, .*find \\. -samefile ${DB}\\) or use a copy$`),
    noNewFiles: true,
  })),
  ...["incremental", "one-time"].map((opener): Row => ({
    name: "a second backfill through a symlink while one runs",
    opener,
    dbArg: "link.db",
    setup: (dir) => {
      createDatabase(dir);
      Deno.symlinkSync(`${dir}/${DB}`, `${dir}/link.db`);
      return acquireRunLock(`${dir}/${DB}`); // the first backfill, holding the lock
    },
    code: 1,
    says: new RegExp(
      `^another backfill is already running on link\\.db \\(the same file as .*/${DB}\\) \\(pid \\d+\\)`,
    ),
  })),
  ...["update_schema", "import", "incremental", "stats", "setup_auth"].map((opener): Row => ({
    name: "a directory as --db",
    opener,
    dbArg: "data",
    db: "",
    setup: (dir) => createDatabase(dir),
    code: 2,
    says: /^--db data is a directory; give the path of a file$/,
  })),
  ...["update_schema", "import", "incremental", "stats"].map((opener): Row => ({
    name: "a junk file as --db",
    opener,
    dbArg: "junk.db",
    db: "junk.db",
    setup: (dir) => Deno.writeTextFileSync(`${dir}/junk.db`, "not a database\n".repeat(50)),
    code: 2,
    says: /^junk\.db is not a SQLite database$/,
    noNewFiles: true,
  })),
  ...["incremental", "one-time", "stats"].map((opener): Row => ({
    name: "a missing database",
    opener,
    db: "",
    setup: () => {},
    code: 2,
    says: /^database data\/segments\.db does not exist; create it with --create/,
  })),
  {
    name: "stats on a read-only database file",
    opener: "stats",
    setup: (dir) => {
      createDatabase(dir);
      Deno.chmodSync(`${dir}/${DB}`, 0o400);
    },
    code: 0,
    says: /^Activities\n/,
  },
  {
    name: "stats --json on an immutable database file (chattr +i)",
    opener: "stats --json",
    ignore: !CAN_CHATTR,
    setup: (dir) => {
      createDatabase(dir);
      chattr("+i", `${dir}/${DB}`);
      return { [Symbol.dispose]: () => void chattr("-i", `${dir}/${DB}`) };
    },
    code: 0,
    says: /"schema": \{\s*"version": \d+/,
  },
  {
    name: "stats on the seed toolkit's database: read as it is, never migrated",
    opener: "stats",
    setup: (dir) =>
      sqlite(
        `${dir}/${DB}`,
        `CREATE TABLE activities (id INTEGER PRIMARY KEY, segment_efforts_processed INTEGER DEFAULT 0);
         INSERT INTO activities VALUES (1, 1), (2, 0);`,
      ),
    code: 0,
    says: /^note: data\/segments\.db has schema version 0, older than this tool's \d+;.*update_schema/,
    noNewFiles: true,
  },
  {
    name: "a write while another program holds the database (waits 10 s)",
    opener: "update_schema",
    setup: (dir) => {
      createDatabase(dir);
      sqlite(`${dir}/${DB}`, "DROP TABLE IF EXISTS token_refresh_lock; PRAGMA user_version = 1"); // migration 2 must write
      const holder = new DatabaseSync(`${dir}/${DB}`);
      holder.exec("BEGIN IMMEDIATE; INSERT INTO activities (id) VALUES (1)");
      return {
        [Symbol.dispose]: () => {
          holder.exec("ROLLBACK");
          holder.close();
        },
      };
    },
    code: 1,
    says:
      /^database data\/segments\.db is locked: another program has held it for writing for over 10 s \(.*\); let it finish or close it, then run again$/,
  },
);

for (const row of ROWS) {
  const { script, args } = OPENERS[row.opener];
  Deno.test({
    name: `refusal: ${row.name}: ${row.opener}`,
    ignore: row.ignore,
    async fn() {
      await using dir = await tempDir();
      Deno.writeTextFileSync(
        `${dir.path}/activities.csv`,
        generateActivitiesCsv(sampleActivities(3), { headerVersion: 2026 }),
      );
      using _held = row.setup(dir.path) ?? undefined;
      const dbFile = row.db ?? DB;
      const folder = `${dir.path}/${dbFile.includes("/") ? dbFile.replace(/\/[^/]*$/, "") : ""}`;
      // backfill.log is where a backfill records the error that ended it (issue "Seed semantics" 3).
      const listing = () =>
        [...Deno.readDirSync(folder)].map((e) => e.name).filter((n) => n !== "backfill.log").sort().join(" ");
      const before = dbFile === "" ? null : await fileDigest(`${dir.path}/${dbFile}`);
      const filesBefore = listing();
      const r = await runScript(script, args(row.dbArg ?? DB), { cwd: dir.path, env: ENV, hosts: ["127.0.0.1:9"] });
      strictEqual(r.code, row.code, `exit code; stderr: ${r.stderr}`);
      if (row.code === 0) {
        strictEqual(r.stderr, "", "nothing on stderr");
        ok(row.says.test(r.stdout), r.stdout);
      } else {
        const lines = r.stderr.trimEnd().split("\n");
        strictEqual(lines.length, 1, `one line: ${r.stderr}`);
        ok(lines[0].startsWith("error: ") && row.says.test(lines[0].slice(7)), lines[0]);
      }
      if (before !== null) strictEqual(await fileDigest(`${dir.path}/${dbFile}`), before, "database bytes unchanged");
      if (row.noNewFiles) strictEqual(listing(), filesBefore, "no file created or removed beside it");
    },
  });
}
