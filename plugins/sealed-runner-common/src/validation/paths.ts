import { accept, Checked, checkPlainString, quote, refuse } from './checked';

/** @public */
export const MAX_PATH_LENGTH = 512;

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Checks a folder inside a repository: a relative POSIX path whose segments
 * use a conservative character set. Refuses `..` and `.` segments, absolute
 * paths, backslashes, percent-encoding (`%2e%2e`), empty segments and control
 * characters, so the value can never name anything outside the checkout.
 *
 * @public
 */
export function checkRelativePath(value: unknown): Checked<string> {
  const plain = checkPlainString('path', value, MAX_PATH_LENGTH);
  if (!plain.ok) {
    return plain;
  }
  const path = plain.value;
  if (path.startsWith('/')) {
    return refuse(`path ${quote(path)} must be relative (no leading '/')`);
  }
  if (path.includes('\\')) {
    return refuse(`path ${quote(path)} must not contain backslashes`);
  }
  if (path.includes('%')) {
    return refuse(`path ${quote(path)} must not be percent-encoded`);
  }
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '..') {
      return refuse(`path ${quote(path)} must not contain '..' segments`);
    }
    if (segment === '.' || segment === '') {
      return refuse(
        `path ${quote(path)} must not contain empty or '.' segments`,
      );
    }
    if (!SEGMENT.test(segment)) {
      return refuse(
        `path ${quote(
          path,
        )} may only contain letters, digits, '.', '_', '-' and '/' (segments start with a letter, digit or '_')`,
      );
    }
  }
  return accept(path);
}
