/**
 * Typed errors. Each carries the exit code docs/contract.md assigns to it (`exitCode`), and the
 * one exit path (`runMain` in lib/cli.ts) reads that code from the error instead of mapping
 * classes a second time.
 */

/** Bad usage or bad input (unknown flag, bad value, unreadable file, not a database): exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode: number = 2;
}

/** Authentication problems (no token, refresh rejected, missing client id/secret or scope): exit 3. */
export class AuthError extends Error {
  override name = "AuthError";
  readonly exitCode: number = 3;
}

/** A failure at run time (network down after retries, database error): exit 1. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
  readonly exitCode: number = 1;
}

/**
 * The run was stopped by SIGINT/SIGTERM (an aborted request, back-off or token refresh). Not a
 * failure: the engine turns it into a clean stop (exit 0, state `interrupted`), and no record is
 * charged for it.
 */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(message = "stopped on signal") {
    super(message);
  }
}

/**
 * Input that does not parse (a `.env` line, a CSV record): bad input, so exit 2. It is a
 * `SyntaxError`, as the runtime's own parse errors are; `line` is 1-based.
 */
export class ParseError extends SyntaxError {
  override name = "ParseError";
  readonly exitCode: number = 2;
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

/**
 * Whether `err` says the disk is full: SQLite's SQLITE_FULL (13), or the OS's ENOSPC.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(isDiskFull(new Error("database or disk is full")), true);
 * strictEqual(isDiskFull(new Error("No space left on device (os error 28)")), true);
 * strictEqual(isDiskFull(new Error("disk I/O error")), false);
 * ```
 */
export function isDiskFull(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { errcode, code } = err as { errcode?: number; code?: string };
  return (errcode !== undefined && (errcode & 0xff) === 13) || code === "ENOSPC" ||
    /database or disk is full|No space left on device|os error 28\b/.test(err.message);
}

/** A write found the disk full (exit 1); the message names the file. */
export class DiskFullError extends RuntimeError {
  override name = "DiskFullError";
}

/**
 * The one line for a write that found the disk full; names the file and keeps the original as its cause.
 *
 * @example
 * ```ts
 * import { ok, strictEqual } from "node:assert/strict";
 * const err = diskFullError("data/segments.db", new Error("database or disk is full"));
 * ok(err.message.startsWith("the disk holding data/segments.db is full"));
 * strictEqual(exitCodeOf(err), 1);
 * ```
 */
export function diskFullError(path: string, cause?: unknown): DiskFullError {
  return new DiskFullError(
    `the disk holding ${path} is full; nothing more could be stored there (what was stored before is kept); ` +
      `free some space, then run again`,
    { cause },
  );
}

/**
 * The exit code of an error: its own `exitCode`, 2 for a refused permission, else 1.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * strictEqual(exitCodeOf(new UsageError("unknown option --dbb; did you mean --db?")), 2);
 * strictEqual(exitCodeOf(new AuthError("No refresh token found. Please authenticate with Strava first.")), 3);
 * strictEqual(exitCodeOf(new Error("disk I/O error")), 1);
 * ```
 */
export function exitCodeOf(err: unknown): number {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  if (err instanceof Error && typeof code === "number" && Number.isInteger(code)) return code;
  // Deno refusing a path or host outside the baked-in permissions is a usage problem:
  // the user pointed the tool somewhere it is not allowed to go.
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) return 2;
  return 1;
}
