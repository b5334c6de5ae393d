/**
 * What `import_archive --create` creates, so that a failed import leaves nothing behind: the
 * database file (with its -wal and -shm) and the folders made to hold it (`data/` on a first
 * run). A database or folder that existed before is never touched.
 */
import { dirname } from "node:path";
import { databaseExists, removeDatabaseFiles } from "../store/db.ts";

/** Notes, before the database is opened, what opening it with --create will create. */
export class CreatedDatabase {
  /** Whether the database file existed before this run. */
  readonly existed: boolean;
  /** Folders missing before this run, outermost first. */
  readonly folders: readonly string[];

  constructor(readonly path: string) {
    this.existed = databaseExists(path);
    this.folders = this.existed ? [] : missingFolders(path);
  }

  /**
   * Removes what this run created: the database files, then the folders, deepest first. A folder
   * that now holds something else (another program wrote there meanwhile) stays, as do its parents.
   */
  undo(): void {
    if (this.existed) return;
    removeDatabaseFiles(this.path);
    for (const dir of [...this.folders].reverse()) {
      try {
        Deno.removeSync(dir);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        // Not empty (or no longer ours to remove): the failure being reported is the import's.
        return;
      }
    }
  }
}

/** The ancestors of `path` that do not exist, outermost first. */
function missingFolders(path: string): string[] {
  const missing: string[] = [];
  for (let dir = dirname(path);; dir = dirname(dir)) {
    try {
      Deno.statSync(dir);
      return missing;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    missing.unshift(dir);
    if (dirname(dir) === dir) return missing;
  }
}
