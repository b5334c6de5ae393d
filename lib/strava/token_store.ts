/**
 * Where token pairs live, and the one lock that guards them: the database `tokens` table,
 * `tokens.json` (written atomically, mode 0600, never through a symlink out of the folder) and
 * the OS file lock on `tokens.json.lock` under which a refresh token is traded in and stored.
 *
 * Nothing here logs or formats a token; error messages name files and tables only.
 */
import { assertWriteTarget, warnIfShared, writeFileAtomic } from "../files.ts";
import { type Database, prepareExact, tableExists, transaction } from "../store/db.ts";
import { InterruptedError, UsageError } from "../errors.ts";

/** Default `--tokens` path. */
export const DEFAULT_TOKENS_PATH = "tokens.json";

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

/** Every pair the three sources hold, best first, and the reason tokens.json was skipped, if it was. */
interface Candidates {
  candidates: TokenCandidate[];
  /** tokens.json exists but holds no pair (empty, not JSON, no refresh_token). */
  invalidFile: TokensFileInvalid | null;
}

/**
 * Reads the three sources docs/contract.md names: the database `tokens` table (when there is a
 * database), tokens.json and STRAVA_REFRESH_TOKEN (`envRefreshToken`), ranked by `rankCandidates`.
 */
export function readCandidates(
  db: Database | undefined,
  tokensPath: string,
  envRefreshToken: string | undefined,
): Candidates {
  const candidates = db ? readDatabaseTokens(db) : [];
  let invalidFile: TokensFileInvalid | null = null;
  try {
    const file = readTokensFile(tokensPath);
    if (file) candidates.push(file);
  } catch (err) {
    if (!(err instanceof TokensFileInvalid)) throw err;
    invalidFile = err;
  }
  if (envRefreshToken) {
    candidates.push({
      source: "STRAVA_REFRESH_TOKEN",
      athleteId: null,
      accessToken: null,
      refreshToken: envRefreshToken,
      expiresAt: null,
      scope: null,
      updatedAt: null,
      issuedAt: null,
    });
  }
  return { candidates: rankCandidates(candidates), invalidFile };
}

/**
 * Writes `tokens` to the database (when there is one; `replaces` as in `saveDatabaseTokens`) and
 * tokens.json, each attempted whatever the other did. Returns what failed, one "where: why" each.
 */
export function savePair(
  db: Database | undefined,
  tokensPath: string,
  tokens: StoredTokens,
  replaces?: string,
): string[] {
  const failures: string[] = [];
  if (db) {
    try {
      saveDatabaseTokens(db, tokens, replaces);
    } catch (err) {
      failures.push(`the database: ${(err as Error).message}`);
    }
  }
  try {
    writeTokensFile(tokensPath, tokens);
  } catch (err) {
    failures.push(`${tokensPath}: ${(err as Error).message}`);
  }
  return failures;
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
    if (info.isDirectory) throw tokensFileIsDirectory(path);
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
class TokensFileInvalid extends UsageError {
  /** `problem`: what is wrong with the file ("is empty", "is not valid JSON", ...). */
  constructor(readonly path: string, readonly problem: string) {
    super(`${path} ${problem}; delete it and run setup_auth.ts again`);
  }
}

function tokensFileIsDirectory(path: string): UsageError {
  return new UsageError(`tokens file ${path} is a directory`);
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
    if (err instanceof Deno.errors.IsADirectory) throw tokensFileIsDirectory(path);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The token lock

/** How a caller waits for the token lock. */
interface LockWait {
  /** How long to wait for another holder (one that dies frees the lock at once; one that hangs does not). */
  waitMs: number;
  pollMs: number;
  sleep: (ms: number) => Promise<void>;
  /** SIGINT/SIGTERM: ends the wait with an InterruptedError. */
  signal?: AbortSignal;
}

/** The token lock after the wait: held, or why not (the caller decides whether to go on without it). */
interface TokenLock {
  /** Null while held; else "unavailable" (the lock file cannot be created) or "busy" (held past the wait). */
  readonly notHeld: { reason: "unavailable" | "busy"; detail: string } | null;
  /** Releases the lock (if held) and closes the lock file. Idempotent. */
  release(): void;
}

/**
 * Takes the one token lock: an exclusive OS lock (flock) on `<tokensPath>.lock`, held while a
 * refresh token is traded in and the new pair stored, and while --revoke revokes and removes.
 * Every process sharing one tokens.json sees it, whatever database it works on, and the OS drops
 * it when its holder dies, so no lease is needed. Not tokens.json itself: each write renames a
 * new file over it, and a lock on the old file would guard nothing. The lock file stays (empty,
 * 0600): removing it could let two processes lock two different files. A lock file that is a
 * symlink out of the folder is refused (UsageError, lib/write_target.ts).
 */
export async function lockTokens(tokensPath: string, wait: LockWait): Promise<TokenLock> {
  const path = `${tokensPath}.lock`;
  assertWriteTarget(path);
  let file: Deno.FsFile | null;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (err) {
    // A read-only folder, no write permission there: the caller goes on or gives up.
    return { notHeld: { reason: "unavailable", detail: (err as Error).message }, release() {} };
  }
  const release = () => {
    file?.close();
    file = null;
  };
  // Counted in polls, not read off a clock, so a frozen test clock cannot wait forever.
  const polls = Math.ceil(wait.waitMs / wait.pollMs);
  for (let i = 0;; i++) {
    if (wait.signal?.aborted) {
      release();
      throw new InterruptedError();
    }
    // Also exclusive between two opens in one process (flock is per open file).
    if (file!.tryLockSync(true)) return { notHeld: null, release };
    if (i === polls) break;
    await wait.sleep(wait.pollMs);
  }
  release();
  return { notHeld: { reason: "busy", detail: `${path} was not released within ${wait.waitMs / 1000} s` }, release };
}
