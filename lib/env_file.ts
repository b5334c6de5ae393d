/**
 * A small `.env` reader of our own. node:util's parseEnv names no line and skips what it cannot
 * read (a junk line, an unclosed quote, a binary file), so a typo silently drops a setting; it
 * also does not exist before Deno 2.7. This reader accepts the usual dotenv syntax and refuses
 * anything else with the file and line (a `ParseError`, exit 2), never echoing the line itself,
 * which may hold a secret.
 *
 * Accepted, one setting per line: `NAME=value`, optionally after `export `, with spaces around
 * `=`; a value unquoted (trimmed; ` #` starts a comment), in single quotes (taken as written), in
 * double quotes (`\n`, `\t`, `\"` and `\\` escapes; may span lines), or in backquotes (as
 * written; may span lines). Blank lines and `#` comments are skipped. A name set twice keeps its
 * last value.
 */
import { ParseError } from "./errors.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Index of the first character no text file has (NUL, another control character, a U+FFFD from bad UTF-8), or -1. */
function firstBinaryIndex(text: string): number {
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  return text.search(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFD]/);
}

const lineAt = (text: string, index: number) => text.slice(0, index).split("\n").length;

/**
 * Parses the text of an env file named `file` (for messages). Throws `ParseError` naming the
 * file and the 1-based line of the first problem.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert/strict";
 * const text = 'export STRAVA_CLIENT_ID=12345 # the app\nSTRAVA_CLIENT_SECRET="s3cret"\n';
 * deepStrictEqual(parseEnvFile(text, ".env"), { STRAVA_CLIENT_ID: "12345", STRAVA_CLIENT_SECRET: "s3cret" });
 * throws(() => parseEnvFile("STRAVA_CLIENT_ID=1\nnot a setting\n", ".env"), /^ParseError: \.env line 2: /);
 * ```
 */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const fail = (line: number, reason: string): never => {
    throw new ParseError(line, `${file} line ${line}: ${reason}`);
  };
  const binary = firstBinaryIndex(text);
  if (binary >= 0) fail(lineAt(text, binary), "not a text file (a control character or a byte that is not UTF-8)");
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const out: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const name = (eq < 0 ? "" : line.slice(0, eq)).replace(/^export\s+/, "").trim();
    if (eq < 0 || !NAME.test(name)) {
      fail(number, "expected NAME=value (a setting, a # comment, or a blank line)");
    }
    let rest = line.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote !== '"' && quote !== "'" && quote !== "`") {
      out[name] = rest.replace(/(^|\s)#.*$/, "").trim();
      continue;
    }
    // A quoted value runs to the matching quote, on this line or (double and back quotes) a later one.
    let value = "";
    rest = rest.slice(1);
    let j = i;
    for (;;) {
      const end = findClosingQuote(rest, quote);
      if (end >= 0) {
        value += rest.slice(0, end);
        rest = rest.slice(end + 1).trim();
        break;
      }
      if (quote === "'" || j + 1 >= lines.length) fail(number, `the quoted value of ${name} is never closed`);
      value += rest + "\n";
      rest = lines[++j];
    }
    if (rest !== "" && !rest.startsWith("#")) fail(j + 1, `unexpected text after the closing quote of ${name}`);
    out[name] = quote === '"' ? unescape(value) : value;
    i = j;
  }
  return out;
}

/** Index of the quote that closes a value in `s`, skipping backslash escapes in double quotes. */
function findClosingQuote(s: string, quote: string): number {
  for (let k = 0; k < s.length; k++) {
    if (quote === '"' && s[k] === "\\") k++;
    else if (s[k] === quote) return k;
  }
  return -1;
}

function unescape(value: string): string {
  return value.replace(
    /\\([nrt"\\])/g,
    (_, c: string) => ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[c] ?? c,
  );
}
