import { deepStrictEqual, throws } from "node:assert/strict";
import { parse as csvParseSync } from "csv-parse/sync";
import { CsvParser, type CsvRecord, CsvSyntaxError } from "../lib/archive/csv_parser.ts";
import { generateActivitiesCsv, sampleActivities } from "../lib/testing/archive_gen.ts";

function parseAll(text: string, chunk: number): CsvRecord[] {
  const parser = new CsvParser();
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += chunk) parser.push(text.slice(i, i + chunk), out);
  parser.end(out);
  return out;
}

Deno.test("CsvParser: quoted commas, doubled quotes, line breaks, CRLF, blank lines, start lines", () => {
  const text = 'a,b,c\r\n1,"x, y","say ""hi"""\n\n2,"multi\nline\r\nfield",\n3,"",z';
  for (const chunk of [1, 2, 3, 5, 1000]) {
    const records = parseAll(text, chunk);
    deepStrictEqual(records, [
      { fields: ["a", "b", "c"], line: 1 },
      { fields: ["1", "x, y", 'say "hi"'], line: 2 },
      { fields: ["2", "multi\nline\r\nfield", ""], line: 4 },
      { fields: ["3", "", "z"], line: 7 },
    ], `chunk ${chunk}`);
  }
});

Deno.test("CsvParser: an unclosed quote or a character after a closing quote is a syntax error with its line", () => {
  throws(() => parseAll('a,b\n1,"never closed\n2,3\n', 4), (e) => e instanceof CsvSyntaxError && e.line === 2);
  throws(() => parseAll('a,b\n1,2\n3,"x"y\n', 4), (e) => e instanceof CsvSyntaxError && e.line === 3);
});

for (const version of [2025, 2026] as const) {
  Deno.test(`CsvParser: agrees with csv-parse on a generated ${version} export, in any chunking`, () => {
    const text = generateActivitiesCsv(sampleActivities(300, { seed: version }), {
      headerVersion: version,
      newline: version === 2026 ? "\r\n" : "\n",
    });
    const expected = csvParseSync(text, { relax_column_count: true });
    for (const chunk of [7, 4096, text.length]) {
      deepStrictEqual(parseAll(text, chunk).map((r) => r.fields), expected, `chunk ${chunk}`);
    }
  });
}
