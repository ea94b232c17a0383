import { Stats } from 'node:fs';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;

/**
 * Refuses what another user could change: owned by someone else, or
 * writable by its group or the world. Whoever can write there can swap the
 * jobs, logs, state or database it holds.
 */
function refuseForeign(info: Stats, path: string, what: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(
      `${what} ${path} belongs to uid ${info.uid}, not to this process's user (${uid}): another user could change what is in it`,
    );
  }
  if (info.mode & 0o022) {
    throw new Error(
      `${what} ${path} is writable by its group or by anyone (mode ${octal(
        info.mode & 0o777,
      )}): chmod go-w ${path}`,
    );
  }
}

/**
 * Makes `path` a directory only this process's user controls, with
 * exactly `mode`: created so when it is missing (its parents as the umask
 * makes them). One that exists is refused (it throws) when it is a symlink
 * or not a directory, or another user could change it; one that is merely
 * readable by others is tightened to `mode`, and the returned warning says
 * so.
 */
export async function securePrivateDirectory(
  path: string,
  options: { mode: number; what: string },
): Promise<string | undefined> {
  const { mode, what } = options;
  await mkdir(dirname(path), { recursive: true });
  await mkdir(path, { mode }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') {
      throw error;
    }
  });
  const info = await lstat(path);
  if (info.isSymbolicLink() || !info.isDirectory()) {
    throw new Error(`${what} ${path} is not a directory (a symlink or a file)`);
  }
  refuseForeign(info, path, what);
  const permissions = info.mode & 0o777;
  if (permissions !== mode) {
    // Exactly `mode`: a umask may have taken the traverse bit the sandbox needs.
    await chmod(path, mode);
  }
  if ((permissions & ~mode) === 0) {
    return undefined;
  }
  return `${what} ${path} was readable by others (mode ${octal(
    permissions,
  )}); made it ${octal(mode)}`;
}

/**
 * Makes a file this process created private (0600), refusing one that is
 * not a regular file or that another user could change.
 */
export async function securePrivateFile(
  path: string,
  what: string,
): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink() || !info.isFile()) {
    throw new Error(`${what} ${path} is not a regular file`);
  }
  refuseForeign(info, path, what);
  await chmod(path, 0o600);
}
