import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AWS,
  contextOf,
  downloadedDir,
  GOOGLE,
  inApp,
  json,
  loadGraph,
  loadInstalledGraph,
  reasonsOf,
  temporaryWorkspaces,
  terraformInit,
  VETTED,
  Workspace,
} from '../__testUtils__/workspace';
import { functionsRule } from './functions';

const workspace = temporaryWorkspaces();
const PROD = contextOf({ providers: [AWS] });

const OUTSIDE = "reads outside the module's own folder";
const NOT_LITERAL =
  'reads a path that is not a literal; file functions take "${path.module}/<file>"';

/** `locals { x = <expression> }`: the expression is on line 2. */
const local = (expression: string) => `locals {\n  x = ${expression}\n}\n`;

async function judge(files: Record<string, string>, context = PROD) {
  return reasonsOf(
    functionsRule(await loadGraph(await workspace(inApp(files))), context),
  );
}

/** A root module `app` calling a local module `app/child` with these files. */
async function judgeChild(files: Record<string, string>) {
  const ws = await workspace({
    'app/main.tf': 'module "child" {\n  source = "./child"\n}\n',
    ...Object.fromEntries(
      Object.entries(files).map(([name, text]) => [`app/child/${name}`, text]),
    ),
  });
  return reasonsOf(functionsRule(await loadGraph(ws), PROD));
}

/** A `locals` value in each syntax: the file it is in and its line. */
const SYNTAXES = [
  { syntax: 'HCL', file: 'main.tf', line: 2, write: local },
  {
    syntax: 'JSON',
    file: 'main.tf.json',
    line: 3,
    write: (expression: string) => json({ locals: { x: `\${${expression}}` } }),
  },
];

/** Every function that reads a file, and one spelled with its namespace. */
const FILE_FUNCTIONS = [
  'file',
  'fileexists',
  'filebase64',
  'filebase64sha256',
  'filebase64sha512',
  'filemd5',
  'filesha1',
  'filesha256',
  'filesha512',
  'templatefile',
  'core::file',
];
const call = (fn: string, path: string) =>
  fn === 'templatefile' ? `${fn}(${path}, {})` : `${fn}(${path})`;
const shown = (fn: string, path: string) =>
  call(fn === 'core::file' ? 'file' : fn, path);

