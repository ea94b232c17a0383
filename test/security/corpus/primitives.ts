/**
 * Hostile primitives: the raw material every boundary's corpus is generated
 * from. Anything that would run a command names a canary path, so if it ever
 * ran, the side-effect check sees the file appear.
 */

/** Where an injected command would write: checked after the suite. */
export interface CanaryTargets {
  /** A directory next to the isolated root (outside everything the suite owns). */
  sibling: string;
  /** A directory inside the isolated root, outside every runner directory. */
  inRoot: string;
}

export interface Primitive {
  /** Short label for case names. */
  label: string;
  value: string;
}

const p = (label: string, value: string): Primitive => ({ label, value });

export function traversal(): Primitive[] {
  return [
    p('dotdot', '../'),
    p('dotdot-etc', '../../../../etc/passwd'),
    p('dotdot-encoded', '..%2f..%2fetc%2fpasswd'),
    p('dotdot-double-encoded', '..%252f..%252fetc'),
    p('dot-encoded', '%2e%2e/%2e%2e/etc'),
    p('absolute', '/etc/passwd'),
    p('windows-drive', 'C:\\Windows\\System32'),
    p('unc', '\\\\server\\share'),
    p('backslash-dotdot', '..\\..\\etc'),
    p('inner-dotdot', 'live/../../etc'),
    p('dot-segment', 'live/./dev'),
    p('empty-segment', 'live//dev'),
    p('leading-dot', './live'),
    p('dotdot-dotdot', '....//....//etc'),
    p('proc-self', '/proc/self/environ'),
    p('git-dir', '.git/config'),
  ];
}

export function optionInjection(c: CanaryTargets): Primitive[] {
  return [
    p('upload-pack', `--upload-pack=touch ${c.sibling}/pwned-upload-pack`),
    p('core-sshcommand', `-c core.sshCommand=touch ${c.sibling}/pwned-ssh`),
    p('output', `--output=${c.sibling}/pwned-output`),
    p('proxycommand', `-oProxyCommand=touch ${c.sibling}/pwned-proxy`),
    p('exec', `--exec=touch ${c.sibling}/pwned-exec`),
    p('config-env', '--config-env=core.pager=PATH'),
    p('double-dash', '--'),
    p('single-dash', '-'),
    p('plus-refspec', '+main:main'),
  ];
}

export function shellMetacharacters(c: CanaryTargets): Primitive[] {
  const touch = (tag: string) => `touch ${c.sibling}/pwned-${tag}`;
  return [
    p('semicolon', `main; ${touch('semicolon')}`),
    p('pipe', `main | ${touch('pipe')}`),
    p('subshell', `$(${touch('subshell')})`),
    p('backticks', `\`${touch('backticks')}\``),
    p('and', `main && ${touch('and')}`),
    p('newline', `main\n${touch('newline')}`),
    p('redirect', `main > ${c.sibling}/pwned-redirect`),
    p('quote-break', `main' ; ${touch('quote')} '`),
  ];
}

export function controlCharacters(): Primitive[] {
  return [
    p('nul', 'main\u0000evil'),
    p('cr', 'ma\rin'),
    p('lf', 'main\n'),
    p('escape', '\u001b[31mred\u001b[0m'),
    p('rtl-override', 'main\u202etxt.exe'),
    p('line-separator', 'main\u2028evil'),
    p('tab', 'main\tevil'),
    p('del', 'main\u007f'),
    p('c1-csi', 'main\u009b31m'),
    p('bell', 'main\u0007'),
  ];
}

export function homoglyphs(): Primitive[] {
  return [
    p('cyrillic-a', 'm\u0430in'),
    p('cyrillic-e', 'd\u0435v'),
    p('roman-numeral', '\u217fain'),
    p('zero-width', 'ma\u200bin'),
    p('fullwidth', '\uff4d\uff41\uff49\uff4e'),
    p('combining', 'main\u0301'),
  ];
}

export function emptyish(): Primitive[] {
  return [p('empty', ''), p('space', ' '), p('nbsp', '\u00a0'), p('dot', '.')];
}

