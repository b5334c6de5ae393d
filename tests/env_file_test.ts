import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { parseEnvFile } from "../lib/env_file.ts";
import { ParseError } from "../lib/errors.ts";

Deno.test("env file: the usual dotenv syntax", () => {
  const text = [
    "\uFEFF# Strava app settings",
    "",
    "STRAVA_CLIENT_ID=12345",
    "export STRAVA_CLIENT_SECRET = abc123  # from the API settings page",
    "STRAVA_API_URL='http://127.0.0.1:9/api/v3'",
    'QUOTED="a \\"b\\" c\\nd" # comment',
    "HASH=pass#word",
    "EMPTY=",
    'MULTI="line one',
    'line two"',
    "BACK=`x 'y' \"z\"`",
    "\tINDENTED=yes\r",
    "STRAVA_CLIENT_ID=67890",
  ].join("\n");
  deepStrictEqual(parseEnvFile(text, ".env"), {
    STRAVA_CLIENT_ID: "67890",
    STRAVA_CLIENT_SECRET: "abc123",
    STRAVA_API_URL: "http://127.0.0.1:9/api/v3",
    QUOTED: 'a "b" c\nd',
    HASH: "pass#word",
    EMPTY: "",
    MULTI: "line one\nline two",
    BACK: `x 'y' "z"`,
    INDENTED: "yes",
  });
});

Deno.test("env file: junk, an unclosed quote or binary is refused with file and line, never the line's text", () => {
  const cases: [string, number, RegExp][] = [
    ["A=1\nthis is not a setting sk_live_secret\n", 2, /^cfg\/.env line 2: expected NAME=value/],
    ["A=1\n=novalue\n", 2, /line 2: expected NAME=value/],
    ["A=1\n1BAD=x\n", 2, /line 2: expected NAME=value/],
    ["A=1\nB='open\nC=3\n", 2, /line 2: the quoted value of B is never closed/],
    ['A=1\nB="open\nC=3\n', 2, /line 2: the quoted value of B is never closed/],
    ['A="x" y\n', 1, /line 1: unexpected text after the closing quote of A/],
    ["A=1\nB=2\u0000\u0001\u0002", 2, /line 2: not a text file/],
    ["A=1\n\nB=caf\uFFFD\n", 3, /line 3: not a text file/],
  ];
  for (const [text, line, message] of cases) {
    throws(() => parseEnvFile(text, "cfg/.env"), (err: unknown) => {
      ok(err instanceof ParseError && err instanceof SyntaxError, String(err));
      strictEqual(err.exitCode, 2);
      strictEqual(err.line, line, err.message);
      ok(message.test(err.message), err.message);
      ok(!err.message.includes("sk_live_secret"), "the line's text is not echoed");
      return true;
    });
  }
});
