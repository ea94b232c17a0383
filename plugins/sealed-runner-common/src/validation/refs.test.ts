import {
  checkBranchName,
  checkCommitSha,
  checkEnvironmentName,
  checkRefName,
  checkTagName,
  MAX_REF_LENGTH,
} from './refs';
import { Checked } from './checked';

function reasonOf(result: Checked<unknown>): string {
  if (result.ok) {
    throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  }
  return result.reason;
}

// Branch and tag names end up as git arguments and in refspecs. Anything git
// could read as an option, a revision expression or a full ref is refused.
const goodRefs = [
  'main',
  'feature/x-1',
  'release/1.2',
  'v1.0.0',
  'v2.0.0-rc1',
  'a_b',
  'a+b',
  'a.b',
  'x'.repeat(MAX_REF_LENGTH),
];

const hostileRefs: Array<[string, unknown, RegExp]> = [
  ['an option', '-x', /must not start with '-'/],
  ['a forced refspec', '+main', /must not start with '-' or '\+'/],
  [
    'an --upload-pack option',
    '--upload-pack=touch /tmp/pwned',
    /may only contain/,
  ],
  [
    'an option with only safe characters',
    '--orphan',
    /must not start with '-'/,
  ],
  ['a range', 'a..b', /must not contain '\.\.'/],
  ['a parent path', '../main', /must not contain '\.\.'/],
  ['a reflog expression', 'a@{1}', /may only contain/],
  ['a lone @', '@', /may only contain/],
  ['a space', 'a b', /may only contain/],
  ['an ancestor expression', 'a~1', /may only contain/],
  ['a parent expression', 'a^', /may only contain/],
  ['a refspec', 'a:b', /may only contain/],
  ['a glob', 'release/*', /may only contain/],
  ['a question mark', 'a?', /may only contain/],
  ['an open bracket', 'a[', /may only contain/],
  ['a backslash', 'a\\b', /may only contain/],
  ['a full ref name', 'refs/heads/main', /short branch or tag name/],
  ['HEAD', 'HEAD', /short branch or tag name/],
  ['a component starting with a dot', 'a/.b', /starting with '\.'/],
  ['a leading dot', '.hidden', /starting with '\.'/],
  ['a .lock suffix', 'a.lock', /ending with '\.lock'/],
  ['a .lock component', 'a.lock/b', /ending with '\.lock'/],
  ['a trailing slash', 'a/', /must not start or end with '\/'/],
  ['a leading slash', '/a', /must not start or end with '\/'/],
  ['an empty component', 'a//b', /must not contain '\/\/'/],
  ['a trailing dot', 'a.', /must not end with '\.'/],
  ['a newline', 'main\nx', /control characters/],
  ['a NUL byte', 'main\u0000', /control characters/],
  ['DEL', 'main\u007f', /control characters/],
  ['a tab', 'a\tb', /control characters/],
  ['a command substitution', '$(reboot)', /may only contain/],
  ['backticks', '`reboot`', /may only contain/],
  ['a command separator', ';rm -rf', /may only contain/],
  ['a pipe', 'a|b', /may only contain/],
  ['a unicode RTL override', 'a\u202eb', /may only contain/],
  ['an empty string', '', /must not be empty/],
  ['a 1 MB string', 'a'.repeat(1024 * 1024), /longer than 200/],
  ['one character too long', 'x'.repeat(MAX_REF_LENGTH + 1), /longer than/],
  ['a number', 1, /must be a string/],
  ['null', null, /must be a string/],
  ['undefined', undefined, /must be a string/],
  ['an object', { name: 'main' }, /must be a string/],
  ['an array', ['main'], /must be a string/],
];

describe.each([
  ['checkBranchName', checkBranchName, 'branch'],
  ['checkTagName', checkTagName, 'tag'],
  ['checkRefName', (value: unknown) => checkRefName(value), 'branch'],
  [
    'checkRefName with a label',
    (value: unknown) => checkRefName(value, 'apply branch'),
    'apply branch',
  ],
])('%s', (_, check, what) => {
  it.each(goodRefs)('accepts %j', ref => {
    expect(check(ref)).toEqual({ ok: true, value: ref });
  });

  it.each(hostileRefs)('refuses %s', (__, value, reason) => {
    const result = check(value);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
    // The reason names what was being checked, so a user knows which field to fix.
    expect(reasonOf(result).startsWith(`${what} `)).toBe(true);
  });
});

describe('checkCommitSha', () => {
  const sha = '0123456789abcdef0123456789abcdef01234567';

  it.each([[sha], ['f'.repeat(40)], ['0'.repeat(40)]])('accepts %s', value => {
    expect(checkCommitSha(value)).toEqual({ ok: true, value });
  });

  it.each([
    ['uppercase hex', sha.toUpperCase()],
    ['one uppercase letter', `${sha.slice(0, 39)}A`],
    ['39 characters', sha.slice(0, 39)],
    ['41 characters', `${sha}0`],
    ['an abbreviated sha', sha.slice(0, 7)],
    ['a sha prefixed with -', `-${sha.slice(1)}`],
    ['a non-hex character', `${sha.slice(0, 39)}g`],
    ['a sha-256 object id', 'a'.repeat(64)],
    ['a trailing newline', `${sha}\n`],
    ['surrounding spaces', ` ${sha} `],
    ['a branch name', 'main'],
    ['a revision expression', 'HEAD~1'],
    ['an empty string', ''],
    ['a 1 MB string', 'a'.repeat(1024 * 1024)],
  ])('refuses %s', (_, value) => {
    const result = checkCommitSha(value);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(
        /^commit .*full 40-character lowercase hex sha/,
      ),
    });
    expect(reasonOf(result).length).toBeLessThan(600);
  });

  it.each([[null], [undefined], [40], [{}], [[sha]]])(
    'refuses the non-string %j',
    value => {
      expect(checkCommitSha(value)).toEqual({
        ok: false,
        reason: expect.stringMatching(/^commit value must be a full/),
      });
    },
  );
});

describe('checkEnvironmentName', () => {
  it.each([['dev'], ['prod'], ['eu-west-1'], ['a'], ['1'], ['a'.repeat(32)]])(
    'accepts %j',
    value => {
      expect(checkEnvironmentName(value)).toEqual({ ok: true, value });
    },
  );

  it.each([
    ['uppercase', 'Prod'],
    ['a leading -', '-dev'],
    ['a trailing -', 'dev-'],
    ['an underscore', 'dev_1'],
    ['a dot', 'a.b'],
    ['a slash', 'a/b'],
    ['a #, which separates target refs', 'dev#x'],
    ['a space', 'dev 1'],
    ['a newline', 'dev\n'],
    ['33 characters', 'a'.repeat(33)],
    ['an empty string', ''],
    ['a 1 MB string', 'a'.repeat(1024 * 1024)],
  ])('refuses %s', (_, value) => {
    const result = checkEnvironmentName(value);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(/^environment .*1-32 lowercase letters/),
    });
    expect(reasonOf(result).length).toBeLessThan(600);
  });

  it.each([[null], [undefined], [1], [{}], [['dev']]])(
    'refuses the non-string %j',
    value => {
      expect(checkEnvironmentName(value)).toEqual({
        ok: false,
        reason: expect.stringMatching(/^environment value must be/),
      });
    },
  );
});
