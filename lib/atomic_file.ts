/** Writing a file so that readers see the old or the new content, never a torn one. */
import { basename, dirname, join } from "node:path";

/**
 * Writes `text` to a temp file beside `path` (same filesystem), syncs it, and renames it
 * over `path`. `mode` applies from creation, so a secret is never readable by others.
 */
export async function writeFileAtomic(path: string, text: string, options: { mode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  if (dir !== ".") await Deno.mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
    try {
      await file.write(new TextEncoder().encode(text));
      await file.sync();
    } finally {
      file.close();
    }
    if (options.mode !== undefined && Deno.build.os !== "windows") await Deno.chmod(temp, options.mode);
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {}); // best effort: the original error is what matters
    throw err;
  }
}
