/**
 * Decoding a byte stream as UTF-8 text, chunk by chunk, and saying exactly where it is not:
 * the line and the byte offset of the first bad byte, so a user can find it in an editor or
 * with `cmp`/`xxd`, instead of the offset of the chunk it happened to arrive in.
 */

/** The bytes are not UTF-8 at `offset` (0-based, from the start of the stream) on `line` (1-based). */
export class Utf8Error extends Error {
  constructor(readonly line: number, readonly offset: number, readonly byte: number | null) {
    super(
      `line ${line}, byte offset ${offset}` +
        (byte === null ? ": the text ends inside a character" : ` (0x${byte.toString(16).padStart(2, "0")})`),
    );
  }
}

const LF = 10;

/**
 * A streaming fatal UTF-8 decoder that counts bytes and line breaks as it goes. A leading
 * byte-order mark is dropped, as TextDecoder does; offsets still count it.
 */
export class Utf8Text {
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  /** Bytes decoded before the current chunk. */
  #bytes = 0;
  /** Line breaks in those bytes. */
  #lines = 0;
  /** The last (up to 3) bytes decoded: a character split across chunks starts there. */
  #tail = new Uint8Array(0);

  /** Bytes taken so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Decodes the next chunk; throws `Utf8Error` at the first byte that is not UTF-8. */
  decode(chunk: Uint8Array): string {
    let text: string;
    try {
      text = this.#decoder.decode(chunk, { stream: true });
    } catch {
      throw this.#locate(chunk, false);
    }
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) this.#lines++;
    this.#bytes += chunk.byteLength;
    this.#tail = chunk.byteLength >= 3 ? chunk.slice(-3) : joined(this.#tail, chunk).slice(-3);
    return text;
  }

  /** Ends the stream; throws `Utf8Error` when it stops inside a character. */
  end(): string {
    try {
      return this.#decoder.decode();
    } catch {
      throw this.#locate(new Uint8Array(0), true);
    }
  }

  /** The error for the first bad byte of `chunk`, or of a character the previous chunk began. */
  #locate(chunk: Uint8Array, final: boolean): Utf8Error {
    const buf = joined(this.#tail, chunk);
    const base = this.#bytes - this.#tail.length;
    // Bytes at the start of the tail that continue an earlier character were checked with it.
    let start = 0;
    while (start < this.#tail.length && (buf[start] & 0xc0) === 0x80) start++;
    const bad = firstInvalid(buf, start, final);
    const at = bad ?? buf.length;
    let line = this.#lines + 1;
    for (let i = this.#tail.length; i < at; i++) if (buf[i] === LF) line++;
    // At the end, a sequence that is only cut short has no bad byte: the text stops inside it.
    const cutShort = final && firstInvalid(buf, start, false) === null;
    return new Utf8Error(line, base + at, at < buf.length && !cutShort ? buf[at] : null);
  }
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Index of the first byte of `buf` (from `start`) that cannot be UTF-8: a stray continuation
 * byte, a bad lead byte, an overlong form, a surrogate, a code point above U+10FFFF, or a
 * sequence cut short. A sequence still open at the end counts as bad only when `final`.
 * Null when all is well.
 */
export function firstInvalid(buf: Uint8Array, start = 0, final = true): number | null {
  let i = start;
  while (i < buf.length) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number, min: number, max: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, max] = [1, 0x80, 0xbf];
    else if (b === 0xe0) [need, min, max] = [2, 0xa0, 0xbf];
    else if (b === 0xed) [need, min, max] = [2, 0x80, 0x9f];
    else if (b >= 0xe1 && b <= 0xef) [need, min, max] = [2, 0x80, 0xbf];
    else if (b === 0xf0) [need, min, max] = [3, 0x90, 0xbf];
    else if (b >= 0xf1 && b <= 0xf3) [need, min, max] = [3, 0x80, 0xbf];
    else if (b === 0xf4) [need, min, max] = [3, 0x80, 0x8f];
    else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= buf.length) return final ? i : null;
      const c = buf[i + k];
      // The second byte has the narrower range; later ones are any continuation byte.
      if (k === 1 ? c < min || c > max : (c & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return null;
}
