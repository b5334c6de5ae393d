/**
 * Where token pairs live: the database `tokens` table and `tokens.json` (written atomically,
 * mode 0600), plus the two refresh locks that keep two processes from rotating the same
 * refresh token at once: a lock row in the database, and an OS file lock on `tokens.json.lock`
 * for processes on different databases that share one tokens.json.
 *
 * Nothing here logs or formats a token; error messages name files and tables only.
 */
import { assertWriteTarget, warnIfShared, writeFileAtomic } from "../files.ts";
import { type Database, prepareExact, tableExists, transaction } from "../store/db.ts";
import { UsageError } from "../errors.ts";

/** Default `--tokens` path. */
export const DEFAULT_TOKENS_PATH = "tokens.json";

/** Name of the lock table (migration 2 in lib/store/schema.ts). */
const LOCK_TABLE = "token_refresh_lock";

/** One stored token pair. */
export interface StoredTokens {
  /** The athlete, when known (the refresh answer does not say; 0 and null mean unknown). */
  athleteId: bigint | null;
  accessToken: string | null;
  refreshToken: string;
  /** Access token expiry, Unix seconds. */
  expiresAt: number | null;
  /** Comma-separated scopes granted, when known. */
  scope: string | null;
  /** When the pair was stored (= issued), ISO-8601 UTC. */
  updatedAt: string | null;
}

/** Where a candidate refresh token came from. */
type TokenSource = "database" | "tokens.json" | "STRAVA_REFRESH_TOKEN";

/** A stored pair with its source and issue time, for ranking. */
export interface TokenCandidate extends StoredTokens {
  source: TokenSource;
  /** Issue time in ms: `updated_at`, else the file's mtime (tokens.json), else null. */
  issuedAt: number | null;
}

/**
 * Reads a time written by this tool (ISO-8601) or by others (SQLite's `YYYY-MM-DD HH:MM:SS`,
 * Unix seconds or ms) as ms; null when absent or unreadable.
 */
export function parseStoredTime(value: unknown): number | null {
  if (typeof value === "bigint") value = Number(value);
  if (typeof value === "number") return Number.isFinite(value) ? (value > 1e11 ? value : value * 1000) : null;
  if (typeof value !== "string") return null;
  let s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return parseStoredTime(Number(s));
  // SQLite's datetime('now') has neither T nor zone and is UTC.
  if (/^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(s)) s = `${s.replace(" ", "T")}Z`;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}

function toNumber(value: unknown): number | null {
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
}

function toBigInt(value: unknown): bigint | null {
  if (typeof value === "bigint") return value === 0n ? null : value;
  if (typeof value === "number" && Number.isInteger(value)) return value === 0 ? null : BigInt(value);
  if (typeof value === "string" && /^\d+$/.test(value.trim())) return toBigInt(BigInt(value.trim()));
  return null;
}

