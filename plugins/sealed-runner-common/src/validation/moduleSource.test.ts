import { CatalogModule } from '../types';
import { Checked } from './checked';
import {
  checkVettedModuleSource,
  isLocalModuleSource,
  MAX_MODULE_VERSIONS,
  parseCatalogModule,
  parseModuleSource,
  resolveLocalModulePath,
} from './moduleSource';

function reasonOf(result: Checked<unknown>): string {
  if (result.ok) {
    throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  }
  return result.reason;
}

describe('parseModuleSource', () => {
  it.each([
    [
      'an https source with subdir and ref',
      'git::https://github.com/acme/service-catalog.git//modules/web-service?ref=v1.1.0',
      {
        base: 'git::https://github.com/acme/service-catalog.git//modules/web-service',
        repository: 'https://github.com/acme/service-catalog.git',
        subdir: 'modules/web-service',
        ref: 'v1.1.0',
      },
    ],
    [
      'a file source with subdir and ref',
      'git::file:///tmp/sc.git//modules/x?ref=v1.0.0',
      {
        base: 'git::file:///tmp/sc.git//modules/x',
        repository: 'file:///tmp/sc.git',
        subdir: 'modules/x',
        ref: 'v1.0.0',
      },
    ],
    [
      'a source without subdir',
      'git::https://github.com/acme/sc.git?ref=v2.0.0-rc1',
      {
        base: 'git::https://github.com/acme/sc.git',
        repository: 'https://github.com/acme/sc.git',
        ref: 'v2.0.0-rc1',
      },
    ],
    [
      'a source without ref',
      'git::https://github.com/acme/sc.git//modules/web',
      {
        base: 'git::https://github.com/acme/sc.git//modules/web',
        repository: 'https://github.com/acme/sc.git',
        subdir: 'modules/web',
      },
    ],
    [
      'a source with neither subdir nor ref',
      'git::ssh://git@github.com/acme/sc.git',
      {
        base: 'git::ssh://git@github.com/acme/sc.git',
        repository: 'ssh://git@github.com/acme/sc.git',
      },
    ],
    [
      'an scp-like source',
      'git::git@github.com:acme/sc.git//modules/web?ref=v1.0.0',
      {
        base: 'git::git@github.com:acme/sc.git//modules/web',
        repository: 'git@github.com:acme/sc.git',
        subdir: 'modules/web',
        ref: 'v1.0.0',
      },
    ],
    [
      // Host allow-listing is checkVettedModuleSource's job, not the parser's.
      'a source on a foreign host',
      'git::https://evil.example.com/x/y.git//m?ref=v1',
      {
        base: 'git::https://evil.example.com/x/y.git//m',
        repository: 'https://evil.example.com/x/y.git',
        subdir: 'm',
        ref: 'v1',
      },
    ],
  ])('parses %s', (_, source, expected) => {
    // Strict: a source without ref or subdir has no such key at all.
    expect(parseModuleSource(source)).toStrictEqual({
      ok: true,
      value: expected,
    });
  });

  it.each([
    ['a registry source', 'hashicorp/consul/aws', /is not a git:: source/],
    [
      'a private registry source',
      'app.terraform.io/acme/x/aws',
      /is not a git:: source/,
    ],
    ['a github shorthand', 'github.com/acme/x', /is not a git:: source/],
    [
      'an s3 source',
      's3::https://s3.amazonaws.com/bucket/x.zip',
      /is not a git:: source/,
    ],
    ['an http archive', 'https://example.com/x.zip', /is not a git:: source/],
    [
      'a bare git URL without git::',
      'https://github.com/acme/sc.git?ref=v1',
      /is not a git:: source/,
    ],
    [
      'an uppercase getter',
      'GIT::https://github.com/acme/sc.git',
      /is not a git:: source/,
    ],
    ['a local path', './modules/x', /is not a git:: source/],
    [
      'a second query parameter',
      'git::https://github.com/acme/sc.git?ref=v1&depth=1',
      /single \?ref=<tag>/,
    ],
    [
      'a depth parameter only',
      'git::https://github.com/acme/sc.git?depth=1',
      /single \?ref=<tag>/,
    ],
    [
      'an sshkey parameter',
      'git::ssh://git@github.com/acme/sc.git?sshkey=AAAA',
      /single \?ref=<tag>/,
    ],
    [
      'an sshkey before the ref',
      'git::https://github.com/acme/sc.git?sshkey=x&ref=v1',
      /single \?ref=<tag>/,
    ],
    [
      'an empty query',
      'git::https://github.com/acme/sc.git?',
      /single \?ref=<tag>/,
    ],
    [
      'an option as the ref',
      'git::https://github.com/acme/sc.git?ref=--upload-pack=x',
      /invalid ref/,
    ],
    [
      'an option-like ref',
      'git::https://github.com/acme/sc.git?ref=-x',
      /invalid ref.*must not start with '-'/,
    ],
    ['an empty ref', 'git::https://github.com/acme/sc.git?ref=', /invalid ref/],
    [
      'a revision expression as the ref',
      'git::https://github.com/acme/sc.git?ref=v1~1',
      /invalid ref/,
    ],
    [
      'a full ref name',
      'git::https://github.com/acme/sc.git?ref=refs/heads/main',
      /invalid ref/,
    ],
    [
      'a second ? in the query',
      'git::https://github.com/acme/sc.git?ref=v1?x=1',
      /invalid ref/,
    ],
    [
      'a traversing subdir',
      'git::https://github.com/acme/sc.git//../../etc',
      /invalid subdirectory/,
    ],
    [
      'a traversing subdir with ref',
      'git::https://github.com/acme/sc.git//modules/../../x?ref=v1',
      /invalid subdirectory/,
    ],
    [
      'an absolute subdir',
      'git::https://github.com/acme/sc.git///etc',
      /invalid subdirectory/,
    ],
    [
      'an empty subdir',
      'git::https://github.com/acme/sc.git//?ref=v1',
      /invalid subdirectory/,
    ],
    [
      'a subdir with a trailing slash',
      'git::https://github.com/acme/sc.git//modules/x/',
      /invalid subdirectory/,
    ],
    [
      'a double subdir separator',
      'git::https://github.com/acme/sc.git//modules//x',
      /invalid subdirectory/,
    ],
    [
      'a percent-encoded subdir',
      'git::https://github.com/acme/sc.git//%2e%2e/x',
      /invalid subdirectory/,
    ],
    ['a command transport', 'git::ext::sh -c x', /invalid repository/],
    [
      'a command transport without spaces',
      'git::ext::sh',
      /invalid repository.*transport syntax/,
    ],
    [
      'a nested getter',
      'git::git::https://github.com/acme/sc.git',
      /invalid repository.*transport syntax/,
    ],
    [
      'plain http',
      'git::http://github.com/acme/sc.git',
      /invalid repository.*plain http/,
    ],
    [
      'credentials',
      'git::https://u:p@github.com/acme/sc.git',
      /invalid repository/,
    ],
    [
      'a fragment',
      'git::https://github.com/acme/sc.git#x',
      /invalid repository/,
    ],
    [
      'an option as the repository',
      'git::--upload-pack=x',
      /invalid repository/,
    ],
    [
      'a traversing repository path',
      'git::file:///tmp/../etc',
      /invalid repository/,
    ],
    [
      'a newline',
      'git::https://github.com/acme/sc.git\n',
      /control characters/,
    ],
    [
      'a NUL byte',
      'git::https://github.com/acme/sc.git\u0000',
      /control characters/,
    ],
    ['an empty string', '', /must not be empty/],
    [
      'a 1 MB string',
      `git::https://github.com/${'a'.repeat(1024 * 1024)}`,
      /longer than 2048/,
    ],
    ['a number', 1, /must be a string/],
    ['null', null, /must be a string/],
    [
      'an object',
      { source: 'git::https://github.com/a/b' },
      /must be a string/,
    ],
  ])('refuses %s', (_, source, reason) => {
    const result = parseModuleSource(source);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
    expect(reasonOf(result)).toMatch(/^module source /);
    expect(reasonOf(result).length).toBeLessThan(600);
  });
});

