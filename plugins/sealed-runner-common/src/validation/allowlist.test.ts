import { checkRepositoryAllowed } from './allowlist';

describe('checkRepositoryAllowed', () => {
  const allowlist = [
    'https://github.com/acme/*',
    'https://git.example.com/platform/live.git',
    'git@github.com:ops/*',
    'file:///srv/git/*',
  ];

  it.each([
    ['an exact entry', 'https://git.example.com/platform/live.git'],
    ['one segment under an https prefix', 'https://github.com/acme/live.git'],
    ['one segment under an scp-like prefix', 'git@github.com:ops/live'],
    ['one segment under a file prefix', 'file:///srv/git/live.git'],
  ])('accepts %s', (_, url) => {
    expect(checkRepositoryAllowed(url, allowlist)).toEqual({
      ok: true,
      value: url,
    });
  });

  it.each([
    ['a path deeper than the prefix', 'https://github.com/acme/a/b'],
    ['a sibling prefix', 'https://github.com/acmeevil/x'],
    ['the prefix itself', 'https://github.com/acme'],
    ['the prefix host with another owner', 'https://github.com/evil/acme'],
    ['another host', 'https://gitlab.com/acme/live'],
    ['the same repository on another port', 'https://github.com:443/acme/live'],
    ['the same repository over ssh', 'ssh://git@github.com/acme/live'],
    ['a near-miss of an exact entry', 'https://git.example.com/platform/live'],
    [
      'a suffix of an exact entry',
      'https://git.example.com/platform/live.git.evil',
    ],
    [
      'a case variant of an exact entry',
      'https://git.example.com/Platform/live.git',
    ],
    ['a deeper file path', 'file:///srv/git/a/live.git'],
  ])('refuses %s with a reason naming the allowlist', (_, url) => {
    const result = checkRepositoryAllowed(url, allowlist);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /is not on the sealedRunner\.repositories allowlist/,
      ),
    });
    expect(result).toEqual({
      ok: false,
      reason: expect.stringContaining(JSON.stringify(url)),
    });
  });

  it('refuses everything when the allowlist is empty', () => {
    expect(
      checkRepositoryAllowed('https://github.com/acme/live', []),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/allowlist/) });
  });

  // The URL check runs first: no allowlist entry, however broad or odd, can
  // let a hostile URL through.
  it.each([
    [
      'a traversal under an allowed prefix',
      'https://github.com/acme/..',
      allowlist,
      /'\.' or '\.\.' segments/,
    ],
    [
      'a transport that an entry lists verbatim',
      'ext::sh -c x',
      ['ext::sh -c x'],
      /whitespace/,
    ],
    [
      'a transport without spaces listed verbatim',
      'fd::17',
      ['fd::17', '*'],
      /transport syntax/,
    ],
    [
      'an option listed verbatim',
      '--upload-pack=x',
      ['--upload-pack=x'],
      /must not start with '-'/,
    ],
    [
      'plain http under a broad entry',
      'http://github.com/acme/x',
      ['http://github.com/acme/*'],
      /plain http/,
    ],
    [
      'credentials under a prefix',
      'https://u:p@github.com/acme/x',
      ['https://u:p@github.com/acme/*'],
      /without credentials/,
    ],
    [
      'a query listed verbatim',
      'https://github.com/acme/x?a=1',
      ['https://github.com/acme/x?a=1'],
      /query/,
    ],
    [
      'a newline under a prefix',
      'https://github.com/acme/x\n',
      allowlist,
      /control characters/,
    ],
    [
      'an empty string under an empty-prefix entry',
      '',
      ['/*', '*', ''],
      /must not be empty/,
    ],
    ['a non-string', 42, ['42'], /must be a string/],
  ])('refuses %s', (_, url, list, reason) => {
    expect(checkRepositoryAllowed(url, list)).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  it.each([['*'], ['/*'], ['https://*'], ['https://github.com/*']])(
    'does not let the odd entry %j match a multi-segment repository',
    entry => {
      expect(
        checkRepositoryAllowed('https://github.com/acme/live', [entry]),
      ).toMatchObject({ ok: false });
    },
  );
});
