/**
 * A streaming RFC 4180 CSV parser, tuned for Strava's bulk-export `activities.csv` (tens of
 * thousands of rows, a hundred columns, multi-line quoted descriptions).
 */

/** One CSV record and the line it starts on (1-based; quoted newlines count). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** A record longer than this is a quote that never closes, or not an export at all. */
const MAX_RECORD_CHARS = 16 * 1024 * 1024;

/**
 * An incremental RFC 4180 parser: quoted fields with commas, doubled quotes and line breaks;
 * LF or CRLF records; blank lines skipped. Text goes in by `push` in any chunking; complete
 * records come out with the line each starts on.
 *
 * Why not csv-parse: on the 50,000-row, 103-column export of bench/import_bench.ts (21 MB), csv-parse
 * alone took 0.7-0.85 s (its streaming API 1.3 s), as long as sqlite3's whole `.import` of the file,
 * where the import must stay within 2x of that; this parser takes 0.13-0.25 s. tests/csv_parser_test.ts
 * checks it against csv-parse record for record on generated exports cut into odd-sized chunks.
 */
export class CsvParser {
  private buf = "";
  private line = 1;
  private width = 0;
  // Re-scanning an unfinished record on every chunk would be quadratic on a long one, so
  // wait until the buffer has doubled.
  private retryAt = 0;

  /** Adds text; appends the records it completes to `out`. Throws `CsvSyntaxError`. */
  push(text: string, out: CsvRecord[]): void {
    this.buf = this.buf.length === 0 ? text : this.buf + text;
    if (this.buf.length < this.retryAt) return;
    this.parse(false, out);
    if (this.buf.length > MAX_RECORD_CHARS) {
      throw new CsvSyntaxError(this.line, "a record is longer than 16 MB (a quoted field is never closed?)");
    }
  }

  /** Ends the input; appends the last record. Throws `CsvSyntaxError` on an unclosed quote. */
  end(out: CsvRecord[]): void {
    this.parse(true, out);
  }

  // One loop over the buffer, about 85 lines: it is the import's hot path (50,000 rows x 103
  // cells), and splitting the quoted and plain field cases into calls cost a measurable share of
  // its time in bench/import_bench.ts; the two cases are marked where they start.
  private parse(final: boolean, out: CsvRecord[]): void {
    const s = this.buf;
    const n = s.length;
    let pos = 0;
    let nextComma = -2;
    let nextLF = -2;
    records: while (pos < n) {
      const start = pos;
      let inner = 0;
      // Sized like the previous record: growing an array cell by cell was a fair share of the garbage.
      const fields: string[] = new Array(this.width);
      let count = 0;
      while (true) {
        if (s.charCodeAt(pos) === QUOTE) {
          // A quoted field: may hold commas, doubled quotes and line breaks.
          let value = "";
          let p = pos + 1;
          while (true) {
            const q = s.indexOf('"', p);
            // A quote at the very end of the buffer may be the first of a doubled pair.
            if (q < 0 || (q + 1 >= n && !final)) {
              if (final) throw new CsvSyntaxError(this.line, "a quoted field is never closed");
              pos = start;
              break records;
            }
            const part = s.slice(p, q);
            value = value.length === 0 ? part : value + part;
            for (let i = part.indexOf("\n"); i >= 0; i = part.indexOf("\n", i + 1)) inner++;
            if (s.charCodeAt(q + 1) === QUOTE) {
              value += '"';
              p = q + 2;
              continue;
            }
            pos = q + 1;
            break;
          }
          fields[count++] = value;
          const c = pos < n ? s.charCodeAt(pos) : -1;
          if (c === COMMA) {
            pos++;
            continue;
          }
          if (c === LF) {
            pos++;
            break;
          }
          if (c === CR && pos + 1 < n && s.charCodeAt(pos + 1) === LF) {
            pos += 2;
            break;
          }
          if (c === -1 || (c === CR && pos + 1 >= n)) {
            if (!final) {
              pos = start;
              break records;
            }
            pos = n;
            break;
          }
          throw new CsvSyntaxError(this.line + inner, `unexpected '${s[pos]}' after a closing quote`);
        }
        // A plain field: up to the next comma or line break.
        if (nextComma !== -1 && nextComma < pos) nextComma = s.indexOf(",", pos);
        if (nextLF !== -1 && nextLF < pos) nextLF = s.indexOf("\n", pos);
        if (nextComma !== -1 && (nextLF === -1 || nextComma < nextLF)) {
          fields[count++] = s.slice(pos, nextComma);
          pos = nextComma + 1;
          continue;
        }
        if (nextLF === -1 && !final) {
          pos = start;
          break records;
        }
        const end = nextLF === -1 ? n : nextLF;
        fields[count++] = s.slice(pos, end > pos && s.charCodeAt(end - 1) === CR ? end - 1 : end);
        pos = end + 1;
        break;
      }
      const line = this.line;
      this.line += inner + 1;
      if (count === 1 && fields[0] === "" && s.charCodeAt(start) !== QUOTE) continue;
      if (count !== fields.length) fields.length = count;
      this.width = count;
      out.push({ fields, line });
    }
    this.buf = pos >= n ? "" : s.slice(pos);
    this.retryAt = final ? 0 : Math.max(this.buf.length * 2, this.buf.length + 65_536);
  }
}

/** The CSV itself is broken at `line`: nothing after it can be trusted. */
export class CsvSyntaxError extends SyntaxError {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
  }
}