describe('functionsRule', () => {
  describe.each(SYNTAXES)('$syntax syntax', ({ file, line, write }) => {
    describe.each(FILE_FUNCTIONS)('%s', fn => {
      it.each<[string, string]>([
        ['an absolute path', '"/etc/passwd"'],
        [
          'a path climbing out of the module',
          '"${path.module}/../../etc/passwd"',
        ],
        [
          'a bare relative path climbing out of the root module',
          '"../secret.txt"',
        ],
        ['a home-relative path', '"~/.aws/credentials"'],
      ])('refuses %s', async (_, path) => {
        await expect(judge({ [file]: write(call(fn, path)) })).resolves.toEqual(
          [
            `app/${file}:${line}: ${shown(
              fn,
              path,
            )} ${OUTSIDE}; refused in prod`,
          ],
        );
      });

      it.each<[string, string]>([
        ['a variable', 'var.path'],
        ['a path built from a variable', '"${path.module}/${var.name}"'],
        ['a path built by a function', 'abspath("x.json")'],
        ['path.module glued to a name', '"${path.module}x.json"'],
      ])('refuses a path that is not a literal: %s', async (_, path) => {
        await expect(judge({ [file]: write(call(fn, path)) })).resolves.toEqual(
          [
            `app/${file}:${line}: ${shown(
              fn,
              path,
            )} ${NOT_LITERAL}; refused in prod`,
          ],
        );
      });

      it.each<[string, string]>([
        ['path.root', '"${path.root}/x.json"'],
        ['path.cwd', '"${path.cwd}/x.json"'],
        ['a bare relative path', '"x.json"'],
      ])(
        'refuses %s in a child module, which names the root module',
        async (_, path) => {
          await expect(
            judgeChild({ [file]: write(call(fn, path)), 'x.json': '{}' }),
          ).resolves.toEqual([
            `app/child/${file}:${line}: ${shown(
              fn,
              path,
            )} ${OUTSIDE}; refused in prod`,
          ]);
        },
      );

      it.each<[string, string]>([
        [
          'a folder of the module that is a symlink',
          '"${path.module}/linked/secret.txt"',
        ],
        [
          'a file of the module that is a symlink',
          '"${path.module}/secret.txt"',
        ],
      ])('refuses a path through %s', async (_, path) => {
        const ws = await workspace(inApp({ [file]: write(call(fn, path)) }));
        await symlink(ws.outsideDir, join(ws.checkoutDir, 'app/linked'));
        await symlink(
          join(ws.outsideDir, 'secret.txt'),
          join(ws.checkoutDir, 'app/secret.txt'),
        );
        expect(reasonsOf(functionsRule(await loadGraph(ws), PROD))).toEqual([
          `app/${file}:${line}: ${shown(
            fn,
            path,
          )} reads through a symlink; refused in prod`,
        ]);
      });

      it('refuses a path below a plain file (a symlink checked out as one)', async () => {
        const path = '"${path.module}/dir/secret.txt"';
        const ws = await workspace(
          inApp({ [file]: write(call(fn, path)), dir: '/etc' }),
        );
        expect(reasonsOf(functionsRule(await loadGraph(ws), PROD))).toEqual([
          `app/${file}:${line}: ${shown(
            fn,
            path,
          )} reads through something that is not a plain file or folder; refused in prod`,
        ]);
      });

      it.each<[string, string, Record<string, string>]>([
        [
          'a file of the module',
          '"${path.module}/files/x.json"',
          { 'files/x.json': '{}' },
        ],
        [
          'a file of the module that does not exist (Terraform fails the call)',
          '"${path.module}/files/x.json"',
          {},
        ],
        [
          'a bare relative path in the root module',
          '"files/x.json"',
          { 'files/x.json': '{}' },
        ],
        [
          'path.root in the root module',
          '"${path.root}/files/x.json"',
          { 'files/x.json': '{}' },
        ],
        [
          'a path that climbs and comes back',
          '"${path.module}/files/../x.json"',
          { 'x.json': '{}' },
        ],
      ])('accepts %s', async (_, path, files) => {
        await expect(
          judge({ [file]: write(call(fn, path)), ...files }),
        ).resolves.toEqual([]);
      });
    });
  });

  describe('fileset', () => {
    it.each<[string, string, Record<string, string>]>([
      [
        'the module folder with a pattern',
        'fileset(path.module, "*.json")',
        {},
      ],
      [
        'a subfolder with a recursive pattern',
        'fileset("${path.module}/files", "**/*.json")',
        { 'files/a/x.json': '{}' },
      ],
      [
        'the root folder by a bare path',
        'fileset("files", "*")',
        { 'files/x': '' },
      ],
    ])('accepts %s', async (_, expression, files) => {
      await expect(
        judge({ 'main.tf': local(expression), ...files }),
      ).resolves.toEqual([]);
    });

    it.each<[string, string, string]>([
      ['an absolute folder', 'fileset("/etc", "*")', OUTSIDE],
      [
        'a folder above the module',
        'fileset("${path.module}/..", "*")',
        OUTSIDE,
      ],
      ['a folder that is not a literal', 'fileset(var.dir, "*")', NOT_LITERAL],
      [
        'a pattern climbing out',
        'fileset(path.module, "../*")',
        'has a pattern that is not a literal inside the folder',
      ],
      [
        'an absolute pattern',
        'fileset(path.module, "/etc/*")',
        'has a pattern that is not a literal inside the folder',
      ],
      [
        'a pattern that is not a literal',
        'fileset(path.module, var.pattern)',
        'has a pattern that is not a literal inside the folder',
      ],
      [
        'a pattern rooted at path.module',
        'fileset(path.module, "${path.module}/*")',
        'has a pattern that is not a literal inside the folder',
      ],
    ])('refuses %s', async (_, expression, problem) => {
      await expect(judge({ 'main.tf': local(expression) })).resolves.toEqual([
        `app/main.tf:2: ${expression} ${problem}; refused in prod`,
      ]);
    });

    // fileset follows a symlink below the folder it lists and names the
    // files wherever it points.
    it.each<[string, string]>([
      ['the module folder', 'fileset(path.module, "*/*")'],
      ['a folder above the symlink', 'fileset("${path.module}/files", "**")'],
    ])('refuses listing %s when it holds a symlink', async (_, expression) => {
      const ws = await workspace(
        inApp({ 'main.tf': local(expression), 'files/a.json': '{}' }),
      );
      await symlink(ws.outsideDir, join(ws.checkoutDir, 'app/files/linked'));
      expect(reasonsOf(functionsRule(await loadGraph(ws), PROD))).toEqual([
        `app/main.tf:2: ${expression} lists a folder holding a symlink ("files/linked"), which it would follow; refused in prod`,
      ]);
    });

    it('accepts listing a folder beside the symlink', async () => {
      const ws = await workspace(
        inApp({
          'main.tf': local('fileset("${path.module}/files", "*")'),
          'files/a.json': '{}',
        }),
      );
      await symlink(ws.outsideDir, join(ws.checkoutDir, 'app/linked'));
      expect(functionsRule(await loadGraph(ws), PROD)).toEqual([]);
    });

    it('refuses listing a folder that is a symlink', async () => {
      const ws = await workspace(
        inApp({ 'main.tf': local('fileset("${path.module}/linked", "*")') }),
      );
      await symlink(ws.outsideDir, join(ws.checkoutDir, 'app/linked'));
      expect(reasonsOf(functionsRule(await loadGraph(ws), PROD))).toEqual([
        'app/main.tf:2: fileset("${path.module}/linked", "*") reads through a symlink; refused in prod',
      ]);
    });
  });

  describe('templates', () => {
    it('accepts a template whose own calls are allowed', async () => {
      await expect(
        judge({
          'main.tf': local(
            'templatefile("${path.module}/t/user-data.tpl", { name = "web" })',
          ),
          't/user-data.tpl':
            'Hello ${upper(name)}\n%{ for p in split(",", "a,b") }${p}%{ endfor }\n$${file("/etc/passwd")}\n',
        }),
      ).resolves.toEqual([]);
    });

    it.each<[string, string, string]>([
      [
        'a file function reading outside',
        'id ${file("/etc/passwd")}\n',
        `app/t.tpl:1: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ],
      [
        'a file function on the second line',
        'ok\n%{ if true }${filebase64("~/.ssh/id_rsa")}%{ endif }\n',
        `app/t.tpl:2: filebase64("~/.ssh/id_rsa") ${OUTSIDE}; refused in prod`,
      ],
      [
        'templatefile again',
        '${templatefile("t.tpl", {})}',
        'app/t.tpl:1: templatefile("t.tpl", {}) calls templatefile inside a template; refused in prod',
      ],
      [
        'templatestring',
        '${templatestring(x, {})}',
        'app/t.tpl:1: templatestring(x, {}) evaluates a template held in a value, whose calls cannot be inspected; refused in prod',
      ],
      [
        'an expression it cannot read',
        'a ${file("x"',
        `app/t.tpl: an expression could not be inspected (missing ')' at offset 12): ${JSON.stringify(
          'a ${file("x"',
        )}`,
      ],
    ])('refuses a template calling %s', async (_, template, reason) => {
      await expect(
        judge({
          'main.tf': local('templatefile("${path.module}/t.tpl", {})'),
          't.tpl': template,
        }),
      ).resolves.toEqual([reason]);
    });

    it('judges a template called twice once', async () => {
      await expect(
        judge({
          'main.tf':
            'locals {\n  a = templatefile("t.tpl", {})\n  b = templatefile("${path.module}/t.tpl", {})\n}\n',
          't.tpl': '${file("/etc/passwd")}',
        }),
      ).resolves.toEqual([
        `app/t.tpl:1: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ]);
    });

    it('judges the template of a child module against the child module', async () => {
      await expect(
        judgeChild({
          'main.tf': local('templatefile("${path.module}/t.tpl", {})'),
          't.tpl': '${file("x.json")}',
        }),
      ).resolves.toEqual([
        `app/child/t.tpl:1: file("x.json") ${OUTSIDE}; refused in prod`,
      ]);
    });

    it('leaves a template that does not exist to Terraform', async () => {
      await expect(
        judge({
          'main.tf': local('templatefile("${path.module}/missing.tpl", {})'),
        }),
      ).resolves.toEqual([]);
    });

    it('refuses a template beyond those the loader reads', async () => {
      const calls = Array.from(
        { length: 101 },
        (_, i) =>
          `  t${i} = templatefile("t${String(i).padStart(3, '0')}.tpl", {})`,
      );
      const files: Record<string, string> = {
        'main.tf': `locals {\n${calls.join('\n')}\n}\n`,
      };
      for (let i = 0; i <= 100; i++) {
        files[`t${String(i).padStart(3, '0')}.tpl`] = 'x';
      }
      await expect(judge(files)).resolves.toEqual([
        'app/main.tf:102: templatefile("t100.tpl", {}): the template was not read; refused in prod',
      ]);
    });
  });

  describe('calls in a module terraform init downloaded', () => {
    async function downloaded(
      files: Record<string, string>,
      layout?: (dir: string, ws: Workspace) => Promise<void>,
    ) {
      const ws = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await terraformInit(ws.dataDir, [{ key: 'web', source: VETTED, files }]);
      await layout?.(downloadedDir(ws.dataDir, 'web', VETTED), ws);
      return reasonsOf(functionsRule(await loadInstalledGraph(ws), PROD));
    }

    it('accepts a file of the module', async () => {
      await expect(
        downloaded({
          'main.tf': local('file("${path.module}/policy.json")'),
          'policy.json': '{}',
        }),
      ).resolves.toEqual([]);
    });

    // A git clone makes the symlinks its repository holds.
    it('refuses a file read through a symlink the module holds', async () => {
      await expect(
        downloaded(
          { 'main.tf': local('file("${path.module}/etc/passwd")') },
          dir => symlink('/etc', join(dir, 'etc')),
        ),
      ).resolves.toEqual([
        '.terraform/modules/web/modules/web-service/main.tf:2 in module.web: file("${path.module}/etc/passwd") reads through a symlink; refused in prod',
      ]);
    });

    it('refuses a template of the module calling a file function outside', async () => {
      await expect(
        downloaded({
          'main.tf': local('templatefile("${path.module}/t.tpl", {})'),
          't.tpl': '${file("/etc/passwd")}',
        }),
      ).resolves.toEqual([
        `.terraform/modules/web/modules/web-service/t.tpl:1 in module.web: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ]);
    });

    it('refuses path.root, which is the root module, not the downloaded one', async () => {
      await expect(
        downloaded({ 'main.tf': local('file("${path.root}/main.tf")') }),
      ).resolves.toEqual([
        `.terraform/modules/web/modules/web-service/main.tf:2 in module.web: file("\${path.root}/main.tf") ${OUTSIDE}; refused in prod`,
      ]);
    });
  });

  describe('other functions', () => {
    it.each<[string, string]>([
      [
        'pure built-ins',
        'jsonencode({ a = upper("x"), b = [for s in split(",", "a,b") : trimspace(s) if (s != "")] })',
      ],
      ['core:: built-ins', 'core::upper("x")'],
      [
        'can and try around an allowed call',
        'try(jsondecode(var.x), can(regex("a", "b")))',
      ],
      [
        'an allowed provider function',
        'provider::aws::arn_parse("arn:aws:iam::1:role/x")',
      ],
      [
        'a built-in provider function',
        'provider::terraform::encode_expr({ a = 1 })',
      ],
      ['a call mentioned in an escape', '"$${file(\\"/etc/passwd\\")}"'],
    ])('accepts %s', async (_, expression) => {
      await expect(
        judge({
          'versions.tf':
            'terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n',
          'main.tf': local(expression),
        }),
      ).resolves.toEqual([]);
    });

    it('accepts the type constraints of variables, which call no function', async () => {
      await expect(
        judge({
          'variables.tf':
            'variable "x" {\n  type = list(object({ a = optional(string, "d"), b = map(set(number)), c = tuple([string]) }))\n  validation {\n    condition     = length(var.x) > 0\n    error_message = "x"\n  }\n}\n',
          'variables.tf.json': json({
            variable: { y: { type: 'map(object({ a = optional(string) }))' } },
          }),
        }),
      ).resolves.toEqual([]);
    });

    it.each<[string, string, string]>([
      [
        'templatestring',
        'templatestring(local.t, {})',
        'templatestring(local.t, {}) evaluates a template held in a value, whose calls cannot be inspected',
      ],
      [
        'an unknown function',
        'env("HOME")',
        'env("HOME") is not one of the Terraform built-in functions the runner allows',
      ],
      [
        'a type constructor outside a type',
        'list(string)',
        'list(string) is not one of the Terraform built-in functions the runner allows',
      ],
      [
        'a function of a provider the environment does not allow',
        'provider::google::region_from_zone("europe-west1-b")',
        'provider::google::region_from_zone("europe-west1-b") calls a function of a provider that is not allowed here',
      ],
      [
        'a provider function spelled with spaces',
        'provider :: google :: upper("x")',
        'provider::google::upper("x") calls a function of a provider that is not allowed here',
      ],
      [
        'a built-in provider function the runner does not know',
        'provider::terraform::exec("id")',
        'provider::terraform::exec("id") calls a function of a provider that is not allowed here',
      ],
      [
        'core::file spelled with spaces',
        'core :: file("/etc/passwd")',
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a file function inside try',
        'try(file("/etc/passwd"), "")',
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a file function in a for expression',
        '[for f in ["a"] : file("/etc/${f}")]',
        `file("/etc/\${f}") ${NOT_LITERAL}`,
      ],
      [
        'a file function in an object key',
        '{ (file("/etc/passwd")) = 1 }',
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a file function in a "//" key of an object',
        '{ "//" = file("/etc/passwd") }',
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a file function in a heredoc argument',
        'upper(<<EOT\n${file("/etc/passwd")}\nEOT\n  )',
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
    ])('refuses %s', async (_, expression, problem) => {
      await expect(
        judge({
          'versions.tf':
            'terraform {\n  required_providers {\n    google = {\n      source = "hashicorp/google"\n    }\n  }\n}\n',
          'main.tf': local(expression),
        }),
      ).resolves.toEqual([
        `app/main.tf:${
          expression.includes('\n') ? 3 : 2
        }: ${problem}; refused in prod`,
      ]);
    });

    it('reports functions of a provider the environment allows only where it is allowed', async () => {
      const files = {
        'versions.tf':
          'terraform {\n  required_providers {\n    google = {\n      source = "hashicorp/google"\n    }\n  }\n}\n',
        'main.tf': local(
          'provider::google::region_from_zone("europe-west1-b")',
        ),
      };
      await expect(
        judge(files, contextOf({ providers: [GOOGLE] })),
      ).resolves.toEqual([]);
    });

    it('resolves a provider function by the provider its local name declares', async () => {
      await expect(
        judge({
          'versions.tf':
            'terraform {\n  required_providers {\n    aws = {\n      source = "evil/aws"\n    }\n  }\n}\n',
          'main.tf': local('provider::aws::arn_parse("arn:aws:iam::1:role/x")'),
        }),
      ).resolves.toEqual([
        'app/main.tf:2: provider::aws::arn_parse("arn:aws:iam::1:role/x") calls a function of a provider that is not allowed here; refused in prod',
      ]);
    });

    it('names the line of the call refused, not of an earlier call of the same function', async () => {
      await expect(
        judge({
          'main.tf':
            'locals {\n  ok  = file("${path.module}/x.json")\n  bad = file("/etc/passwd")\n}\n',
          'x.json': '{}',
        }),
      ).resolves.toEqual([
        `app/main.tf:3: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ]);
    });

    it('judges every module of the graph, naming the module', async () => {
      await expect(
        judgeChild({ 'main.tf': local('file("/etc/passwd")') }),
      ).resolves.toEqual([
        `app/child/main.tf:2: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ]);
    });
  });

  describe('JSON syntax', () => {
    it.each<[string, unknown]>([
      [
        'a file of the module',
        { locals: { x: '${file("${path.module}/x.json")}' } },
      ],
      [
        'a comment key in a block body',
        {
          '//': 'reads file() of the module',
          locals: { '//': 'plain text', x: 1 },
        },
      ],
      [
        'an escaped interpolation',
        { locals: { x: '$${file("/etc/passwd")}' } },
      ],
      [
        'a variable type, which is not a template',
        { variable: { x: { type: 'list(string)' } } },
      ],
      [
        'text that only looks like a call',
        { locals: { x: 'file("/etc/passwd")' } },
      ],
    ])('accepts %s', async (_, body) => {
      await expect(
        judge({ 'main.tf.json': json(body), 'x.json': '{}' }),
      ).resolves.toEqual([]);
    });

    it.each<[string, unknown, string]>([
      [
        'a file function reading outside',
        { locals: { x: '${file("/etc/passwd")}' } },
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'core::file',
        { locals: { x: 'id: ${core::file("/etc/passwd")}' } },
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a file function in a directive',
        { locals: { x: '%{ if fileexists("/etc/passwd") }y%{ endif }' } },
        `fileexists("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a non-literal path',
        { locals: { x: '${filemd5(var.path)}' } },
        `filemd5(var.path) ${NOT_LITERAL}`,
      ],
      [
        'templatestring',
        { locals: { x: '${templatestring(local.t, {})}' } },
        'templatestring(local.t, {}) evaluates a template held in a value, whose calls cannot be inspected',
      ],
      [
        'an unknown function',
        { locals: { x: '${env("HOME")}' } },
        'env("HOME") is not one of the Terraform built-in functions the runner allows',
      ],
      [
        'a provider function not allowed',
        { locals: { x: '${provider::google::region_from_zone("a")}' } },
        'provider::google::region_from_zone("a") calls a function of a provider that is not allowed here',
      ],
      [
        'an expression as an object key',
        { locals: { x: { '${file("/etc/passwd")}': 1 } } },
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      // In an object value "//" is a key like any other, and Terraform evaluates it.
      [
        'a "//" key of an object value',
        { output: { x: { value: { '//': '${file("/etc/passwd")}' } } } },
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
      [
        'a "//" comment holding an interpolation',
        { locals: { '//': '${file("/etc/passwd")}' } },
        `file("/etc/passwd") ${OUTSIDE}`,
      ],
    ])('refuses %s', async (_, body, problem) => {
      const reasons = await judge({ 'main.tf.json': json(body) });
      expect(reasons).toEqual([
        expect.stringMatching(/^app\/main\.tf\.json:\d+: /),
      ]);
      expect(reasons[0].replace(/^app\/main\.tf\.json:\d+: /, '')).toBe(
        `${problem}; refused in prod`,
      );
    });

    it('judges the template a JSON file calls', async () => {
      await expect(
        judge({
          'main.tf.json': json({
            locals: { x: '${templatefile("${path.module}/t.tpl", {})}' },
          }),
          't.tpl': 'ok\n${file("/etc/passwd")}\n',
        }),
      ).resolves.toEqual([
        `app/t.tpl:2: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ]);
    });

    it('accepts fileset with a pattern inside the module', async () => {
      await expect(
        judge({
          'main.tf.json': json({
            locals: { x: '${fileset(path.module, "*.json")}' },
          }),
        }),
      ).resolves.toEqual([]);
    });

    it('refuses fileset with a pattern climbing out', async () => {
      await expect(
        judge({
          'main.tf.json': json({
            locals: { x: '${fileset(path.module, "../*")}' },
          }),
        }),
      ).resolves.toEqual([
        'app/main.tf.json:3: fileset(path.module, "../*") has a pattern that is not a literal inside the folder; refused in prod',
      ]);
    });

    it('names the line of a call in JSON syntax', async () => {
      await expect(
        judge({
          'main.tf.json': json({
            locals: { ok: '${file("x.json")}', bad: '${file("/etc/passwd")}' },
          }),
          'x.json': '{}',
        }),
      ).resolves.toEqual([
        `app/main.tf.json:4: file("/etc/passwd") ${OUTSIDE}; refused in prod`,
      ]);
    });

    it.each<[string, string, string]>([
      ['an unterminated call', '${file("x"', "missing ')'"],
      ['an unterminated string', '${file("x)}', 'unterminated string'],
      ['an unterminated comment', '${upper(/* "x")}', 'unterminated comment'],
      [
        'an unterminated heredoc',
        '${upper(<<EOT\nx\n)}',
        'unterminated heredoc',
      ],
      ['an unbalanced bracket', '${upper("x"))}', "unbalanced ')'"],
      [
        'nesting too deep',
        `\${${'('.repeat(70)}1${')'.repeat(70)}}`,
        'nesting too deep',
      ],
    ])(
      'refuses an expression it cannot read: %s',
      async (_, template, problem) => {
        await expect(
          judge({ 'main.tf.json': json({ locals: { x: template } }) }),
        ).resolves.toEqual([
          expect.stringMatching(
            new RegExp(
              `^app/main\\.tf\\.json: an expression could not be inspected \\(${problem.replace(
                /[()]/g,
                '\\$&',
              )} at offset \\d+\\): `,
            ),
          ),
        ]);
      },
    );
  });
});
