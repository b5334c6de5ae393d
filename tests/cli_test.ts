import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type FlagTable, HELP_WIDTH, nearestFlag, optionsHelp, parseFlags } from "../lib/flags.ts";
import { printedInfo, runMain } from "../lib/cli.ts";
import { AuthError, exitCodeOf, ParseError, RuntimeError, UsageError } from "../lib/errors.ts";
import { CsvSyntaxError } from "../lib/archive/csv_parser.ts";
import { StravaError } from "../lib/strava/client.ts";
import { VERSION } from "../lib/version.ts";

const TABLE = {
  mode: { kind: "choice", arg: "MODE", choices: ["a", "b"], default: "a", help: "mode" },
  activities: { kind: "integer", arg: "N", default: 50, min: 1, help: "batch" },
  port: { kind: "integer", arg: "N", default: 80, min: 0, max: 65535, help: "port" },
  "rate-buffer": { kind: "number", arg: "F", default: 0.9, above: 0, max: 1, help: "buffer" },
  db: { kind: "string", arg: "PATH", default: "x.db", help: "database" },
  code: { kind: "string", arg: "CODE", help: ["a code", "second line"] },
  json: { kind: "boolean", help: "json" },
} as const satisfies FlagTable;

const usage = (args: string[]) => {
  try {
    parseFlags(args, TABLE);
  } catch (err) {
    ok(err instanceof UsageError, String(err));
    return err.message;
  }
  throw new Error(`no error for ${args.join(" ")}`);
};

Deno.test("parseFlags: typed values with the table's defaults, and which flags were given", () => {
  const { values, given } = parseFlags(["--activities", "7", "--rate-buffer=0.5", "--json"], TABLE);
  strictEqual(values.activities, 7);
  strictEqual(values["rate-buffer"], 0.5);
  strictEqual(values.json, true);
  strictEqual(values.mode, "a");
  strictEqual(values.port, 80);
  strictEqual(values.db, "x.db");
  strictEqual(values.code, undefined);
  strictEqual(values.verbose, false);
  deepStrictEqual([...given].sort(), ["activities", "json", "rate-buffer"]);
});

Deno.test("parseFlags: a negative number gets the same one line whether written --flag -1 or --flag=-1", () => {
  for (
    const [flag, value, message] of [
      ["activities", "-1", "--activities must be a whole number ≥ 1, got -1"],
      ["port", "-3", "--port must be a whole number from 0 to 65535, got -3"],
      ["rate-buffer", "-1", "--rate-buffer must be a number above 0 and at most 1, got -1"],
      ["rate-buffer", "-.5", "--rate-buffer must be a number above 0 and at most 1, got -.5"],
    ]
  ) {
    strictEqual(usage([`--${flag}`, value]), message);
    strictEqual(usage([`--${flag}=${value}`]), message);
  }
});

Deno.test("parseFlags: every bad input is one line naming the flag", () => {
  strictEqual(usage(["--activites", "3"]), "unknown option --activites; did you mean --activities?");
  strictEqual(usage(["--rate-bufer=1"]), "unknown option --rate-bufer; did you mean --rate-buffer?");
  strictEqual(usage(["--frobnicate"]), "unknown option --frobnicate (see --help)");
  strictEqual(usage(["-x"]), "unknown option -x (see --help)");
  strictEqual(usage(["--activities", "1.5"]), "--activities must be a whole number ≥ 1, got 1.5");
  strictEqual(usage(["--activities", "ten"]), "--activities must be a whole number ≥ 1, got 'ten'");
  strictEqual(usage(["--activities", "0"]), "--activities must be a whole number ≥ 1, got 0");
  strictEqual(usage(["--port", "70000"]), "--port must be a whole number from 0 to 65535, got 70000");
  strictEqual(usage(["--mode", "c"]), "--mode must be one of a, b, got 'c'");
  strictEqual(usage(["--db"]), "--db needs a value (see --help)");
  strictEqual(
    usage(["--db", "--json"]),
    "--db needs a value, got the option --json; to pass a value starting with '-', write --db=VALUE",
  );
  strictEqual(usage(["--json=yes"]), "--json takes no value (see --help)");
  strictEqual(usage(["extra"]), "unexpected argument 'extra' (see --help)");
  for (const args of [["--activites"], ["--activities", "-1"], ["--db", "--json"]]) {
    ok(!usage(args).includes("\n"), args.join(" "));
  }
});

