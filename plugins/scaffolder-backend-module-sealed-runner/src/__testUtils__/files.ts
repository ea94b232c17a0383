import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every file and symlink under `root`, relative to it, sorted; [] if `root` does not exist. */
export function listFiles(root: string): string[] {
  let entries;
  try {
    entries = readdirSync(root, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw error;
  }
  return entries
    .filter(entry => !entry.isDirectory())
    .map(entry =>
      relative(root, join(entry.parentPath ?? (entry as any).path, entry.name)),
    )
    .sort();
}
