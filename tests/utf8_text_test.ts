import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { firstInvalid, Utf8Error, Utf8Text } from "../lib/archive/utf8_text.ts";

/** Decodes `bytes` cut into `chunk`-sized pieces; the text, or the Utf8Error. */
function decodeChunked(bytes: Uint8Array, chunk: number): string | Utf8Error {
  const utf8 = new Utf8Text();
  let text = "";
  try {
    for (let i = 0; i < bytes.length; i += chunk) text += utf8.decode(bytes.subarray(i, i + chunk));
    return text + utf8.end();
  } catch (err) {
    if (err instanceof Utf8Error) return err;
    throw err;
  }
}

const encode = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};

Deno.test("Utf8Text: the first bad byte's line and offset, however the bytes are chunked", () => {
  // 1,768 bytes of good text over 40 lines (with multi-byte characters), then a Latin-1 'é'.
  let good = "\ufeffActivity ID,Activity Name\n";
  while (encode(good).length < 1700) good += `${good.length},"Café ☀️ 日本 ride"\n`;
  good += "z".repeat(1768 - encode(good).length);
  const prefix = encode(good);
  strictEqual(prefix.length, 1768);
  const lines = prefix.filter((b) => b === 10).length + 1;
  const bytes = concat(prefix, new Uint8Array([0xe9]), encode("tape,x\n"));
  for (const chunk of [1, 2, 3, 5, 7, 64, 1000, 1768, 1769, 65_536]) {
    const err = decodeChunked(bytes, chunk);
    ok(err instanceof Utf8Error, `chunk ${chunk}`);
    deepStrictEqual([err.line, err.offset, err.byte], [lines, 1768, 0xe9], `chunk ${chunk}`);
    strictEqual(err.message, `line ${lines}, byte offset 1768 (0xe9)`);
  }
  strictEqual(decodeChunked(prefix, 3), good.slice(1), "the byte-order mark dropped, the rest intact");
});

Deno.test("Utf8Text: a character split across chunks is fine; one cut off at the end is an error there", () => {
  const text = "a😀b€c\n";
  for (const chunk of [1, 2, 3, 4]) strictEqual(decodeChunked(encode(text), chunk), text);
  const cut = concat(encode("ab\n"), encode("€").subarray(0, 2));
  for (const chunk of [1, 4, 10]) {
    const err = decodeChunked(cut, chunk);
    ok(err instanceof Utf8Error);
    deepStrictEqual([err.line, err.offset, err.byte], [2, 3, null]);
    ok(/ends inside a character/.test(err.message));
  }
  // A bad continuation after a lead byte that ended the previous chunk: the lead byte is the bad one.
  const broken = concat(encode("xy"), new Uint8Array([0xe2, 0x41]));
  for (const chunk of [1, 2, 3]) {
    const err = decodeChunked(broken, chunk);
    ok(err instanceof Utf8Error);
    deepStrictEqual([err.offset, err.byte], [2, 0xe2], `chunk ${chunk}`);
  }
});

Deno.test("firstInvalid: agrees with TextDecoder's fatal mode on random bytes", () => {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const interesting = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  for (let n = 0; n < 5000; n++) {
    const bytes = new Uint8Array(1 + (next() % 8)).map(() =>
      next() % 2 ? interesting[next() % interesting.length] : 0x80 | next() % 64
    );
    let valid = true;
    try {
      decoder.decode(bytes);
    } catch {
      valid = false;
    }
    strictEqual(firstInvalid(bytes) === null, valid, `[${[...bytes].map((b) => b.toString(16))}]`);
  }
  throws(() => new Utf8Text().decode(new Uint8Array([0xff])), Utf8Error);
});