Deno.test("parseFlags: a path may start with '-' when written --db=-x; positionals only when allowed", () => {
  strictEqual(parseFlags(["--db=-x.db"], TABLE).values.db, "-x.db");
  deepStrictEqual(parseFlags(["in.zip"], TABLE, { positionals: 1 }).positionals, ["in.zip"]);
  strictEqual(usage(["a", "b"]), "unexpected argument 'a' (see --help)");
});

Deno.test("parseFlags: --help and --version win over a bad value", () => {
  strictEqual(parseFlags(["--activities", "0", "--help"], TABLE).values.help, true);
  strictEqual(parseFlags(["--version", "--mode", "zz"], TABLE).values.version, true);
});

Deno.test("nearestFlag: suggests only a plausible typo", () => {
  const known = ["activities", "segments", "interval", "max-runs", "log-file"];
  strictEqual(nearestFlag("activites", known), "activities");
  strictEqual(nearestFlag("segment", known), "segments");
  strictEqual(nearestFlag("logfile", known), "log-file");
  strictEqual(nearestFlag("zzz", known), undefined);
});

Deno.test("optionsHelp: one aligned line per flag, defaults and ranges from the table, common flags last", () => {
  const lines = optionsHelp(TABLE).split("\n");
  deepStrictEqual(lines, [
    "  --mode MODE      mode (default: a)",
    "  --activities N   batch (default: 50, at least 1)",
    "  --port N         port (default: 80, 0 to 65535)",
    "  --rate-buffer F  buffer (default: 0.9, above 0, at most 1)",
    "  --db PATH        database (default: x.db)",
    "  --code CODE      a code",
    "                   second line",
    "  --json           json",
    "  -v, --verbose    show stack traces on errors",
    "  --version        print the version and exit",
    "  -h, --help       show this help",
  ]);
});

Deno.test("optionsHelp: a default never lands mid-sentence, and no line passes HELP_WIDTH", () => {
  const long = "x".repeat(60);
  const lines = optionsHelp({
    every: { kind: "integer", arg: "HOURS", default: 24, min: 0, help: [`${long} (as in`, "refresh); 0 = never"] },
    after: { kind: "integer", arg: "DAYS", default: 30, min: 0, help: `${long} again (0 = all)` },
  }).split("\n");
  deepStrictEqual(lines.slice(0, 4), [
    `  --every HOURS  ${long} (as in`,
    "                 refresh); 0 = never (default: 24, at least 0)",
    `  --after DAYS   ${long} again (0 = all)`,
    "                 (default: 30, at least 0)",
  ]);
  for (const line of lines) ok(line.length <= HELP_WIDTH, line);
});

Deno.test("printedInfo: --help prints the help, --version the version; otherwise nothing", () => {
  const out: string[] = [];
  strictEqual(printedInfo({ help: true, version: false }, "HELP", (t) => out.push(t)), true);
  strictEqual(printedInfo({ help: false, version: true }, "HELP", (t) => out.push(t)), true);
  strictEqual(printedInfo({ help: false, version: false }, "HELP", (t) => out.push(t)), false);
  strictEqual(out[0], "HELP");
  ok(out[1].startsWith(`strava-backfill ${VERSION} (Deno `), out[1]);
  strictEqual(out.length, 2);
});

Deno.test("errors carry their exit code; runMain reads it from the error", async () => {
  strictEqual(new UsageError("x").exitCode, 2);
  strictEqual(new AuthError("x").exitCode, 3);
  strictEqual(new RuntimeError("x").exitCode, 1);
  strictEqual(exitCodeOf(new StravaError("x", { status: 500 })), 1);
  strictEqual(exitCodeOf(new ParseError(3, "x")), 2);
  ok(new ParseError(3, "x") instanceof SyntaxError);
  ok(new CsvSyntaxError(3, "x") instanceof SyntaxError);
  strictEqual(exitCodeOf(new Deno.errors.NotCapable("no")), 2);
  strictEqual(exitCodeOf(new TypeError("boom")), 1);
  strictEqual(exitCodeOf("a string"), 1);
  // A class the exit path never heard of still exits with the code it carries.
  class Custom extends Error {
    readonly exitCode = 7;
  }
  const lines: string[] = [];
  const code = await runMain(
    () => {
      throw new Custom("custom failure");
    },
    [],
    { error: (line) => lines.push(line) },
  );
  strictEqual(code, 7);
  deepStrictEqual(lines, ["error: custom failure"]);
});
