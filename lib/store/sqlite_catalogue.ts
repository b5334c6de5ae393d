/**
 * Reads a SQLite file's table names, user_version and application_id straight from its bytes
 * (https://sqlite.org/fileformat2.html), without SQLite. Why: SQLite opening a WAL-mode file
 * whose -wal is gone creates -wal and -shm beside it, even read-only; another application's
 * database must be refused without a single file appearing next to it. Only the catalogue's
 * b-tree is walked; anything unexpected returns null and the caller asks SQLite instead.
 */

/** What the file's header and catalogue say. */
interface RawCatalogue {
  version: number;
  applicationId: number;
  /** Names of the tables (not indexes, views or triggers), in catalogue order. */
  tables: string[];
}

/** Most catalogue pages walked before giving up (a schema of thousands of objects). */
const MAX_PAGES = 256;

function varint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const b = bytes[at + i];
    if (b === undefined) throw new RangeError("truncated varint");
    if (i === 8) return [value * 256 + b, at + 9];
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) return [value, at + i + 1];
  }
  throw new RangeError("unreachable");
}

/** Byte length of a record value of serial type `t`. */
function serialLength(t: number): number {
  if (t >= 12) return Math.floor((t - 12) / 2);
  return [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0][t];
}

/** Reads `length` bytes at `offset` of the open file, or fewer at its end. */
function readAt(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  let read = 0;
  while (read < length) {
    const n = file.readSync(buffer.subarray(read));
    if (n === null) break;
    read += n;
  }
  return buffer.subarray(0, read);
}

/**
 * The first two columns (type, name) of a catalogue record, if they lie in the page's local
 * part of the payload; null when they do not (the caller then asks SQLite).
 */
function typeAndName(page: Uint8Array, at: number, usable: number): [string, string] | null {
  const [payload, afterSize] = varint(page, at);
  const [, start] = varint(page, afterSize); // rowid
  // Local bytes of the payload (fileformat2 "Cell Payload Overflow Pages"), for a leaf table page.
  const maxLocal = usable - 35;
  const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
  let local = payload;
  if (payload > maxLocal) {
    local = minLocal + ((payload - minLocal) % (usable - 4));
    if (local > maxLocal) local = minLocal;
  }
  const record = page.subarray(start, start + local);
  const [headerSize, first] = varint(record, 0);
  const [typeSerial, second] = varint(record, first);
  const [nameSerial] = varint(record, second);
  const decoder = new TextDecoder();
  const typeEnd = headerSize + serialLength(typeSerial);
  const nameEnd = typeEnd + serialLength(nameSerial);
  if (typeSerial < 13 || nameSerial < 13 || typeSerial % 2 === 0 || nameSerial % 2 === 0) return null;
  if (nameEnd > record.length) return null;
  return [decoder.decode(record.subarray(headerSize, typeEnd)), decoder.decode(record.subarray(typeEnd, nameEnd))];
}

/**
 * The catalogue of the SQLite file at `path` as its main file holds it (a -wal may hold newer
 * pages: use it only for a file without one). Null when the layout is not what this reader
 * handles (text encodings other than UTF-8, a name on an overflow page, a damaged b-tree).
 */
export function readRawCatalogue(path: string): RawCatalogue | null {
  const file = Deno.openSync(path, { read: true });
  try {
    const header = readAt(file, 0, 100);
    if (header.length < 100) return null;
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    const rawSize = view.getUint16(16);
    const pageSize = rawSize === 1 ? 65536 : rawSize;
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return null;
    if (view.getUint32(56) !== 1) return null; // only UTF-8 text is decoded here
    const usable = pageSize - header[20];
    const tables: string[] = [];
    const queue = [1];
    let walked = 0;
    while (queue.length > 0) {
      if (++walked > MAX_PAGES) return null;
      const number = queue.shift()!;
      const page = readAt(file, (number - 1) * pageSize, pageSize);
      if (page.length < pageSize) return null;
      const base = number === 1 ? 100 : 0;
      const kind = page[base];
      const cells = (page[base + 3] << 8) | page[base + 4];
      const pointers = base + (kind === 0x05 ? 12 : 8);
      if (kind === 0x05) {
        for (let i = 0; i < cells; i++) {
          const at = (page[pointers + 2 * i] << 8) | page[pointers + 2 * i + 1];
          queue.push(new DataView(page.buffer, page.byteOffset + at, 4).getUint32(0));
        }
        queue.push(new DataView(page.buffer, page.byteOffset + base + 8, 4).getUint32(0));
      } else if (kind === 0x0d) {
        for (let i = 0; i < cells; i++) {
          const at = (page[pointers + 2 * i] << 8) | page[pointers + 2 * i + 1];
          const entry = typeAndName(page, at, usable);
          if (entry === null) return null;
          if (entry[0] === "table" && !entry[1].startsWith("sqlite_")) tables.push(entry[1]);
        }
      } else {
        return null;
      }
    }
    return { version: view.getInt32(60), applicationId: view.getInt32(68), tables };
  } catch (err) {
    if (err instanceof RangeError) return null; // a damaged page: let SQLite say what is wrong
    throw err;
  } finally {
    file.close();
  }
}
