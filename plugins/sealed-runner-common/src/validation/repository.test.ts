import { Checked } from './checked';
import {
  checkRepositoryUrl,
  MAX_URL_LENGTH,
  repositoryIdentity,
} from './repository';

function reasonOf(result: Checked<unknown>): string {
  if (result.ok) {
    throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  }
  return result.reason;
}

// A repository URL is handed to `git clone`. git understands transport
// helpers (`ext::` runs a command), options (`--upload-pack`), ssh options
// smuggled in the host (`-oProxyCommand`), and credentials in the URL; the
// check refuses all of them.
describe('checkRepositoryUrl', () => {
  it.each([
    ['https://github.com/acme/live.git', 'https', 'github.com'],
    ['https://github.com/acme/live', 'https', 'github.com'],
    ['https://git.example.com:8443/acme/live', 'https', 'git.example.com'],
    ['https://GitHub.com/Acme/Live_repo~1+x', 'https', 'GitHub.com'],
    ['ssh://git@github.com/acme/live.git', 'ssh', 'github.com'],
    ['ssh://github.com/acme/live.git', 'ssh', 'github.com'],
    ['ssh://git@github.com:22/acme/live.git', 'ssh', 'github.com'],
    ['git@github.com:acme/live.git', 'ssh', 'github.com'],
    ['git@github.com:live', 'ssh', 'github.com'],
  ])('accepts %s as %s on %s', (url, transport, host) => {
    expect(checkRepositoryUrl(url)).toEqual({
      ok: true,
      value: { url, transport, host },
    });
  });

  it.each([['file:///srv/git/live.git'], ['file:///tmp/sc.git']])(
    'accepts the host-less %s',
    url => {
      expect(checkRepositoryUrl(url)).toEqual({
        ok: true,
        value: { url, transport: 'file' },
      });
    },
  );

  const NOT_A_GIT_URL =
    /must be an https:\/\/, ssh:\/\/, user@host:path or file:\/\/ git URL/;

  it.each([
    ['the ext:: transport', 'ext::sh -c touch% /tmp/pwned', /whitespace/],
    ['the ext:: transport without spaces', 'ext::sh', /transport syntax/],
    ['the fd:: transport', 'fd::17', /transport syntax/],
    ['the file:: transport', 'file::/tmp/x', /transport syntax/],
    [
      'a forced git:: getter',
      'git::https://github.com/acme/x',
      /transport syntax/,
    ],
    [
      'a transport inside the path',
      'https://github.com/a/ext::sh',
      /transport syntax/,
    ],
    ['plain http', 'http://github.com/a/b', /plain http/],
    ['credentials', 'https://user:pass@github.com/a/b', /without credentials/],
    [
      'a user name in an https URL',
      'https://user@github.com/a/b',
      /without credentials/,
    ],
    ['a query', 'https://github.com/a/b?x=1', /query/],
    ['a fragment', 'https://github.com/a/b#frag', /fragment/],
    [
      'a parent segment',
      'https://github.com/a/../b',
      /'\.' or '\.\.' segments/,
    ],
    [
      'a current-directory segment',
      'https://github.com/a/./b',
      /'\.' or '\.\.' segments/,
    ],
    [
      'a trailing parent segment',
      'https://github.com/a/..',
      /'\.' or '\.\.' segments/,
    ],
    [
      'an scp-like parent segment',
      'git@github.com:acme/../x',
      /'\.' or '\.\.' segments/,
    ],
    [
      'a file:// parent segment',
      'file:///tmp/../etc',
      /'\.' or '\.\.' segments/,
    ],
    ['percent-encoded dots', 'https://github.com/a/%2e%2e/b', NOT_A_GIT_URL],
    [
      'an --upload-pack option',
      '--upload-pack=evil',
      /must not start with '-'/,
    ],
    ['an ssh option', '-oProxyCommand=evil', /must not start with '-'/],
    ['an ssh option as the host', 'ssh://-oProxyCommand=evil/x', NOT_A_GIT_URL],
    [
      'an ssh option as the scp-like user',
      '-oProxyCommand=x@github.com:a',
      /must not start with '-'/,
    ],
    ['an option-like scp-like path', 'git@github.com:-x', NOT_A_GIT_URL],
    [
      'an option-like path segment',
      'https://github.com/-x/y',
      /segments starting with '-'/,
    ],
    [
      'an option-like ssh path segment',
      'ssh://git@github.com/--upload-pack',
      /segments starting with '-'/,
    ],
    [
      'an option-like file path segment',
      'file:///-x',
      /segments starting with '-'/,
    ],
    ['a space', 'https://github.com/a b', /whitespace/],
    ['leading whitespace', ' https://github.com/a/b', /whitespace/],
    ['a non-breaking space', 'https://github.com/a\u00a0b', /whitespace/],
    ['a unicode line separator', 'https://github.com/a\u2028b', /whitespace/],
    ['a newline', 'https://github.com/a/b\n', /control characters/],
    ['a NUL byte', 'https://github.com/a/b\u0000', /control characters/],
    [
      'an escape sequence',
      'https://github.com/a/\u001b[2Jb',
      /control characters/,
    ],
    ['a unicode RTL override', 'https://github.com/a/\u202eb', NOT_A_GIT_URL],
    ['a windows path', 'C:\\repo', NOT_A_GIT_URL],
    ['a UNC path', '\\\\server\\share\\repo', NOT_A_GIT_URL],
    ['a bare local path', '/srv/git/live.git', NOT_A_GIT_URL],
    ['a relative path', '../live', NOT_A_GIT_URL],
    ['a host-less https URL', 'https:///acme/live', NOT_A_GIT_URL],
    ['an https URL without a path', 'https://github.com', NOT_A_GIT_URL],
    ['a trailing slash', 'https://github.com/a/b/', NOT_A_GIT_URL],
    ['an empty path segment', 'https://github.com//a', NOT_A_GIT_URL],
    ['a file:// URL with a host', 'file://evil.example.com/x', NOT_A_GIT_URL],
    ['an ftp URL', 'ftp://github.com/a/b', NOT_A_GIT_URL],
    ['an uppercase scheme', 'HTTPS://github.com/a/b', NOT_A_GIT_URL],
    ['a host with a trailing dot', 'https://github.com./a/b', NOT_A_GIT_URL],
    ['a host starting with -', 'https://-github.com/a/b', NOT_A_GIT_URL],
    ['an IPv6 literal', 'https://[::1]/a/b', /transport syntax/],
    ['port 0', 'https://github.com:0/a/b', /invalid port/],
    ['port 65536', 'https://github.com:65536/a/b', /invalid port/],
    ['a named port', 'https://github.com:https/a/b', NOT_A_GIT_URL],
    ['an empty string', '', /must not be empty/],
    [
      'a 1 MB string',
      `https://github.com/${'a'.repeat(1024 * 1024)}`,
      /longer than 2048/,
    ],
    [
      'one character too long',
      `https://github.com/${'a'.repeat(MAX_URL_LENGTH)}`,
      /longer than/,
    ],
    ['a number', 42, /must be a string/],
    ['null', null, /must be a string/],
    ['an object', { url: 'https://github.com/a/b' }, /must be a string/],
    ['an array', ['https://github.com/a/b'], /must be a string/],
  ])('refuses %s', (_, url, reason) => {
    const result = checkRepositoryUrl(url);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
    expect(reasonOf(result)).toMatch(/^repository URL /);
    // Hostile values are quoted in the reason, but never in full.
    expect(reasonOf(result).length).toBeLessThan(600);
  });
});