function toText(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Orders candidates most recently issued first: issue time, then expiry, then database > file > environment. */
export function rankCandidates(candidates: TokenCandidate[]): TokenCandidate[] {
  const order: TokenSource[] = ["database", "tokens.json", "STRAVA_REFRESH_TOKEN"];
  return [...candidates].sort((a, b) =>
    (b.issuedAt ?? -Infinity) - (a.issuedAt ?? -Infinity) ||
    (b.expiresAt ?? -Infinity) - (a.expiresAt ?? -Infinity) ||
    order.indexOf(a.source) - order.indexOf(b.source)
  );
}

// ---------------------------------------------------------------------------------------------
// Database

/** Every token pair of the `tokens` table that has a refresh token (none when the table is missing). */
export function readDatabaseTokens(db: Database): TokenCandidate[] {
  if (!tableExists(db, "tokens")) return [];
  const rows = prepareExact(
    db,
    `SELECT athlete_id, access_token, refresh_token, expires_at, scope, updated_at FROM tokens
     WHERE refresh_token IS NOT NULL AND TRIM(refresh_token) <> ''`,
  ).all() as Record<string, unknown>[];
  return rows.map((row) => ({
    source: "database" as const,
    athleteId: toBigInt(row.athlete_id),
    accessToken: toText(row.access_token),
    refreshToken: String(row.refresh_token).trim(),
    expiresAt: toNumber(row.expires_at),
    scope: toText(row.scope),
    updatedAt: toText(row.updated_at),
    issuedAt: parseStoredTime(row.updated_at),
  }));
}

/**
 * Stores `tokens` as the athlete's one row, in one transaction. Rows it supersedes go: the same
 * athlete's, the row holding `replaces` (the refresh token just traded in, now dead), and rows of
 * an unknown athlete (written before the athlete was known). The athlete id, when the answer did
 * not carry one, is taken over from the row of `replaces`; still unknown, it is stored as 0.
 */
export function saveDatabaseTokens(db: Database, tokens: StoredTokens, replaces?: string): void {
  transaction(db, () => {
    let athleteId = tokens.athleteId;
    if (athleteId === null && replaces !== undefined) {
      const row = prepareExact(db, `SELECT athlete_id FROM tokens WHERE refresh_token = ? AND athlete_id <> 0`)
        .get(replaces) as { athlete_id: bigint | null } | undefined;
      athleteId = row?.athlete_id ?? null;
    }
    const id = athleteId ?? 0n;
    db.prepare(
      `DELETE FROM tokens WHERE athlete_id = ? OR athlete_id IS NULL OR athlete_id = 0 OR refresh_token = ?`,
    ).run(id, replaces ?? tokens.refreshToken);
    db.prepare(
      `INSERT INTO tokens (athlete_id, access_token, refresh_token, expires_at, scope, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(id, tokens.accessToken, tokens.refreshToken, tokens.expiresAt, tokens.scope, tokens.updatedAt);
  });
}

// ---------------------------------------------------------------------------------------------
// tokens.json

/**
 * Reads tokens.json: this tool's format (the `tokens` columns) or a raw Strava token answer
 * (`athlete.id`). Null when the file does not exist; a UsageError when it is unreadable or not
 * token data, naming the file only.
 */
export function readTokensFile(path: string): TokenCandidate | null {
  let text: string;
  let mtime: Date | null = null;
  try {
    const info = Deno.statSync(path);
    if (info.isDirectory) throw new UsageError(`tokens file ${path} is a directory`);
    warnIfShared(path, "your Strava tokens", { info });
    mtime = info.mtime;
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof Deno.errors.PermissionDenied) throw new UsageError(`cannot read ${path}: permission denied`);
    throw err;
  }
  if (text.trim() === "") throw new TokensFileInvalid(path, "is empty");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new TokensFileInvalid(path, "is not valid JSON");
  }
  const obj = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const refreshToken = toText(obj.refresh_token);
  if (refreshToken === null) throw new TokensFileInvalid(path, "holds no refresh_token");
  const athlete = obj.athlete as Record<string, unknown> | undefined;
  const updatedAt = toText(obj.updated_at);
  return {
    source: "tokens.json",
    athleteId: toBigInt(obj.athlete_id) ?? toBigInt(athlete?.id),
    accessToken: toText(obj.access_token),
    refreshToken,
    expiresAt: toNumber(obj.expires_at),
    scope: toText(obj.scope),
    updatedAt,
    issuedAt: parseStoredTime(updatedAt) ?? mtime?.getTime() ?? null,
  };
}

/**
 * tokens.json exists but holds no usable pair (empty, not JSON, no refresh_token). A usage
 * error when nothing else holds a pair; the token provider falls back to the database's pair.
 */
export class TokensFileInvalid extends UsageError {
  /** `problem`: what is wrong with the file ("is empty", "is not valid JSON", ...). */
  constructor(readonly path: string, readonly problem: string) {
    super(`${path} ${problem}; delete it and run setup_auth.ts again`);
  }
}

/** The JSON text of tokens.json (athlete ids above 2^53 are written as strings, never rounded). */
function tokensFileText(tokens: StoredTokens): string {
  const id = tokens.athleteId;
  const athleteId = id === null ? null : id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id.toString();
  return JSON.stringify(
    {
      athlete_id: athleteId,
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      expires_at: tokens.expiresAt,
      scope: tokens.scope,
      updated_at: tokens.updatedAt,
    },
    null,
    2,
  ) + "\n";
}

/**
 * Writes tokens.json atomically: a temp file in the same folder (created with mode 0600,
 * synced), then a rename over the old file, so a reader sees the old pair or the new one,
 * never half of either, and the file is never readable by others, even for a moment.
 */
export function writeTokensFile(path: string, tokens: StoredTokens): void {
  try {
    writeFileAtomic(path, tokensFileText(tokens), { mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.IsADirectory) throw new UsageError(`tokens file ${path} is a directory`);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Refresh lock

/** Result of `tryLockRefresh`. */
type LockAttempt = { acquired: true } | { acquired: false; heldUntil: number };

/** Whether the database has the lock table (migration 2). */
export function hasRefreshLock(db: Database): boolean {
  return tableExists(db, LOCK_TABLE);
}

/**
 * Takes the refresh lock for `owner` until `now + leaseMs` unless another owner holds an
 * unexpired lease. A short transaction, not one held across the HTTP refresh, so other writers
 * (even in the same process, whose SQLite calls block the event loop) are never stalled.
 */
export function tryLockRefresh(db: Database, owner: string, now: number, leaseMs: number): LockAttempt {
  return transaction(db, () => {
    const row = prepareExact(db, `SELECT owner, expires_at FROM ${LOCK_TABLE} WHERE name = 'refresh'`).get() as
      | { owner: string; expires_at: bigint }
      | undefined;
    if (row && row.owner !== owner && Number(row.expires_at) > now) {
      return { acquired: false, heldUntil: Number(row.expires_at) };
    }
    db.prepare(
      `INSERT INTO ${LOCK_TABLE} (name, owner, expires_at) VALUES ('refresh', ?, ?)
       ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
    ).run(owner, now + leaseMs);
    return { acquired: true };
  });
}

/** Releases the refresh lock if `owner` still holds it. */
export function unlockRefresh(db: Database, owner: string): void {
  db.prepare(`DELETE FROM ${LOCK_TABLE} WHERE name = 'refresh' AND owner = ?`).run(owner);
}

// ---------------------------------------------------------------------------------------------
// Lock on the shared tokens.json

/**
 * An exclusive OS lock (flock) on `<tokens path>.lock`, the file every process sharing one
 * tokens.json can see, whatever database it works on. Not tokens.json itself: each write
 * renames a new file over it, and a lock on the old file would guard nothing. The lock file
 * stays (empty, 0600): removing it could let two processes lock two different files. The OS
 * drops the lock when its holder dies, so no lease is needed.
 */
export class TokensFileLock {
  #file: Deno.FsFile | null = null;

  private constructor(readonly path: string) {}

  /**
   * Opens (creating) the lock file of `tokensPath`. Throws the OS error when it cannot be (a
   * read-only folder, no write permission there); the caller then relies on the database lock.
   */
  static open(tokensPath: string): TokensFileLock {
    const lock = new TokensFileLock(`${tokensPath}.lock`);
    assertWriteTarget(lock.path);
    lock.#file = Deno.openSync(lock.path, { read: true, write: true, create: true, mode: 0o600 });
    return lock;
  }

  /** Takes the lock if no other holder has it (another process, or another open in this one). */
  tryAcquire(): boolean {
    return this.#file?.tryLockSync(true) ?? false;
  }

  /** Releases the lock (if held) and closes the file. Idempotent. */
  close(): void {
    const file = this.#file;
    this.#file = null;
    file?.close();
  }
}
