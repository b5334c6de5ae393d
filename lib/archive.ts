/**
 * Finding `activities.csv` in what the user points at, an export `.zip`, the folder it was
 * unzipped into, or the CSV itself, and streaming its bytes.
 *
 * A zip is read with random access (@zip.js/zip.js over a `Deno.FsFile`): the central directory
 * at the end of the file is read, then only the `activities.csv` entry is inflated as a stream.
 * The rest of the archive (gigabytes of activity files and media) is never read, so memory and
 * time do not grow with the archive's size. zip64 archives (over 4 GB or 65,535 entries) are read
 * the same way.
 */
import { configure, type Entry, type FileEntry, Reader, ZipReader } from "@zip.js/zip.js";
import { basename, join } from "node:path";
import { UsageError } from "./errors.ts";

// Workers would need extra permissions and outlive the import; the CSV is small enough to
// inflate on the main thread, with the runtime's native DecompressionStream.
configure({ useWebWorkers: false });

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
export const ACTIVITIES_CSV = "activities.csv";

const ZIP_MAGIC = [0x50, 0x4b]; // "PK": a local file header, or the end record of an empty zip

/** Random access to a file for zip.js: reads only the byte ranges it asks for. */
class FsFileReader extends Reader<Deno.FsFile> {
  #file: Deno.FsFile;
  #onRead?: (bytes: number) => void;
  // zip.js may ask for several ranges at once; seek + read must not interleave.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: Deno.FsFile, size: number, onRead?: (bytes: number) => void) {
    super(file);
    this.#file = file;
    this.size = size;
    this.#onRead = onRead;
  }

  override readUint8Array(offset: number, length: number): Promise<Uint8Array> {
    const result = this.#queue.then(async () => {
      await this.#file.seek(offset, Deno.SeekMode.Start);
      const data = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const n = await this.#file.read(data.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      this.#onRead?.(filled);
      return filled === length ? data : data.subarray(0, filled);
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

function describeFsError(path: string, err: unknown): UsageError | unknown {
  if (err instanceof Deno.errors.NotFound) return new UsageError(`${path} does not exist`);
  if (err instanceof Deno.errors.PermissionDenied) return new UsageError(`cannot read ${path}: permission denied`);
  return err;
}

async function readHead(file: Deno.FsFile, length: number): Promise<Uint8Array> {
  const head = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(head.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  await file.seek(0, Deno.SeekMode.Start);
  return head.subarray(0, filled);
}

/** Options for `openActivitiesCsv`. */
export interface OpenOptions {
  /** Called with the size of every read zip.js makes in an archive (lets tests prove random access). */
  onArchiveRead?: (bytes: number) => void;
}

/**
 * Opens the activities CSV of an export: `path` is a `.zip`, a folder holding `activities.csv`
 * (directly or in one subfolder), or a CSV file. Missing or unreadable paths, a file that is
 * not a zip although named `.zip`, a damaged zip and an export without `activities.csv` are
 * `UsageError`s. Dispose the result (`await using`) to close the file.
 */
export async function openActivitiesCsv(path: string, options: OpenOptions = {}): Promise<ActivitiesSource> {
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
    const head = await readHead(file, 4);
    const isZip = head.length === 4 && head[0] === ZIP_MAGIC[0] && head[1] === ZIP_MAGIC[1] &&
      ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6) || (head[2] === 7 && head[3] === 8));
    if (isZip) return await openZipEntry(path, file, info.size, options.onArchiveRead);
    if (/\.zip$/i.test(path)) throw new UsageError(`${path} is not a zip archive`);
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
      // Reading the stream to its end (or cancelling it) closes the file already.
      try {
        file.close();
      } catch (err) {
        if (!(err instanceof Deno.errors.BadResource)) throw err;
      }
      return Promise.resolve();
    },
  };
}

async function openFolder(dir: string): Promise<ActivitiesSource> {
  const candidates = [join(dir, ACTIVITIES_CSV)];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !entry.name.startsWith(".") && entry.name !== "__MACOSX") {
        candidates.push(join(dir, entry.name, ACTIVITIES_CSV));
      }
    }
  } catch (err) {
    throw describeFsError(dir, err);
  }
  for (const candidate of candidates) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(candidate, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw describeFsError(candidate, err);
    }
    return csvSource(candidate, file, (await file.stat()).size);
  }
  throw new UsageError(`${dir} has no ${ACTIVITIES_CSV}: point to the folder Strava's export was unzipped into`);
}

/** The export's CSV among the zip's entries: the one nearest the root, skipping macOS metadata. */
function pickEntry(entries: Entry[]): FileEntry | undefined {
  const matches = entries.filter((e): e is FileEntry =>
    !e.directory && basename(e.filename).toLowerCase() === ACTIVITIES_CSV && !e.filename.startsWith("__MACOSX/")
  );
  matches.sort((a, b) => a.filename.split("/").length - b.filename.split("/").length);
  return matches[0];
}

async function openZipEntry(
  path: string,
  file: Deno.FsFile,
  size: number,
  onRead?: (bytes: number) => void,
): Promise<ActivitiesSource> {
  const zip = new ZipReader(new FsFileReader(file, size, onRead), { useWebWorkers: false });
  let entries: Entry[];
  try {
    entries = await zip.getEntries();
  } catch (err) {
    throw new UsageError(`${path} is not a readable zip archive (truncated or damaged?): ${(err as Error).message}`);
  }
  const entry = pickEntry(entries);
  if (entry === undefined) {
    throw new UsageError(`${path} has no ${ACTIVITIES_CSV}: is it Strava's bulk export archive?`);
  }
  const label = `${path}:${entry.filename}`;
  if (entry.encrypted) throw new UsageError(`${label} is encrypted; unzip it yourself and pass the CSV`);

  // zip.js writes the inflated bytes into `writable`; the CSV reader pulls them from `readable`,
  // and backpressure keeps only a few chunks in memory at a time.
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const reader = readable.getReader();
  let failure: unknown;
  const done = entry.getData(writable, { checkSignature: true, useWebWorkers: false }).then(
    () => undefined,
    (err) => {
      failure = new UsageError(`${label} is damaged: ${err instanceof Error ? err.message : String(err)}`);
      // Wakes a pending read if zip.js gave up without closing the stream.
      return reader.cancel(failure).catch(() => {});
    },
  );
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next;
      try {
        next = await reader.read();
      } catch (err) {
        await done;
        controller.error(failure ?? err);
        return;
      }
      if (next.done) {
        await done;
        if (failure) controller.error(failure);
        else controller.close();
        return;
      }
      controller.enqueue(next.value);
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
      await done;
    },
  }, { highWaterMark: 0 });

  return {
    label,
    size: entry.uncompressedSize,
    readable: stream,
    async [Symbol.asyncDispose]() {
      await reader.cancel().catch(() => {});
      await done;
      await zip.close();
      file.close();
    },
  };
}
