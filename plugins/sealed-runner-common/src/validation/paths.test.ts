import { checkRelativePath, MAX_PATH_LENGTH } from './paths';

// The path names the folder the runner cds into inside a fresh checkout. Any
// value that could name something outside the checkout, or be read as an
// option by a tool, must be refused.
describe('checkRelativePath', () => {
  it.each([
    ['live/prod/payments'],
    ['a'],
    ['a_b/c-d.e'],
    ['_private/x'],
    ['A/B/0'],
    ['a..b'],
    ['x'.repeat(MAX_PATH_LENGTH)],
  ])('accepts %j', path => {
    expect(checkRelativePath(path)).toEqual({ ok: true, value: path });
  });

  it.each([
    ['a parent segment', '../x', /'\.\.' segments/],
    ['a parent segment in the middle', 'a/../b', /'\.\.' segments/],
    ['a parent segment at the end', 'a/b/..', /'\.\.' segments/],
    ['only a parent segment', '..', /'\.\.' segments/],
    ['an absolute path', '/etc/passwd', /must be relative/],
    ['a lone slash', '/', /must be relative/],
    ['an empty segment', 'a//b', /empty or '\.' segments/],
    ['a leading current-directory segment', './a', /empty or '\.' segments/],
    ['a current-directory segment', 'a/./b', /empty or '\.' segments/],
    ['only a current-directory segment', '.', /empty or '\.' segments/],
    ['a trailing slash', 'a/', /empty or '\.' segments/],
    ['a backslash', 'a\\b', /backslash/],
    ['a windows traversal', '..\\..\\x', /backslash/],
    ['percent-encoded dots', '%2e%2e/x', /percent-encoded/],
    ['a percent-encoded slash', 'a%2fb', /percent-encoded/],
    ['a NUL byte', 'a\u0000b', /control characters/],
    ['a newline', 'a\nb', /control characters/],
    ['a carriage return', 'a\rb', /control characters/],
    ['a tab', 'a\tb', /control characters/],
    ['DEL', 'a\u007fb', /control characters/],
    ['a C1 control (CSI)', 'a\u009b31mb', /control characters/],
    ['an escape sequence', 'a\u001b[31mb', /control characters/],
    ['a unicode RTL override', 'a\u202eb', /may only contain/],
    ['a zero-width space', 'a\u200bb', /may only contain/],
    ['a non-ASCII letter', 'caf\u00e9', /may only contain/],
    ['a full-width dot segment', '\uff0e\uff0e/x', /may only contain/],
    ['a space', 'a b', /may only contain/],
    ['a shell metacharacter', 'a;rm -rf', /may only contain/],
    ['a glob', 'live/*', /may only contain/],
    ['a home-directory reference', '~/x', /may only contain/],
    ['a dot-file segment', '.git', /segments start with/],
    ['a nested dot-file segment', 'a/.git/hooks', /segments start with/],
    ['a segment that looks like an option', '-rf', /segments start with/],
    ['a nested option-like segment', 'a/--exec=x', /may only contain/],
    ['a nested option-like segment without =', 'a/-rf', /segments start with/],
    ['an empty string', '', /must not be empty/],
    ['a 1 MB string', 'a'.repeat(1024 * 1024), /longer than 512/],
    ['one character too long', 'x'.repeat(MAX_PATH_LENGTH + 1), /longer than/],
  ])('refuses %s', (_, path, reason) => {
    const result = checkRelativePath(path);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { toString: () => 'live/prod' }],
    ['an array', ['live', 'prod']],
    ['a String object', Object('live/prod')],
  ])('refuses %s, which is not a string', (_, value) => {
    expect(checkRelativePath(value)).toEqual({
      ok: false,
      reason: 'path must be a string',
    });
  });
});
