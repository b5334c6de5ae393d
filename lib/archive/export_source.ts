/**
 * Finding `activities.csv` in what the user points at, an export `.zip`, the folder it was
 * unzipped into, or the CSV itself, and streaming its bytes.
 *
 * A zip is read with random access and constant memory: the end record locates the central
 * directory, which is scanned in 64 KiB windows without keeping any entry but the best match;
 * then only the `activities.csv` entry's bytes are read and inflated as a stream
 * (DecompressionStream "deflate-raw"), its CRC-32 and size checked at the end. The rest of the
 * archive (gigabytes of activity files and media) is never read. zip64 archives (over 4 GB or
 * 65,535 entries) are read the same way.
 *
 * Why not @zip.js/zip.js (which the project uses to write test archives): its reader builds a
 * full entry object for every file of the archive, so memory grew with the number of files: an
 * archive of 20,000 files peaked at 306 MB RSS through `getEntries()` and 163-183 MB through its
 * entry generator, against 86-92 MB with this reader. Locating one entry needs none of that, and
 * the format subset involved (end records, zip64 extra fields, stored or deflated data) is small
 * and covered by tests/archive_test.ts, which also reads archives written by Info-ZIP `zip` when
 * it is installed.
 */
import { join } from "node:path";
import { UsageError } from "../errors.ts";

/** The export's activities CSV, ready to stream once. */
export interface ActivitiesSource extends AsyncDisposable {
  /** Names the file in messages, e.g. `export.zip:activities.csv`. */
  label: string;
  /** Uncompressed size in bytes (for progress), when known. */
  size: number | null;
  /** The CSV's bytes; read it once. */
  readable: ReadableStream<Uint8Array>;
}

/** The name Strava gives the file inside the export. */
const ACTIVITIES_CSV = "activities.csv";

function describeFsError(path: string, err: unknown): unknown {
  if (err instanceof Deno.errors.NotFound) return new UsageError(`${path} does not exist`);
  if (err instanceof Deno.errors.PermissionDenied) return new UsageError(`cannot read ${path}: permission denied`);
  return err;
}

/**
 * Opens the activities CSV of an export: `path` is a `.zip`, a folder holding `activities.csv`
 * (directly or in one subfolder), or a CSV file. Missing or unreadable paths, a file that is
 * not a zip although named `.zip`, a damaged zip and an export without `activities.csv` are
 * `UsageError`s (a damaged CSV entry fails while it is read). Dispose the result
 * (`await using`) to close the file. `onArchiveRead` is called with the size of every read made in
 * an archive (lets tests prove random access).
 */
export async function openActivitiesCsv(
  path: string,
  options: { onArchiveRead?: (bytes: number) => void } = {},
): Promise<ActivitiesSource> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    throw describeFsError(path, err);
  }
  if (info.isDirectory) return await openFolder(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw describeFsError(path, err);
  }
  try {
    const archive = new RandomAccess(file, info.size, options.onArchiveRead);
    const head = await archive.read(0, 4);
    const magic = head.length === 4 ? view(head).getUint32(0, true) : 0;
    if (magic === LOCAL_HEADER || magic === END_OF_DIRECTORY || magic === SPANNED) {
      return await openZipEntry(path, archive);
    }
    if (/\.zip$/i.test(path)) throw new UsageError(`${path} is not a zip archive`);
    await file.seek(0, Deno.SeekMode.Start);
    return csvSource(path, file, info.size);
  } catch (err) {
    file.close();
    throw err;
  }
}

function csvSource(label: string, file: Deno.FsFile, size: number): ActivitiesSource {
  return {
    label,
    size,
    readable: file.readable,
    [Symbol.asyncDispose]() {
      closeQuietly(file);
      return Promise.resolve();
    },
  };
}

/** Reading a file's stream to its end (or cancelling it) already closes it. */
function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource)) throw err;
  }
}

/**
 * The folder's own activities.csv, else the one in a subfolder (an export unzipped into a
 * folder of its own). Two or more subfolders holding one are refused, naming them: which export
 * the user meant is not for the tool to guess.
 */
async function openFolder(dir: string): Promise<ActivitiesSource> {
  const own = await tryOpen(join(dir, ACTIVITIES_CSV));
  if (own) return own;
  const subfolders: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !entry.name.startsWith(".") && entry.name !== "__MACOSX") subfolders.push(entry.name);
    }
  } catch (err) {
    throw describeFsError(dir, err);
  }
  const found: ActivitiesSource[] = [];
  try {
    for (const name of subfolders.sort()) {
      const source = await tryOpen(join(dir, name, ACTIVITIES_CSV));
      if (source) found.push(source);
    }
    if (found.length > 1) {
      const names = found.map((f) => f.label);
      throw new UsageError(
        `${dir} holds ${found.length} exports (${names.slice(0, -1).join(", ")} and ${names.at(-1)}); ` +
          `point to the one to import`,
      );
    }
  } catch (err) {
    for (const source of found) await source[Symbol.asyncDispose]();
    throw err;
  }
  if (found.length === 1) return found[0];
  throw new UsageError(`${dir} has no ${ACTIVITIES_CSV}: point to the folder Strava's export was unzipped into`);
}

