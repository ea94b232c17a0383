import {
  classifyPathArgument,
  FunctionCall,
  MAX_EXPRESSION_LENGTH,
  PathArgument,
  templateCalls,
} from './expressions';

const calls = (...list: Array<[string, ...string[]]>): FunctionCall[] =>
  list.map(([name, ...args]) => ({ name, args }));

describe('templateCalls', () => {
  // Templates as @cdktf/hcl2json renders HCL values (and as Terraform's
  // JSON syntax and templatefile templates hold them).
  it.each<[string, string, FunctionCall[]]>([
    ['a literal', 'plain text (not a call)', []],
    ['a reference', '${var.name}', []],
    ['a call', '${file("x.json")}', calls(['file', '"x.json"'])],
    ['a call without arguments', '${timestamp()}', calls(['timestamp'])],
    [
      'arguments split at top-level commas only',
      '${merge({ a = 1, b = 2 }, [1, 2], f(x, y))}',
      calls(
        ['f', 'x', 'y'],
        ['merge', '{ a = 1, b = 2 }', '[1, 2]', 'f(x, y)'],
      ),
    ],
    ['a trailing comma', '${concat(a, b,)}', calls(['concat', 'a', 'b'])],
    [
      'nested calls, innermost first',
      '${base64encode(file(lower("X")))}',
      calls(
        ['lower', '"X"'],
        ['file', 'lower("X")'],
        ['base64encode', 'file(lower("X"))'],
      ),
    ],
    [
      'a call inside a string inside an interpolation',
      '${upper("a-${file("/etc/passwd")}")}',
      calls(['file', '"/etc/passwd"'], ['upper', '"a-${file("/etc/passwd")}"']),
    ],
    [
      'a call in a string key of an object',
      '${{ "${file("k")}" = 1 }}',
      calls(['file', '"k"']),
    ],
    [
      'several interpolations',
      'a ${f(1)} b ${g(2)}',
      calls(['f', '1'], ['g', '2']),
    ],
    ['a $${ escape', '$${file("/etc/passwd")}', []],
    ['a %%{ escape', '%%{ if file("/etc/passwd") }', []],
    ['an escape then a call', '$${x} ${file("y")}', calls(['file', '"y"'])],
    ['a dollar before an escape', '$$${file("y")}', []],
    ['a lone dollar and percent', '100% $5 ${f(1)}', calls(['f', '1'])],
    [
      'an if directive',
      '%{ if fileexists("x") }yes%{ else }${file("y")}%{ endif }',
      calls(['fileexists', '"x"'], ['file', '"y"']),
    ],
    [
      'a for directive with strip markers',
      '%{~ for f in fileset(".", "*") ~}${f}%{~ endfor ~}',
      calls(['fileset', '"."', '"*"']),
    ],
    [
      'a # comment with a quote in it',
      '${upper( # a "quote\n  "x")}',
      calls(['upper', '# a "quote\n  "x"']),
    ],
    [
      'a // comment with a bracket in it',
      '${upper( // ) "\n  "x")}',
      calls(['upper', '// ) "\n  "x"']),
    ],
    [
      'a /* */ comment with a quote in it',
      '${upper(/* "x ) */ "y")}',
      calls(['upper', '/* "x ) */ "y"']),
    ],
    [
      'a call in a line after a comment',
      '${[ # file("no")\n  file("yes")]}',
      calls(['file', '"yes"']),
    ],
    [
      'a comment marker inside a string',
      '${upper("# not a comment", "//x", "/*y")}',
      calls(['upper', '"# not a comment"', '"//x"', '"/*y"']),
    ],
    [
      'escaped quotes in a string',
      '${upper("a\\"${file("x")}\\"")}',
      calls(['file', '"x"'], ['upper', '"a\\"${file("x")}\\""']),
    ],
    [
      'a heredoc',
      '${upper(<<EOT\nhello ${file("/etc/passwd")}\nEOT\n)}',
      calls(
        ['file', '"/etc/passwd"'],
        ['upper', '<<EOT\nhello ${file("/etc/passwd")}\nEOT'],
      ),
    ],
    [
      'an indented heredoc',
      '${upper(<<-EOT\n    ${file("a")}\n    EOT\n)}',
      calls(['file', '"a"'], ['upper', '<<-EOT\n    ${file("a")}\n    EOT']),
    ],
    [
      'a heredoc mentioning its marker mid-line',
      '${f(<<EOT\nnot EOT here ${g(1)}\nEOT\n)}',
      calls(['g', '1'], ['f', '<<EOT\nnot EOT here ${g(1)}\nEOT']),
    ],
    [
      'a for expression with if (…)',
      '${[for x in var.y : upper(x) if (x != "a")]}',
      calls(['upper', 'x']),
    ],
    [
      'an object for expression',
      '${{ for k, v in var.m : k => file(v) }}',
      calls(['file', 'v']),
    ],
    ['keywords before parentheses', '${[for x in (var.y) : x if (true)]}', []],
    ['a conditional', '${var.x ? file("a") : "b"}', calls(['file', '"a"'])],
    ['an index', '${var.x[file("i")]}', calls(['file', '"i"'])],
    ['a space before the parenthesis', '${file ("x")}', calls(['file', '"x"'])],
    ['a core:: call', '${core::file("x")}', calls(['file', '"x"'])],
    [
      'a core:: call with spaces',
      '${core :: file("x")}',
      calls(['file', '"x"']),
    ],
    [
      'a provider function',
      '${provider::aws::arn_parse("arn")}',
      calls(['provider::aws::arn_parse', '"arn"']),
    ],
    [
      'a provider function with spaces and comments',
      '${provider :: google /* c */ :: upper("x")}',
      calls(['provider::google::upper', '"x"']),
    ],
    [
      'names with dashes and digits',
      '${my-fn2(a_b)}',
      calls(['my-fn2', 'a_b']),
    ],
    [
      'numbers with exponents',
      '${max(1e3, 2.5E-1)}',
      calls(['max', '1e3', '2.5E-1']),
    ],
    ['a call after an attribute', '${var.x.y} ${f()}', calls(['f'])],
  ])('%s', (_, template, expected) => {
    expect(templateCalls(template)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, string, string]>([
    ['an unterminated interpolation', '${file("x")', "missing '}'"],
    ['an unterminated call', '${file("x"', "missing ')'"],
    ['an unterminated string', '${file("x)}', 'unterminated string'],
    [
      'a line break in a quoted string',
      '${file("x\ny")}',
      'line break in a quoted string',
    ],
    ['an unterminated comment', '${upper(/* "x")}', 'unterminated comment'],
    ['an unterminated heredoc', '${upper(<<EOT\nx\n)}', 'unterminated heredoc'],
    [
      'an unreadable heredoc header',
      '${upper(<<EOT x\n)}',
      'unreadable heredoc',
    ],
    ['an unbalanced parenthesis', '${upper("x"))}', "unbalanced ')'"],
    ['an unbalanced bracket', '${[1, 2}', "unbalanced '}'"],
    ['a closing brace in a call', '${f(}', "unbalanced '}'"],
    [
      'nesting deeper than 64',
      `\${${'('.repeat(70)}1${')'.repeat(70)}}`,
      'nesting too deep',
    ],
    [
      'strings nested deeper than 64',
      `${'${"'.repeat(70)}`,
      'nesting too deep',
    ],
  ])('fails closed on %s', (_, template, problem) => {
    const result = templateCalls(template);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(
        new RegExp(`^${problem.replace(/[()]/g, '\\$&')} at offset \\d+$`),
      ),
    });
  });

  it(`refuses a template longer than ${MAX_EXPRESSION_LENGTH} characters`, () => {
    expect(
      templateCalls(`\${f(${'1'.repeat(MAX_EXPRESSION_LENGTH)})}`),
    ).toEqual({
      ok: false,
      reason: `longer than ${MAX_EXPRESSION_LENGTH} characters`,
    });
  });
});

