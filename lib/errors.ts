/**
 * Typed errors. Each maps to one exit code of docs/contract.md, so every script reports
 * failures the same way through `runMain` in `lib/cli.ts`.
 */

/** Bad usage or bad input (unknown flag, bad value, unreadable file, not a database): exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode = 2;
}

/** Authentication problems (no token, refresh rejected, missing client id/secret or scope): exit 3. */
export class AuthError extends Error {
  override name = "AuthError";
  readonly exitCode = 3;
}

/** A failure at run time (network down after retries, database error): exit 1. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
  readonly exitCode = 1;
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

/** The exit code docs/contract.md assigns to an error of any kind. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof AuthError) return 3;
  // Deno refusing a path or host outside the baked-in permissions is a usage problem:
  // the user pointed the tool somewhere it is not allowed to go.
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) return 2;
  return 1;
}