describe('parseCatalogModule', () => {
  const source = 'git::https://github.com/acme/sc.git//modules/web';

  it.each([
    ['two versions', 'v1.0.0, v1.1.0', ['v1.0.0', 'v1.1.0']],
    ['one version', 'v1.0.0', ['v1.0.0']],
    ['versions without spaces', 'v1.0.0,v1.1.0', ['v1.0.0', 'v1.1.0']],
    ['padded versions', '  v1.0.0 ,  v1.1.0  ', ['v1.0.0', 'v1.1.0']],
    ['duplicates', 'v1.0.0, v1.1.0, v1.0.0,v1.1.0', ['v1.0.0', 'v1.1.0']],
  ])('parses %s', (_, versions, expected) => {
    expect(parseCatalogModule(source, versions)).toEqual({
      ok: true,
      value: { source, versions: expected },
    });
  });

  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);
  it.each([
    [
      'a pinned and an unpinned tag',
      `v1.0.0@${A}, v1.1.0`,
      ['v1.0.0', 'v1.1.0'],
      { 'v1.0.0': A },
    ],
    [
      'two pinned tags',
      `v1.0.0@${A},v1.1.0@${B}`,
      ['v1.0.0', 'v1.1.0'],
      { 'v1.0.0': A, 'v1.1.0': B },
    ],
    [
      'a tag pinned twice to the same commit',
      `v1.0.0@${A}, v1.0.0@${A}`,
      ['v1.0.0'],
      { 'v1.0.0': A },
    ],
  ])('parses %s, recording the commits', (_, versions, expected, commits) => {
    expect(parseCatalogModule(source, versions)).toEqual({
      ok: true,
      value: { source, versions: expected, commits },
    });
  });

  it.each([
    ['an abbreviated commit', 'v1.0.0@abc1234', /must be a full 40-character/],
    [
      'an upper-case commit',
      `v1.0.0@${'A'.repeat(40)}`,
      /must be a full 40-character/,
    ],
    [
      'a tag pinned to two commits',
      `v1.0.0@${A}, v1.0.0@${B}`,
      /pinned to two commits/,
    ],
    ['two @', `v1.0.0@${A}@${B}`, /must be <tag> or <tag>@<commit>/],
    ['an empty commit', 'v1.0.0@', /must be a full 40-character/],
    ['a commit with a shell', `v1.0.0@${A};rm`, /must be a full 40-character/],
    ['a commit without a tag', `@${A}`, /module versions/],
  ])('refuses %s', (_, versions, reason) => {
    expect(parseCatalogModule(source, versions)).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  it('accepts exactly the maximum number of tags', () => {
    const tags = Array.from({ length: MAX_MODULE_VERSIONS }, (_, i) => `v${i}`);
    expect(parseCatalogModule(source, tags.join(','))).toEqual({
      ok: true,
      value: { source, versions: tags },
    });
  });

  it('counts tags after removing duplicates', () => {
    const tags = Array.from({ length: MAX_MODULE_VERSIONS }, (_, i) => `v${i}`);
    expect(parseCatalogModule(source, [...tags, 'v0', 'v1'].join(','))).toEqual(
      {
        ok: true,
        value: { source, versions: tags },
      },
    );
  });

  it.each([
    [
      'a source with ?ref=',
      `${source}?ref=v1.0.0`,
      'v1.0.0',
      /must not include \?ref=/,
    ],
    [
      'a registry source',
      'hashicorp/consul/aws',
      'v1.0.0',
      /is not a git:: source/,
    ],
    ['a hostile source', 'git::ext::sh', 'v1.0.0', /invalid repository/],
    [
      'a bad tag in the list',
      source,
      'v1.0.0, -x',
      /module versions: tag "-x"/,
    ],
    [
      'a shell tag in the list',
      source,
      'v1.0.0, $(reboot)',
      /module versions: tag "\$\(reboot\)"/,
    ],
    ['a full ref in the list', source, 'refs/tags/v1', /module versions: tag/],
    ['an empty list', source, '', /module versions must not be empty/],
    ['a blank list', source, '   ', /module versions: tag must not be empty/],
    [
      'an empty item',
      source,
      'v1.0.0,,v1.1.0',
      /module versions: tag must not be empty/,
    ],
    [
      'a trailing comma',
      source,
      'v1.0.0,',
      /module versions: tag must not be empty/,
    ],
    ['a newline in the list', source, 'v1.0.0\nv1.1.0', /control characters/],
    [
      'more than the maximum number of tags',
      source,
      Array.from({ length: MAX_MODULE_VERSIONS + 1 }, (_, i) => `v${i}`).join(
        ',',
      ),
      /more than 100 tags/,
    ],
    ['a 1 MB list', source, 'v1,'.repeat(350000), /longer than/],
    [
      'a non-string list',
      source,
      ['v1.0.0'],
      /module versions must be a string/,
    ],
    ['a missing list', source, undefined, /module versions must be a string/],
    ['a missing source', undefined, 'v1.0.0', /module source must be a string/],
  ])('refuses %s', (_, src, versions, reason) => {
    expect(parseCatalogModule(src, versions)).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });
});

describe('isLocalModuleSource', () => {
  it.each([
    ['./x', true],
    ['../x', true],
    ['.', false],
    ['..', false],
    ['x', false],
    ['/x', false],
    ['.\\x', false],
    ['git::https://github.com/a/b', false],
  ])('%j → %s', (source, expected) => {
    expect(isLocalModuleSource(source)).toBe(expected);
  });
});

describe('resolveLocalModulePath', () => {
  it.each([
    ['live/prod/payments', '../../modules/x', 'live/modules/x'],
    ['a', './b', 'a/b'],
    ['a/b', '../..', '.'],
    ['a/b', '../../', '.'],
    ['a/b', '../c', 'a/c'],
    ['a', './b/../c', 'a/c'],
    ['a', './/b', 'a/b'],
    ['.', './modules/x', 'modules/x'],
    ['.', './', '.'],
    ['live/prod', '../../x', 'x'],
  ])('resolves %j + %j → %j', (from, source, expected) => {
    expect(resolveLocalModulePath(from, source)).toEqual({
      ok: true,
      value: expected,
    });
  });

  it.each([
    ['live/prod', '../../../x', /leaves the repository/],
    ['a', '../..', /leaves the repository/],
    ['.', '../x', /leaves the repository/],
    ['a', './b/../../../x', /leaves the repository/],
    ['a', 'b', /is not a local path/],
    ['a', '/etc/passwd', /is not a local path/],
    ['a', 'git::https://github.com/acme/sc.git', /is not a local path/],
    ['a', 'hashicorp/consul/aws', /is not a local path/],
    ['a', '.\\b', /is not a local path/],
    ['a', './-rf', /segments start with/],
    ['a', './.git', /segments start with/],
    ['a', './b c', /may only contain/],
    ['a', './%2e%2e/x', /percent-encoded/],
    ['a', '..\\..\\x', /is not a local path/],
    ['a', './b\\..\\..\\..', /backslash/],
    ['a', './b\n', /control characters/],
    ['a', '', /must not be empty/],
    ['a', `./${'a/'.repeat(600)}`, /longer than/],
  ])('refuses %j + %j', (from, source, reason) => {
    expect(resolveLocalModulePath(from, source)).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  // The calling folder comes from a checked job path or an earlier
  // resolution, but the primitive must not turn a folder outside the
  // repository into one inside it.
  it.each([
    ['..', '../a'],
    ['../..', '../../a'],
    ['a/../..', '../x'],
    ['/etc', '../x'],
    ['', '../x'],
  ])('refuses the calling folder %j (with %j)', (from, source) => {
    expect(resolveLocalModulePath(from, source)).toMatchObject({ ok: false });
  });
});

describe('checkVettedModuleSource', () => {
  const web = 'git::https://github.com/acme/sc.git//modules/web';
  const modules: CatalogModule[] = [
    { source: web, versions: ['v1.0.0', 'v1.1.0'] },
    {
      source: 'git::https://github.com/acme/sc.git//modules/db',
      versions: ['v2.0.0'],
    },
    { source: 'git::https://github.com/acme/whole.git', versions: ['v3.0.0'] },
    {
      source: 'git::https://github.com/acme/sc.git//modules/retired',
      versions: [],
    },
  ];

  it.each([
    [`${web}?ref=v1.0.0`, 'v1.0.0'],
    [`${web}?ref=v1.1.0`, 'v1.1.0'],
    ['git::https://github.com/acme/sc.git//modules/db?ref=v2.0.0', 'v2.0.0'],
    ['git::https://github.com/acme/whole.git?ref=v3.0.0', 'v3.0.0'],
  ])('accepts the vetted %s', (source, ref) => {
    expect(checkVettedModuleSource(source, modules)).toEqual({
      ok: true,
      value: expect.objectContaining({ ref }),
    });
  });

  it('refuses an unvetted version, naming it and the vetted ones', () => {
    const result = checkVettedModuleSource(`${web}?ref=v9.9.9`, modules);
    expect(reasonOf(result)).toContain('"v9.9.9"');
    expect(reasonOf(result)).toContain('not vetted');
    expect(reasonOf(result)).toContain('(vetted: v1.0.0, v1.1.0)');
  });

  it('refuses a version vetted for another module of the same repository', () => {
    const result = checkVettedModuleSource(`${web}?ref=v2.0.0`, modules);
    expect(reasonOf(result)).toMatch(/version "v2\.0\.0", which is not vetted/);
  });

  it('refuses every version of a module without vetted versions', () => {
    const result = checkVettedModuleSource(
      'git::https://github.com/acme/sc.git//modules/retired?ref=v1.0.0',
      modules,
    );
    expect(reasonOf(result)).toContain('(vetted: none)');
  });

  it('refuses an unpinned source, listing the vetted versions', () => {
    const result = checkVettedModuleSource(web, modules);
    expect(reasonOf(result)).toContain(JSON.stringify(web));
    expect(reasonOf(result)).toContain('is not pinned');
    expect(reasonOf(result)).toContain('v1.0.0, v1.1.0');
  });

  it.each([
    [
      'a foreign host',
      'git::https://evil.example.com/acme/sc.git//modules/web?ref=v1.0.0',
    ],
    [
      'a different repository',
      'git::https://github.com/evil/sc.git//modules/web?ref=v1.0.0',
    ],
    [
      'the same repository over ssh',
      'git::ssh://git@github.com/acme/sc.git//modules/web?ref=v1.0.0',
    ],
    [
      'the same repository, another subdir',
      'git::https://github.com/acme/sc.git//modules/other?ref=v1.0.0',
    ],
    [
      'the same repository, a parent subdir',
      'git::https://github.com/acme/sc.git//modules?ref=v1.0.0',
    ],
    [
      'the same repository, a nested subdir',
      'git::https://github.com/acme/sc.git//modules/web/inner?ref=v1.0.0',
    ],
    [
      'the repository root of a subdir module',
      'git::https://github.com/acme/sc.git?ref=v1.0.0',
    ],
    [
      'a subdir of a root module',
      'git::https://github.com/acme/whole.git//modules/x?ref=v3.0.0',
    ],
    [
      'the repository without .git',
      'git::https://github.com/acme/sc//modules/web?ref=v1.0.0',
    ],
    [
      'a case variant',
      'git::https://github.com/Acme/sc.git//modules/web?ref=v1.0.0',
    ],
    [
      'a case variant of the subdir',
      'git::https://github.com/acme/sc.git//modules/Web?ref=v1.0.0',
    ],
  ])('refuses %s as not vetted, naming the source', (_, source) => {
    const result = checkVettedModuleSource(source, modules);
    expect(reasonOf(result)).toContain('is not a vetted catalog module');
    expect(reasonOf(result)).toContain(JSON.stringify(source));
  });

  it.each([
    ['a trailing slash on the subdir', `${web}/?ref=v1.0.0`],
    ['a registry source', 'hashicorp/consul/aws'],
    ['a github shorthand', 'github.com/acme/sc//modules/web?ref=v1.0.0'],
    ['an extra query parameter', `${web}?ref=v1.0.0&depth=1`],
    [
      'a traversing subdir',
      'git::https://github.com/acme/sc.git//modules/x/../web?ref=v1.0.0',
    ],
    ['a local path', './modules/web'],
  ])('refuses %s as not parseable, naming the source', (_, source) => {
    const result = checkVettedModuleSource(source, modules);
    expect(reasonOf(result)).toMatch(
      /only vetted catalog modules may be used$/,
    );
    expect(reasonOf(result)).toContain(JSON.stringify(source));
  });

  it('refuses a non-string source', () => {
    expect(reasonOf(checkVettedModuleSource({ source: web }, modules))).toBe(
      'module source must be a string; only vetted catalog modules may be used',
    );
  });

  it('refuses everything against an empty catalog', () => {
    expect(
      reasonOf(checkVettedModuleSource(`${web}?ref=v1.0.0`, [])),
    ).toContain('is not a vetted catalog module');
  });
});