export function urlTricks(c: CanaryTargets): Primitive[] {
  return [
    p('ext-transport', `ext::sh -c touch% ${c.sibling}/pwned-ext`),
    p('fd-transport', 'fd::3'),
    p('file-etc', 'file:///etc'),
    p('file-transport', 'file::/etc'),
    p('metadata', 'http://169.254.169.254/latest/meta-data/'),
    p(
      'metadata-https',
      'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
    ),
    p('credentials', 'https://user:secret@github.com/acme/live.git'),
    p('token', 'https://x-access-token:ghp_123@github.com/acme/live.git'),
    p(
      'scp-proxycommand',
      `git@host:repo -o ProxyCommand=touch ${c.sibling}/pwned-scp`,
    ),
    p(
      'ssh-option-host',
      `ssh://-oProxyCommand=touch% ${c.sibling}/pwned-ssh-host/repo`,
    ),
    p('plain-http', 'http://example.com/repo.git'),
    p('query', 'https://github.com/acme/live.git?upload-pack=x'),
    p('fragment', 'https://github.com/acme/live.git#main'),
    p('not-allowlisted', 'https://github.com/evil/live.git'),
    // A hostile value, never evaluated.
    // eslint-disable-next-line no-script-url
    p('javascript', 'javascript:alert(1)'),
    p('data-url', 'data:text/plain,hello'),
  ];
}

export function terraformInterpolation(): Primitive[] {
  return [
    p('tf-file', '${file("/etc/passwd")}'),
    p('tf-template', '%{ if true }x%{ endif }'),
    p('tf-path', '${path.root}'),
    p('tf-escaped', '$${x}'),
  ];
}

export const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
];

export function prototypeValues(): Primitive[] {
  return PROTOTYPE_NAMES.map(name => p(`proto-${name}`, name));
}

/** Values of the wrong JSON type where a string is expected. */
export const TYPE_CONFUSION: Array<{ label: string; value: unknown }> = [
  { label: 'number', value: 0 },
  { label: 'negative', value: -1 },
  { label: 'float', value: 1e308 },
  { label: 'true', value: true },
  { label: 'null', value: null },
  { label: 'array', value: ['main'] },
  { label: 'empty-array', value: [] },
  { label: 'object', value: {} },
  { label: 'tostring-object', value: { toString: 'main' } },
  { label: 'nested', value: [[['main']]] },
];

/** Large strings (the megabyte one is used where bodies may be that large). */
export function hugeStrings(): Primitive[] {
  return [
    p('300-chars', 'a'.repeat(300)),
    p('4k-chars', 'b'.repeat(4096)),
    p('deep-path', 'a/'.repeat(2000)),
  ];
}

export const ONE_MEGABYTE = 'x'.repeat(1024 * 1024);

/**
 * Every hostile string primitive, for fields that take a string. Each label
 * is unique, so case names are.
 */
export function hostileStrings(c: CanaryTargets): Primitive[] {
  return [
    ...traversal(),
    ...optionInjection(c),
    ...shellMetacharacters(c),
    ...controlCharacters(),
    ...homoglyphs(),
    ...emptyish(),
    ...urlTricks(c),
    ...terraformInterpolation(),
    ...prototypeValues(),
    ...hugeStrings(),
  ];
}

/** Git ref tricks beyond the generic primitives. */
export function refTricks(c: CanaryTargets): Primitive[] {
  return [
    p('refs-dotdot', 'refs/../config'),
    p('refs-heads', 'refs/heads/main'),
    p('reflog', 'main@{1}'),
    p('at-brace', '@{-1}'),
    p('head', 'HEAD'),
    p('head-parent', 'HEAD~1'),
    p('caret', 'main^'),
    p('peel', 'main^{tree}'),
    p('colon', 'main:live'),
    p('range', 'main..feature'),
    p('symmetric', 'main...feature'),
    p('lock-suffix', 'main.lock'),
    p('component-lock', 'feature.lock/x'),
    p('trailing-dot', 'main.'),
    p('leading-dot', '.hidden'),
    p('trailing-slash', 'main/'),
    p('double-slash', 'a//b'),
    p('glob-star', 'ma*'),
    p('glob-question', 'ma?n'),
    p('glob-bracket', 'ma[i]n'),
    p('space', 'ma in'),
    p('tilde', 'main~'),
    p('backslash', 'ma\\in'),
    p('nul', 'main\u0000'),
    p('300-chars', 'r'.repeat(300)),
    p('option-upload-pack', `--upload-pack=touch ${c.sibling}/pwned-ref`),
    p('option-short', '-n'),
    p('at-only', '@'),
  ];
}
