import { checkPlainString, quote, valueOf } from './checked';
import { checkRelativePath } from './paths';
import { checkBranchName, checkCommitSha, checkEnvironmentName } from './refs';
import { checkRepositoryUrl } from './repository';
import { parseModuleSource } from './moduleSource';

// Refusal reasons end up in API responses, the Backstage UI, runner logs and
// terminals. A hostile value must not be able to steer a terminal (C0/C1
// controls, DEL) or visually reorder the text around it (bidi controls).
const UNSAFE_IN_REASONS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('checkPlainString', () => {
  it.each([
    ['a', 1],
    ['live/prod', 9],
    ['caf\u00e9', 4],
  ])('accepts %j up to %i characters', (value, max) => {
    expect(checkPlainString('thing', value, max)).toEqual({ ok: true, value });
  });

  it.each([
    ['a non-string', 1, 10, 'thing must be a string'],
    ['a boxed string', Object('a'), 10, 'thing must be a string'],
    ['an empty string', '', 10, 'thing must not be empty'],
    [
      'a string one over the limit',
      'abc',
      2,
      'thing is longer than 2 characters',
    ],
    [
      'a NUL byte',
      'a\u0000',
      10,
      'thing "a\\u0000" contains control characters',
    ],
    ['a newline', 'a\n', 10, 'thing "a\\n" contains control characters'],
    [
      'an escape',
      '\u001b[2J',
      10,
      'thing "\\u001b[2J" contains control characters',
    ],
  ])('refuses %s', (_, value, max, reason) => {
    expect(checkPlainString('thing', value, max)).toEqual({
      ok: false,
      reason,
    });
  });

  it.each([
    ['DEL', '\u007f'],
    ['CSI', '\u009b'],
    ['NEL', '\u0085'],
  ])('refuses %s as a control character', (_, char) => {
    expect(checkPlainString('thing', `a${char}b`, 10)).toMatchObject({
      ok: false,
    });
  });
});

describe('quote', () => {
  it.each([
    ['main', '"main"'],
    ['a"b', '"a\\"b"'],
    ['a\\b', '"a\\\\b"'],
    ['a\nb', '"a\\nb"'],
  ])('quotes %j as %s', (value, expected) => {
    expect(quote(value)).toBe(expected);
  });

  it('shows only the start of a megabyte value', () => {
    const quoted = quote(`${'x'.repeat(1024 * 1024)}TAIL`);
    expect(quoted.startsWith('"xxx')).toBe(true);
    expect(quoted.endsWith('…"')).toBe(true);
    expect(quoted).not.toContain('TAIL');
    expect(quoted.length).toBeLessThan(1000);
  });

  it('escapes what it does not echo, so the value stays recognisable', () => {
    expect(quote('a\u009bb\u202ec')).toBe('"a\\u009bb\\u202ec"');
  });

  it.each([
    ['DEL', '\u007f'],
    ['a C1 CSI', '\u009b'],
    ['a C1 NEL', '\u0085'],
    ['an RTL override', '\u202e'],
    ['an LTR embedding', '\u202a'],
    ['a right-to-left isolate', '\u2067'],
    ['a line separator', '\u2028'],
    ['a paragraph separator', '\u2029'],
  ])('never echoes %s', (_, char) => {
    expect(quote(`a${char}b`)).not.toMatch(UNSAFE_IN_REASONS);
  });
});

describe('refusal reasons', () => {
  const hostile = [
    ['DEL', 'a\u007fb'],
    ['a C1 CSI sequence', 'a\u009b2Jb'],
    ['an RTL override', 'a\u202eb'],
    ['a line separator', 'a\u2028b'],
    ['an escape sequence', 'a\u001b[2Jb'],
  ];

  it.each(
    hostile.flatMap(([what, value]) => [
      ['checkRelativePath', what, checkRelativePath, value],
      ['checkBranchName', what, checkBranchName, value],
      ['checkCommitSha', what, checkCommitSha, value],
      ['checkEnvironmentName', what, checkEnvironmentName, value],
      [
        'checkRepositoryUrl',
        what,
        checkRepositoryUrl,
        `https://github.com/${value}`,
      ],
      [
        'parseModuleSource',
        what,
        parseModuleSource,
        `git::https://github.com/a/b.git//${value}`,
      ],
    ]) as Array<
      [string, string, (v: unknown) => { ok: boolean; reason?: string }, string]
    >,
  )('%s does not echo %s', (_, __, check, value) => {
    const result = check(value);
    expect(result.ok).toBe(false);
    expect(result.reason).not.toMatch(UNSAFE_IN_REASONS);
  });
});

describe('valueOf', () => {
  it('returns the accepted value', () => {
    expect(valueOf(checkBranchName('feature/x'))).toBe('feature/x');
  });

  it.each([
    ['an option as a branch', () => checkBranchName('--upload-pack=x')],
    ['a short commit', () => checkCommitSha('abc')],
  ])('throws the reason for %s', (_, check) => {
    const result = check();
    expect(result.ok).toBe(false);
    expect(() => valueOf(result)).toThrow(
      (result as { reason: string }).reason,
    );
  });
});