/** The CSV at `path` as a source; undefined when there is no such file. */
async function tryOpen(path: string): Promise<ActivitiesSource | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw describeFsError(path, err);
  }
  return csvSource(path, file, (await file.stat()).size);
}

// --- Zip -------------------------------------------------------------------------------------

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const SPANNED = 0x08074b50;
const MAX_U32 = 0xffffffff;
const MAX_U16 = 0xffff;
const WINDOW = 65_536;

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Positioned reads of a file; zip parsing never needs more than a window of it at once. */
class RandomAccess {
  constructor(
    readonly file: Deno.FsFile,
    readonly size: number,
    private readonly onRead?: (bytes: number) => void,
  ) {}

  /** Up to `length` bytes at `offset` (fewer only at the end of the file). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const data = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
    await this.file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < data.length) {
      const n = await this.file.read(data.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    this.onRead?.(filled);
    return filled === data.length ? data : data.subarray(0, filled);
  }
}

/** What the central directory says about the CSV entry. */
interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Where the central directory is, from the end record (and its zip64 version). */
async function findDirectory(zip: RandomAccess): Promise<{ offset: number; size: number; shift: number }> {
  // The end record is the last 22 bytes, unless a comment (up to 64 KiB) follows it.
  const tailStart = Math.max(0, zip.size - (22 + MAX_U16));
  const tail = await zip.read(tailStart, zip.size - tailStart);
  const tv = view(tail);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === END_OF_DIRECTORY && i + 22 + tv.getUint16(i + 20, true) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new Error("end of central directory not found");
  let offset = tv.getUint32(at + 16, true);
  let size = tv.getUint32(at + 12, true);
  let end = tailStart + at;
  const entries = tv.getUint16(at + 10, true);
  if (offset === MAX_U32 || size === MAX_U32 || entries === MAX_U16) {
    const locator = await zip.read(end - 20, 20);
    if (locator.length < 20 || view(locator).getUint32(0, true) !== ZIP64_LOCATOR) {
      throw new Error("zip64 end of central directory locator not found");
    }
    const recordAt = Number(view(locator).getBigUint64(8, true));
    const record = await zip.read(recordAt, 56);
    if (record.length < 56 || view(record).getUint32(0, true) !== ZIP64_END_OF_DIRECTORY) {
      throw new Error("zip64 end of central directory not found");
    }
    size = Number(view(record).getBigUint64(40, true));
    offset = Number(view(record).getBigUint64(48, true));
    end = recordAt;
  }
  // Data prepended to the archive (a self-extractor stub) shifts every offset by its length.
  const shift = end - size - offset;
  if (shift < 0 || offset + shift + size > zip.size) throw new Error("central directory out of bounds");
  return { offset: offset + shift, size, shift };
}

const TARGET = new TextEncoder().encode(ACTIVITIES_CSV);

/** Whether `name` (raw bytes) ends in "/activities.csv" or is it, ASCII case-insensitively. */
function isActivitiesCsv(bytes: Uint8Array, start: number, length: number): boolean {
  if (length < TARGET.length) return false;
  const from = start + length - TARGET.length;
  for (let i = 0; i < TARGET.length; i++) {
    const b = bytes[from + i];
    if ((b >= 0x41 && b <= 0x5a ? b + 32 : b) !== TARGET[i]) return false;
  }
  return length === TARGET.length || bytes[from - 1] === 0x2f;
}

/**
 * Scans the central directory window by window for the `activities.csv` nearest the root
 * (Strava puts it at the root; some tools wrap the export in a folder).
 */
async function findEntry(zip: RandomAccess): Promise<ZipEntry | undefined> {
  const dir = await findDirectory(zip);
  let best: ZipEntry | undefined;
  let bestDepth = Infinity;
  let buf = new Uint8Array(0);
  let pos = 0; // in buf
  let next = dir.offset; // file offset of the next window
  const stop = dir.offset + dir.size;
  while (true) {
    if (buf.length - pos < 46 + recordTail(buf, pos)) {
      if (next >= stop) break;
      const more = await zip.read(next, Math.min(WINDOW, stop - next));
      if (more.length === 0) throw new Error("central directory is cut short");
      next += more.length;
      const joined = new Uint8Array(buf.length - pos + more.length);
      joined.set(buf.subarray(pos));
      joined.set(more, buf.length - pos);
      buf = joined;
      pos = 0;
      continue;
    }
    const v = view(buf);
    if (v.getUint32(pos, true) !== CENTRAL_HEADER) throw new Error("bad central directory record");
    const nameLength = v.getUint16(pos + 28, true);
    const extraLength = v.getUint16(pos + 30, true);
    const commentLength = v.getUint16(pos + 32, true);
    const nameStart = pos + 46;
    if (isActivitiesCsv(buf, nameStart, nameLength)) {
      const name = new TextDecoder().decode(buf.subarray(nameStart, nameStart + nameLength));
      const depth = name.split("/").length - 1;
      if (!name.startsWith("__MACOSX/") && depth < bestDepth) {
        best = {
          name,
          flags: v.getUint16(pos + 8, true),
          method: v.getUint16(pos + 10, true),
          crc: v.getUint32(pos + 16, true),
          compressedSize: v.getUint32(pos + 20, true),
          size: v.getUint32(pos + 24, true),
          localOffset: v.getUint32(pos + 42, true),
        };
        readZip64Extra(best, buf.subarray(nameStart + nameLength, nameStart + nameLength + extraLength));
        best.localOffset += dir.shift;
        bestDepth = depth;
        if (depth === 0) break;
      }
    }
    pos = nameStart + nameLength + extraLength + commentLength;
  }
  return best;
}

/** Length of a central record's variable part, or 0 when its fixed part is not in `buf` yet. */
function recordTail(buf: Uint8Array, pos: number): number {
  if (buf.length - pos < 46) return 0;
  const v = view(buf);
  return v.getUint16(pos + 28, true) + v.getUint16(pos + 30, true) + v.getUint16(pos + 32, true);
}

/** Sizes and offset that did not fit 32 bits are in the zip64 extra field (id 1), in this order. */
function readZip64Extra(entry: ZipEntry, extra: Uint8Array): void {
  const v = view(extra);
  for (let i = 0; i + 4 <= extra.length;) {
    const id = v.getUint16(i, true);
    const length = v.getUint16(i + 2, true);
    if (id === 1) {
      let at = i + 4;
      const u64 = () => {
        if (at + 8 > i + 4 + length) throw new Error("zip64 extra field is too short");
        const value = Number(v.getBigUint64(at, true));
        at += 8;
        return value;
      };
      if (entry.size === MAX_U32) entry.size = u64();
      if (entry.compressedSize === MAX_U32) entry.compressedSize = u64();
      if (entry.localOffset === MAX_U32) entry.localOffset = u64();
      return;
    }
    i += 4 + length;
  }
  if (entry.size === MAX_U32 || entry.compressedSize === MAX_U32 || entry.localOffset === MAX_U32) {
    throw new Error("zip64 extra field missing");
  }
}

async function openZipEntry(path: string, zip: RandomAccess): Promise<ActivitiesSource> {
  let entry: ZipEntry | undefined;
  let dataStart: number;
  try {
    entry = await findEntry(zip);
    if (entry === undefined) {
      throw new UsageError(`${path} has no ${ACTIVITIES_CSV}: is it Strava's bulk export archive?`);
    }
    const local = await zip.read(entry.localOffset, 30);
    if (local.length < 30 || view(local).getUint32(0, true) !== LOCAL_HEADER) throw new Error("bad local header");
    dataStart = entry.localOffset + 30 + view(local).getUint16(26, true) + view(local).getUint16(28, true);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${path} is not a readable zip archive (truncated or damaged?): ${(err as Error).message}`);
  }
  const label = `${path}:${entry.name}`;
  if (entry.flags & 1) throw new UsageError(`${label} is encrypted; unzip it yourself and pass the CSV`);
  if (entry.method !== 0 && entry.method !== 8) {
    throw new UsageError(`${label} is compressed with method ${entry.method}, which this tool cannot read; unzip it`);
  }
  if (dataStart + entry.compressedSize > zip.size) {
    throw new UsageError(`${path} is not a readable zip archive (truncated or damaged?): ${entry.name} is cut short`);
  }
  return {
    label,
    size: entry.size,
    readable: entryStream(zip, entry, dataStart, label),
    [Symbol.asyncDispose]() {
      closeQuietly(zip.file);
      return Promise.resolve();
    },
  };
}

/** The entry's bytes, inflated, checked against the directory's CRC-32 and size at the end. */
function entryStream(zip: RandomAccess, entry: ZipEntry, start: number, label: string): ReadableStream<Uint8Array> {
  let at = start;
  const end = start + entry.compressedSize;
  const raw = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (at >= end) return controller.close();
      const chunk = await zip.read(at, Math.min(WINDOW, end - at));
      if (chunk.length === 0) throw new Error("the archive is cut short");
      at += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  const inflated = entry.method === 8
    ? raw.pipeThrough(new DecompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>)
    : raw;
  let crc = 0xffffffff;
  let size = 0;
  const check = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      crc = crc32(crc, chunk);
      size += chunk.length;
      controller.enqueue(chunk);
    },
    flush() {
      if (size !== entry.size || ((crc ^ 0xffffffff) >>> 0) !== entry.crc) {
        throw new UsageError(`${label} is damaged: its size or CRC-32 does not match the archive's directory`);
      }
    },
  });
  const checked = inflated.pipeThrough(check);
  // Inflate errors (a TypeError from DecompressionStream) become one clear UsageError.
  const reader = checked.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(
          err instanceof UsageError ? err : new UsageError(`${label} is damaged: ${(err as Error).message ?? err}`),
        );
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}
