import { chmod, lstat, mkdir } from 'node:fs/promises';

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;

/**
 * Makes `path` a directory only this process's user controls, with at
 * most `mode`'s permissions: created so when it is missing. One that
 * exists is refused (it throws) when it is a symlink or not a directory,
 * belongs to another user, or is writable by its group or the world:
 * whoever can write there can swap the jobs, logs, state or database it
 * holds. One that is merely readable by others is tightened to `mode`,
 * and the returned warning says so.
 */
export async function securePrivateDirectory(
  path: string,
  options: { mode: number; what: string },
): Promise<string | undefined> {
  const { mode, what } = options;
  await mkdir(path, { recursive: true, mode });
  const info = await lstat(path);
  if (info.isSymbolicLink() || !info.isDirectory()) {
    throw new Error(`${what} ${path} is not a directory (a symlink or a file)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(
      `${what} ${path} belongs to uid ${info.uid}, not to this process's user (${uid}): another user could change what is in it`,
    );
  }
  const permissions = info.mode & 0o777;
  if (permissions & 0o022) {
    throw new Error(
      `${what} ${path} is writable by its group or by anyone (mode ${octal(
        permissions,
      )}): chmod go-w ${path}`,
    );
  }
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
 * Makes a file this process created private (0600), refusing one that
 * belongs to another user or is writable by others.
 */
export async function securePrivateFile(
  path: string,
  what: string,
): Promise<void> {
  const info = await lstat(path);
  const uid = process.getuid?.();
  if (info.isSymbolicLink() || !info.isFile()) {
    throw new Error(`${what} ${path} is not a regular file`);
  }
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(
      `${what} ${path} belongs to uid ${info.uid}, not to this process's user (${uid})`,
    );
  }
  if (info.mode & 0o022) {
    throw new Error(
      `${what} ${path} is writable by its group or by anyone (mode ${octal(
        info.mode & 0o777,
      )})`,
    );
  }
  await chmod(path, 0o600);
}