describe('classifyPathArgument', () => {
  it.each<[string, PathArgument]>([
    ['path.module', { kind: 'literal', base: 'module', path: '' }],
    [' path.module ', { kind: 'literal', base: 'module', path: '' }],
    ['path.root', { kind: 'literal', base: 'root', path: '' }],
    ['path.cwd', { kind: 'literal', base: 'cwd', path: '' }],
    ['"${path.module}"', { kind: 'literal', base: 'module', path: '' }],
    [
      '"${path.module}/files/x.json"',
      { kind: 'literal', base: 'module', path: 'files/x.json' },
    ],
    ['"${ path.module }/x"', { kind: 'literal', base: 'module', path: 'x' }],
    [
      '"${path.module}//etc/passwd"',
      { kind: 'literal', base: 'module', path: 'etc/passwd' },
    ],
    [
      '"${path.module}/../x"',
      { kind: 'literal', base: 'module', path: '../x' },
    ],
    ['"${path.root}/x"', { kind: 'literal', base: 'root', path: 'x' }],
    ['"${path.cwd}/x"', { kind: 'literal', base: 'cwd', path: 'x' }],
    ['"files/x.json"', { kind: 'literal', base: 'cwd', path: 'files/x.json' }],
    ['"/etc/passwd"', { kind: 'literal', base: 'cwd', path: '/etc/passwd' }],
    [
      '"~/.aws/credentials"',
      { kind: 'literal', base: 'cwd', path: '~/.aws/credentials' },
    ],
    ['"a\\"b\\\\c\\td"', { kind: 'literal', base: 'cwd', path: 'a"b\\c\td' }],
    [
      '"\\u002fetc/passwd"',
      { kind: 'literal', base: 'cwd', path: '/etc/passwd' },
    ],
    ['"\\U0001F600"', { kind: 'literal', base: 'cwd', path: '😀' }],
    ['"$${x}/%%{y}"', { kind: 'literal', base: 'cwd', path: '${x}/%{y}' }],
    ['"100%/$5"', { kind: 'literal', base: 'cwd', path: '100%/$5' }],
    [
      '"${path.module}/\\u002e\\u002e/x"',
      { kind: 'literal', base: 'module', path: '../x' },
    ],
  ])('reads %s as a literal path', (source, expected) => {
    expect(classifyPathArgument(source)).toEqual(expected);
  });

  it.each([
    ['a variable', 'var.path'],
    ['an interpolated variable', '"${var.path}"'],
    ['path.module and a variable', '"${path.module}/${var.name}"'],
    ['path.module glued to a name', '"${path.module}x"'],
    ['a directive', '"%{ if true }x%{ endif }"'],
    ['a function', 'abspath("x")'],
    ['a conditional', 'var.x ? "a" : "b"'],
    ['a heredoc', '<<EOT\n/etc/passwd\nEOT'],
    ['an unknown escape', '"\\x41"'],
    ['a short unicode escape', '"\\u00"'],
    ['two strings', '"a" "b"'],
    ['path.module with an attribute', 'path.module.x'],
    ['another path attribute', 'path.data'],
  ])('reads %s as an expression', (_, source) => {
    expect(classifyPathArgument(source)).toEqual({ kind: 'expression' });
  });
});
