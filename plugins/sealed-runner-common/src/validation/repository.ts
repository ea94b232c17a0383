import { accept, Checked, checkPlainString, quote, refuse } from './checked';

/** @public */
export const MAX_URL_LENGTH = 2048;

/**
 * A git repository URL that passed {@link checkRepositoryUrl}.
 *
 * @public
 */
export interface RepositoryUrl {
  /** The URL exactly as given (it is already in canonical form). */
  url: string;
  transport: 'https' | 'ssh' | 'file';
  /** Host name, absent for `file://`. */
  host?: string;
}

const HOST =
  '(?<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)';
const PORT = '(?::(?<port>[0-9]{1,5}))?';
const USER = '(?<user>[A-Za-z0-9_][A-Za-z0-9._-]*)';
const ABSOLUTE_PATH = '(?<path>(?:/[A-Za-z0-9._~+-]+)+)';
const FORMS: Array<[RepositoryUrl['transport'], RegExp]> = [
  ['https', new RegExp(`^https://${HOST}${PORT}${ABSOLUTE_PATH}$`)],
  ['ssh', new RegExp(`^ssh://(?:${USER}@)?${HOST}${PORT}${ABSOLUTE_PATH}$`)],
  ['file', new RegExp(`^file://${ABSOLUTE_PATH}$`)],
  // scp-like syntax: git@github.com:acme/live.git
  [
    'ssh',
    new RegExp(
      `^${USER}@${HOST}:(?<path>[A-Za-z0-9_][A-Za-z0-9._~+-]*(?:/[A-Za-z0-9._~+-]+)*)$`,
    ),
  ],
];

/**
 * Checks a git repository URL. Accepts only `https://`, `ssh://`,
 * `user@host:path` and `file://` URLs with conservative characters: no
 * credentials, query, fragment, whitespace, `..`/`.` segments, segments that
 * start with `-`, and no git transport syntax (`ext::`, `fd::`, `file::`),
 * so a URL can never smuggle a command or an option into git.
 *
 * Passing this check does not make a URL deployable: it must also be on the
 * platform team's allowlist.
 *
 * @public
 */
export function checkRepositoryUrl(value: unknown): Checked<RepositoryUrl> {
  const plain = checkPlainString('repository URL', value, MAX_URL_LENGTH);
  if (!plain.ok) {
    return plain;
  }
  const url = plain.value;
  const bad = (why: string) =>
    refuse<RepositoryUrl>(`repository URL ${quote(url)} ${why}`);
  if (/\s/.test(url)) {
    return bad('must not contain whitespace');
  }
  if (url.startsWith('-')) {
    return bad("must not start with '-'");
  }
  if (url.includes('::')) {
    return bad(
      "uses git transport syntax ('<transport>::'), which is not allowed",
    );
  }
  if (url.startsWith('http://')) {
    return bad('uses plain http; use https, ssh or file');
  }
  for (const [transport, form] of FORMS) {
    const match = form.exec(url);
    if (!match) {
      continue;
    }
    const { host, port, path = '' } = match.groups ?? {};
    const segments = path.split('/').filter(Boolean);
    if (segments.some(s => s === '.' || s === '..')) {
      return bad("must not contain '.' or '..' segments");
    }
    if (segments.some(s => s.startsWith('-'))) {
      return bad("must not contain segments starting with '-'");
    }
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
      return bad('has an invalid port');
    }
    return accept({ url, transport, ...(host ? { host } : {}) });
  }
  return bad(
    'must be an https://, ssh://, user@host:path or file:// git URL without credentials, query or fragment',
  );
}

/**
 * What a repository URL names, whatever its spelling: host (lower case,
 * with a non-default port) and path, without transport, user or a `.git`
 * suffix, lower-cased — `https://GitHub.com/Acme/live.git`,
 * `git@github.com:acme/live` and `ssh://git@github.com/acme/live` are one
 * repository. Used where two spellings must not make two things: the one
 * owner and the one lock of a folder. (Lower-casing may merge two
 * repositories that differ only in case on a case-sensitive server; that
 * errs towards one owner, never towards two.) Undefined for a URL that
 * fails {@link checkRepositoryUrl}.
 *
 * @public
 */
export function repositoryIdentity(value: unknown): string | undefined {
  const checked = checkRepositoryUrl(value);
  if (!checked.ok) {
    return undefined;
  }
  const url = checked.value.url;
  let host = '';
  let port = '';
  let path: string;
  if (checked.value.transport === 'file') {
    path = url.slice('file://'.length);
  } else {
    const match =
      /^(?:https|ssh):\/\/(?:[^@/]+@)?([^/:]+)(?::(\d+))?(\/.*)$/.exec(url) ??
      /^[^@]+@([^:]+):()(.*)$/.exec(url)!;
    host = match[1];
    const defaultPort = url.startsWith('https://') ? '443' : '22';
    port = match[2] && match[2] !== defaultPort ? `:${match[2]}` : '';
    path = match[3];
  }
  const bare = path.replace(/^\/+/, '').replace(/\.git$/, '');
  return `${
    checked.value.transport === 'file' ? 'file:/' : `${host}${port}/`
  }${bare}`.toLocaleLowerCase('en-US');
}