describe('checkRepositoryUrl reasons', () => {
  it('quote only the start of a long hostile URL', () => {
    const url = `https://github.com/${'a'.repeat(2000)}?evil=TAIL`;
    expect(url.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
    const reason = reasonOf(checkRepositoryUrl(url));
    expect(reason).toContain('"https://github.com/aaa');
    expect(reason).not.toContain('TAIL');
    expect(reason.length).toBeLessThan(600);
  });
});

describe('repositoryIdentity', () => {
  it.each([
    ['https://github.com/acme/live.git', 'github.com/acme/live'],
    ['https://GitHub.com/Acme/Live', 'github.com/acme/live'],
    ['https://github.com:443/acme/live.git', 'github.com/acme/live'],
    ['git@github.com:acme/live.git', 'github.com/acme/live'],
    ['ssh://git@github.com/acme/live', 'github.com/acme/live'],
    ['ssh://git@github.com:22/acme/live.git', 'github.com/acme/live'],
    ['ssh://git@github.com:2222/acme/live.git', 'github.com:2222/acme/live'],
    [
      'https://git.example.com:8443/acme/live',
      'git.example.com:8443/acme/live',
    ],
    ['file:///srv/git/Live.git', 'file:/srv/git/live'],
  ])('%s is %s', (url, identity) => {
    expect(repositoryIdentity(url)).toBe(identity);
  });

  it('tells different repositories apart', () => {
    const ids = [
      'https://github.com/acme/live',
      'https://github.com/acme/live2',
      'https://gitlab.com/acme/live',
    ].map(repositoryIdentity);
    expect(new Set(ids).size).toBe(3);
  });

  it.each([['ext::sh -c x'], ['https://github.com/acme/../live'], [''], [42]])(
    'has none for %j',
    url => {
      expect(repositoryIdentity(url)).toBeUndefined();
    },
  );
});
