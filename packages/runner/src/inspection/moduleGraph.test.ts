import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import {
  downloadedDir,
  inApp,
  json,
  loadGraph,
  loadInstalledGraph,
  temporaryWorkspaces,
  terraformInit,
  UNVETTED,
  VETTED,
  VETTED_DB,
  WEB_V1_1_0,
  Workspace,
  writeFiles,
} from './__testUtils__/workspace';
import {
  addInstalledModules,
  loadModuleGraph,
  MAX_ENTRIES_PER_FOLDER,
  MAX_FILE_BYTES,
  MAX_FILES_PER_FOLDER,
  MAX_FOLDERS,
  PathMapping,
  resolveInModule,
} from './moduleGraph';

const workspace = temporaryWorkspaces();

const WEB_CALL = `module "web" {\n  source = "${VETTED}"\n}\n`;

async function load(ws: Workspace, folder = 'app') {
  return loadModuleGraph({ checkoutDir: ws.checkoutDir, folder });
}

async function loadInstalled(ws: Workspace, mapping?: PathMapping) {
  const graph = await loadGraph(ws);
  return addInstalledModules(graph, { terraformDataDir: ws.dataDir, mapping });
}

const refusal = (reason: string | RegExp) => ({
  ok: false,
  reason: typeof reason === 'string' ? reason : expect.stringMatching(reason),
});

describe('loadModuleGraph', () => {
  it('loads the target folder and every local module it calls, each once', async () => {
    const ws = await workspace({
      'live/dev/app/main.tf':
        'module "a" {\n  source = "./modules/a"\n}\nmodule "b" {\n  source = "../../shared"\n}\n',
      'live/dev/app/variables.tf.json': json({
        variable: { name: { type: 'string' } },
      }),
      'live/dev/app/modules/a/main.tf':
        'module "b" {\n  source = "../../../../shared"\n}\n',
      'live/shared/main.tf':
        'module "a" {\n  source = "../dev/app/modules/a"\n}\n',
    });
    const graph = await loadGraph(ws, 'live/dev/app');
    expect(graph.installed).toBe(false);
    expect(graph.checkoutDir).toBe(await realpath(ws.checkoutDir));
    expect(
      graph.modules.map(m => ({
        shownDir: m.shownDir,
        isRoot: m.isRoot,
        origin: m.origin,
        files: m.files.map(f => f.shown),
      })),
    ).toEqual([
      {
        shownDir: 'live/dev/app',
        isRoot: true,
        origin: 'checkout',
        files: ['live/dev/app/main.tf', 'live/dev/app/variables.tf.json'],
      },
      {
        shownDir: 'live/dev/app/modules/a',
        isRoot: false,
        origin: 'checkout',
        files: ['live/dev/app/modules/a/main.tf'],
      },
      {
        shownDir: 'live/shared',
        isRoot: false,
        origin: 'checkout',
        files: ['live/shared/main.tf'],
      },
    ]);
  });

  it('loads a repository root target and names its files without a folder', async () => {
    const graph = await loadGraph(await workspace({ 'main.tf': '' }), '.');
    expect(graph.modules.map(m => m.files.map(f => f.shown))).toEqual([
      ['main.tf'],
    ]);
  });

  it('reads only the files Terraform reads', async () => {
    const graph = await loadGraph(
      await workspace(
        inApp({
          'main.tf': WEB_CALL,
          'README.md': `module "doc" {\n  source = "${UNVETTED}"\n}\n`,
          'main.tf.bak': 'not { hcl',
          'terraform.tfvars': 'name = "x"\n',
          'sub/nested.tf': 'not { hcl',
          'folder.tf/main.tf': 'not { hcl',
        }),
      ),
    );
    expect(graph.modules[0].files.map(f => f.name)).toEqual(['main.tf']);
  });

  it('indexes every entry of a module folder by type, listing .git without entering it', async () => {
    const ws = await workspace(
      inApp({ 'main.tf': '', 'files/a.json': '{}', '.git/HEAD': WEB_V1_1_0 }),
    );
    await symlink(ws.outsideDir, join(ws.checkoutDir, 'app/files/link'));
    const graph = await loadGraph(ws);
    expect(Object.fromEntries(graph.modules[0].entries)).toEqual({
      '.git': 'other',
      files: 'folder',
      'files/a.json': 'file',
      'files/link': 'symlink',
      'main.tf': 'file',
    });
  });

  it('loads the templates templatefile names literally in the module', async () => {
    const graph = await loadGraph(
      await workspace(
        inApp({
          'main.tf':
            'locals {\n  a = templatefile("${path.module}/t/a.tpl", {})\n  b = templatefile("b.tpl", {})\n  c = templatefile(var.name, {})\n  d = { "//" = templatefile("d.tpl", {}) }\n}\n',
          't/a.tpl': 'A ${x}',
          'b.tpl': 'B',
          'd.tpl': 'D',
          'unused.tpl': 'U',
        }),
      ),
    );
    expect(Object.fromEntries(graph.modules[0].templates)).toEqual({
      't/a.tpl': 'A ${x}',
      'b.tpl': 'B',
      'd.tpl': 'D',
    });
  });

  describe('the target folder', () => {
    it.each<
      [string, (ws: Workspace) => Promise<unknown>, string, string | RegExp]
    >([
      [
        'does not exist',
        async () => undefined,
        'live/dev/other',
        'folder "live/dev/other" does not exist in the commit',
      ],
      [
        'is a file',
        ws => writeFiles(ws.checkoutDir, { 'live/dev/app': 'not a folder' }),
        'live/dev/app',
        'folder "live/dev/app" does not exist in the commit',
      ],
      [
        'is a symlink pointing outside the checkout',
        async ws => {
          await mkdir(join(ws.checkoutDir, 'live/dev'), { recursive: true });
          await symlink(ws.outsideDir, join(ws.checkoutDir, 'live/dev/app'));
        },
        'live/dev/app',
        'folder "live/dev/app" is a symlink',
      ],
      [
        'is reached through a symlinked parent outside the checkout',
        ws => symlink(dirname(ws.outsideDir), join(ws.checkoutDir, 'live')),
        'live/outside',
        'folder "live/outside" leaves the checkout',
      ],
      [
        // Terraform would resolve `../../../shared` from real/a/b/app, and
        // read real/shared: not the folder inspected as its path says.
        'is reached through a symlinked parent inside the checkout',
        async ws => {
          await writeFiles(ws.checkoutDir, {
            'real/a/b/app/main.tf':
              'module "m" {\n  source = "../../../shared"\n}\n',
            'shared/main.tf': '',
            'real/shared/main.tf':
              'data "external" "x" {\n  program = ["id"]\n}\n',
          });
          await symlink('real/a', join(ws.checkoutDir, 'live'));
        },
        'live/b/app',
        'folder "live/b/app" is reached through a symlink',
      ],
    ])('refuses a target folder that %s', async (_, layout, folder, reason) => {
      const ws = await workspace({ 'README.md': '' });
      await layout(ws);
      await expect(load(ws, folder)).resolves.toEqual(refusal(reason));
    });
  });

  describe('local module folders', () => {
    it('refuses a local call to a folder that does not exist', async () => {
      const ws = await workspace(
        inApp({
          'main.tf': 'module "missing" {\n  source = "./modules/missing"\n}\n',
        }),
      );
      await expect(load(ws)).resolves.toEqual(
        refusal('folder "app/modules/missing" does not exist in the commit'),
      );
    });

    // Terraform would follow a symlinked module folder wherever it points.
    it.each<[string, (ws: Workspace) => string]>([
      ['out of the checkout', ws => ws.outsideDir],
      ['inside the checkout', () => '../shared/x'],
    ])(
      'refuses a local module folder that is a symlink %s',
      async (_, target) => {
        const ws = await workspace({
          'app/main.tf': 'module "x" {\n  source = "./linked"\n}\n',
          'shared/x/main.tf': '',
        });
        await symlink(target(ws), join(ws.checkoutDir, 'app/linked'));
        await expect(load(ws)).resolves.toEqual(
          refusal('folder "app/linked" is a symlink'),
        );
      },
    );

    it('terminates on a cycle of local modules', async () => {
      const graph = await loadGraph(
        await workspace({
          'a/main.tf': 'module "b" {\n  source = "../b"\n}\n',
          'b/main.tf': 'module "a" {\n  source = "../a"\n}\n',
        }),
        'a',
      );
      expect(graph.modules.map(m => m.shownDir)).toEqual(['a', 'b']);
    });

    it('leaves a local call out of the repository to the module-source rule', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({ 'main.tf': 'module "x" {\n  source = "../../.."\n}\n' }),
        ),
      );
      expect(graph.modules.map(m => m.shownDir)).toEqual(['app']);
    });

    it(`refuses more than ${MAX_FOLDERS} module folders`, async () => {
      const files: Record<string, string> = {};
      for (let i = 0; i <= MAX_FOLDERS; i++) {
        files[`m${i}/main.tf`] = `module "next" {\n  source = "../m${
          i + 1
        }"\n}\n`;
      }
      files[`m${MAX_FOLDERS + 1}/main.tf`] = '';
      await expect(load(await workspace(files), 'm0')).resolves.toEqual(
        refusal(`more than ${MAX_FOLDERS} module folders`),
      );
    }, 30_000);
  });

  describe('limits and unreadable files', () => {
    it('refuses a Terraform file that is a symlink, which Terraform would follow', async () => {
      const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
      await writeFile(
        join(ws.outsideDir, 'main.tf'),
        'data "external" "x" {\n  program = ["id"]\n}\n',
      );
      await symlink(
        join(ws.outsideDir, 'main.tf'),
        join(ws.checkoutDir, 'app/extra.tf'),
      );
      await expect(load(ws)).resolves.toEqual(
        refusal('app/extra.tf is a symlink'),
      );
    });

    it('refuses a Terraform file that is not a regular file', async () => {
      const ws = await workspace(inApp({ 'main.tf': '' }));
      execFileSync('mkfifo', [join(ws.checkoutDir, 'app/pipe.tf')]);
      await expect(load(ws)).resolves.toEqual(
        refusal('app/pipe.tf is not a regular file'),
      );
    });

    it(`refuses a file larger than ${MAX_FILE_BYTES} bytes`, async () => {
      const ws = await workspace(
        inApp({ 'main.tf': '', 'big.tf': `# ${'x'.repeat(MAX_FILE_BYTES)}\n` }),
      );
      await expect(load(ws)).resolves.toEqual(
        refusal(`app/big.tf is larger than ${MAX_FILE_BYTES} bytes`),
      );
    });

    it(`refuses a folder with more than ${MAX_FILES_PER_FOLDER} Terraform files`, async () => {
      const files: Record<string, string> = {};
      for (let i = 0; i <= MAX_FILES_PER_FOLDER; i++) {
        files[`app/f${i}.tf`] = '';
      }
      await expect(load(await workspace(files))).resolves.toEqual(
        refusal(
          `folder "app" has more than ${MAX_FILES_PER_FOLDER} Terraform files`,
        ),
      );
    }, 30_000);

    it(`refuses a folder holding more than ${MAX_ENTRIES_PER_FOLDER} files and folders`, async () => {
      const ws = await workspace(inApp({ 'main.tf': '' }));
      await mkdir(join(ws.checkoutDir, 'app/many'));
      for (let i = 0; i < MAX_ENTRIES_PER_FOLDER; i++) {
        writeFileSync(join(ws.checkoutDir, `app/many/${i}`), '');
      }
      await expect(load(ws)).resolves.toEqual(
        refusal(
          `app holds more than ${MAX_ENTRIES_PER_FOLDER} files and folders`,
        ),
      );
    }, 30_000);

    it('refuses a folder nested deeper than 32 folders', async () => {
      const deep = Array.from({ length: 34 }, (_, i) => `d${i}`).join('/');
      const ws = await workspace(inApp({ 'main.tf': '', [`${deep}/x`]: '' }));
      await expect(load(ws)).resolves.toEqual(
        refusal('app is nested deeper than 32 folders'),
      );
    });

    it('refuses a template larger than the file limit', async () => {
      const ws = await workspace(
        inApp({
          'main.tf': 'locals {\n  t = templatefile("big.tpl", {})\n}\n',
          'big.tpl': 'x'.repeat(MAX_FILE_BYTES + 1),
        }),
      );
      await expect(load(ws)).resolves.toEqual(
        refusal(`app/big.tpl is larger than ${MAX_FILE_BYTES} bytes`),
      );
    });

    it.each<[string, Record<string, string>, string | RegExp]>([
      [
        'unparsable HCL',
        {
          'main.tf': WEB_CALL,
          'broken.tf': 'module "x" {\n  source = "./y"\n',
        },
        /^app\/broken\.tf could not be parsed/,
      ],
      [
        'invalid JSON',
        { 'main.tf.json': '{"module": ' },
        /^app\/main\.tf\.json could not be parsed/,
      ],
      [
        'a JSON file that is not one object',
        { 'main.tf.json': '[{"module": {}}]' },
        'app/main.tf.json could not be parsed: Error: a Terraform JSON file must hold one object',
      ],
    ])('refuses %s, naming the file', async (_, files, reason) => {
      await expect(load(await workspace(inApp(files)))).resolves.toEqual(
        refusal(reason),
      );
    });

    // Terraform reads every occurrence of a repeated JSON key as its own
    // block; JSON.parse keeps only the last. A hidden first occurrence must
    // not slip past the inspection.
    it.each([
      [
        'a repeated "module" key',
        `{"module": {"evil": {"source": ${JSON.stringify(UNVETTED)}}},
          "module": {"good": {"source": ${JSON.stringify(VETTED)}}}}`,
        'module',
      ],
      [
        'a repeated "source" key',
        `{"module": {"app": {"source": ${JSON.stringify(
          UNVETTED,
        )}, "source": ${JSON.stringify(VETTED)}}}}`,
        'source',
      ],
      [
        'a repeated key spelled with an escape',
        `{"module": {"evil": {"source": ${JSON.stringify(UNVETTED)}}},
          "modul\\u0065": {"good": {"source": ${JSON.stringify(VETTED)}}}}`,
        'module',
      ],
      [
        'a construct hidden behind a repeated "data" key',
        `{"data": {"external": {"x": {"program": ["id"]}}},
          "data": {"terraform_remote_state": {"s": {"backend": "local"}}}}`,
        'data',
      ],
    ])('refuses %s', async (_, text, key) => {
      await expect(
        load(await workspace(inApp({ 'main.tf.json': text }))),
      ).resolves.toEqual(
        refusal(
          `app/main.tf.json could not be parsed: Error: duplicate key "${key}" in one object`,
        ),
      );
    });

    it('accepts the same key in different objects', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf.json': json({
              module: {
                a: { source: VETTED, name: 'a' },
                b: { source: VETTED_DB, name: 'b' },
              },
              variable: { name: { type: 'string' } },
            }),
          }),
        ),
      );
      expect(graph.modules[0].files[0].body).toEqual({
        module: {
          a: { source: VETTED, name: 'a' },
          b: { source: VETTED_DB, name: 'b' },
        },
        variable: { name: { type: 'string' } },
      });
    });
  });
});

describe('addInstalledModules', () => {
  it('adds each downloaded module with its clone commit, and marks the graph installed', async () => {
    const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
    await terraformInit(ws.dataDir, [
      {
        key: 'web',
        source: VETTED,
        files: { 'main.tf': 'variable "name" {}\n' },
      },
    ]);
    const installed = await loadInstalled(ws);
    expect(installed.ok).toBe(true);
    const graph = installed.ok ? installed.value : undefined;
    expect(graph?.installed).toBe(true);
    expect(graph?.modules[1]).toMatchObject({
      origin: 'installed',
      isRoot: false,
      dir: await realpath(downloadedDir(ws.dataDir, 'web', VETTED)),
      shownDir: '.terraform/modules/web/modules/web-service',
      context: ' in module.web',
      key: 'web',
      source: VETTED,
      commitSha: WEB_V1_1_0,
      files: [
        expect.objectContaining({
          shown: '.terraform/modules/web/modules/web-service/main.tf',
        }),
      ],
    });
  });

  it('accepts a data dir without modules.json (no module calls)', async () => {
    const ws = await workspace(
      inApp({ 'main.tf': 'resource "terraform_data" "x" {}\n' }),
    );
    const graph = await loadInstalledGraph(ws);
    expect(graph.modules).toHaveLength(1);
    expect(graph.installed).toBe(true);
  });

  it('takes the commit of a copy Terraform made from the clone of the same source', async () => {
    const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
    await terraformInit(ws.dataDir, [
      { key: 'web2', source: VETTED, files: { 'main.tf': '' }, head: null },
      {
        key: 'web',
        source: VETTED,
        files: { 'main.tf': '' },
        head: WEB_V1_1_0,
      },
    ]);
    const graph = await loadInstalledGraph(ws);
    expect(
      graph.modules.slice(1).map(m => [m.key, m.commitSha, m.commitProblem]),
    ).toEqual([
      ['web2', WEB_V1_1_0, undefined],
      ['web', WEB_V1_1_0, undefined],
    ]);
  });

  it.each<[string, (ws: Workspace) => Promise<unknown>, string]>([
    [
      'no clone at all',
      ws => rm(join(ws.dataDir, 'modules/web/.git'), { recursive: true }),
      'terraform init left no git clone of it',
    ],
    [
      'a HEAD that is a branch',
      ws =>
        writeFile(
          join(ws.dataDir, 'modules/web/.git/HEAD'),
          'ref: refs/heads/main\n',
        ),
      'its .git/HEAD does not name a commit',
    ],
    [
      'an abbreviated commit',
      ws => writeFile(join(ws.dataDir, 'modules/web/.git/HEAD'), '1111111\n'),
      'its .git/HEAD does not name a commit',
    ],
    [
      'a HEAD that is a symlink',
      async ws => {
        await writeFile(join(ws.outsideDir, 'HEAD'), `${WEB_V1_1_0}\n`);
        await rm(join(ws.dataDir, 'modules/web/.git/HEAD'));
        await symlink(
          join(ws.outsideDir, 'HEAD'),
          join(ws.dataDir, 'modules/web/.git/HEAD'),
        );
      },
      'its .git/HEAD is a symlink',
    ],
  ])(
    'records why the commit could not be read: %s',
    async (_, tamper, problem) => {
      const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
      await terraformInit(ws.dataDir, [
        { key: 'web', source: VETTED, files: { 'main.tf': '' } },
      ]);
      await tamper(ws);
      const graph = await loadInstalledGraph(ws);
      expect(graph.modules[1]).toMatchObject({ commitProblem: problem });
      expect(graph.modules[1].commitSha).toBeUndefined();
    },
  );

  it('loads a local module listed with a relative Dir as part of the checkout', async () => {
    const ws = await workspace(
      inApp({
        'main.tf': 'module "x" {\n  source = "./x"\n}\n',
        'x/main.tf': '',
      }),
    );
    await terraformInit(
      ws.dataDir,
      [],
      [{ Key: 'x', Source: './x', Dir: 'x' }],
    );
    const graph = await loadInstalledGraph(ws);
    expect(graph.modules.map(m => [m.shownDir, m.origin])).toEqual([
      ['app', 'checkout'],
      ['app/x', 'checkout'],
    ]);
  });

  it('loads a checkout folder only modules.json names', async () => {
    const ws = await workspace({ 'app/main.tf': '', 'other/main.tf': '' });
    await terraformInit(
      ws.dataDir,
      [],
      [{ Key: 'x', Source: './x', Dir: '../other' }],
    );
    expect((await loadInstalledGraph(ws)).modules.map(m => m.shownDir)).toEqual(
      ['app', 'other'],
    );
  });

  it('maps the paths Terraform saw inside its sandbox to this machine', async () => {
    const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
    await terraformInit(ws.dataDir, [
      { key: 'web', source: VETTED, files: { 'main.tf': '' } },
    ]);
    const inside = '/sandbox/terraform-data';
    await writeFile(
      join(ws.dataDir, 'modules/modules.json'),
      JSON.stringify({
        Modules: [
          { Key: '', Source: '', Dir: '.' },
          {
            Key: 'web',
            Source: VETTED,
            Dir: `${inside}/modules/web/modules/web-service`,
          },
        ],
      }),
    );
    const installed = await loadInstalled(ws, {
      prefixes: [{ inside, outside: ws.dataDir }],
    });
    expect(
      installed.ok && installed.value.modules.map(m => m.shownDir),
    ).toEqual(['app', '.terraform/modules/web/modules/web-service']);
  });

  describe('hostile layouts', () => {
    it.each<[string, (ws: Workspace) => string]>([
      ['an absolute path outside', ws => ws.outsideDir],
      [
        'a relative path that climbs out',
        ws => relative(join(ws.checkoutDir, 'app'), ws.outsideDir),
      ],
      ['the run directory above the data dir', ws => join(ws.dataDir, '..')],
      ['the data dir itself', ws => ws.dataDir],
    ])('refuses modules.json pointing at %s', async (_, dir) => {
      const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
      await terraformInit(
        ws.dataDir,
        [{ key: 'web', source: VETTED, files: { 'main.tf': '' } }],
        [{ Key: 'web.evil', Source: './evil', Dir: dir(ws) }],
      );
      await expect(loadInstalled(ws)).resolves.toEqual(
        refusal(
          /^terraform init installed module\.web\.evil in .*, outside the checkout and the downloaded modules$/,
        ),
      );
    });

    it('refuses a downloaded module folder that is a symlink out of the data dir', async () => {
      const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
      await terraformInit(ws.dataDir, [
        { key: 'web', source: VETTED, files: { 'main.tf': '' } },
      ]);
      const dir = downloadedDir(ws.dataDir, 'web', VETTED);
      await rm(dir, { recursive: true });
      await symlink(ws.outsideDir, dir);
      await expect(loadInstalled(ws)).resolves.toEqual(
        refusal(
          /^terraform init installed module\.web in .*, outside the checkout and the downloaded modules$/,
        ),
      );
    });

    it.each<[string, (ws: Workspace) => Promise<unknown>, string | RegExp]>([
      [
        'a Dir that does not exist',
        ws =>
          writeFile(
            join(ws.dataDir, 'modules/modules.json'),
            JSON.stringify({
              Modules: [
                {
                  Key: 'web',
                  Source: VETTED,
                  Dir: join(ws.dataDir, 'modules/nope'),
                },
              ],
            }),
          ),
        /^terraform init installed module\.web in .*, which does not exist$/,
      ],
      [
        'a Dir that is a file',
        async ws => {
          await writeFile(join(ws.dataDir, 'modules/web/file'), '');
          await writeFile(
            join(ws.dataDir, 'modules/modules.json'),
            JSON.stringify({
              Modules: [
                {
                  Key: 'web',
                  Source: VETTED,
                  Dir: join(ws.dataDir, 'modules/web/file'),
                },
              ],
            }),
          );
        },
        /^terraform init installed module\.web in .*, which is not a folder$/,
      ],
      [
        'a repeated key',
        ws =>
          writeFile(
            join(ws.dataDir, 'modules/modules.json'),
            `{"Modules": [{"Key": "web", "Source": "${VETTED}", "Dir": "/", "Dir": "${join(
              ws.dataDir,
              'modules/web',
            )}"}]}`,
          ),
        'modules.json written by terraform init could not be read',
      ],
      [
        'a shape Terraform does not write',
        ws =>
          writeFile(
            join(ws.dataDir, 'modules/modules.json'),
            '{"Modules": {"web": "."}}',
          ),
        'modules.json written by terraform init could not be read',
      ],
      [
        'a symlink',
        async ws => {
          await writeFile(
            join(ws.outsideDir, 'modules.json'),
            '{"Modules": []}',
          );
          await rm(join(ws.dataDir, 'modules/modules.json'));
          await symlink(
            join(ws.outsideDir, 'modules.json'),
            join(ws.dataDir, 'modules/modules.json'),
          );
        },
        'modules.json written by terraform init is a symlink',
      ],
      [
        'a Terraform file that is a symlink',
        async ws => {
          await writeFile(
            join(ws.outsideDir, 'main.tf'),
            'data "external" "x" {\n  program = ["id"]\n}\n',
          );
          await symlink(
            join(ws.outsideDir, 'main.tf'),
            join(downloadedDir(ws.dataDir, 'web', VETTED), 'linked.tf'),
          );
        },
        '.terraform/modules/web/modules/web-service/linked.tf is a symlink',
      ],
      [
        'an unparsable file in a downloaded module',
        ws =>
          writeFile(
            join(downloadedDir(ws.dataDir, 'web', VETTED), 'broken.tf'),
            'module "x" {\n',
          ),
        /^\.terraform\/modules\/web\/modules\/web-service\/broken\.tf could not be parsed/,
      ],
    ])('refuses modules.json with %s', async (_, tamper, reason) => {
      const ws = await workspace(inApp({ 'main.tf': WEB_CALL }));
      await terraformInit(ws.dataDir, [
        { key: 'web', source: VETTED, files: { 'main.tf': '' } },
      ]);
      await tamper(ws);
      await expect(loadInstalled(ws)).resolves.toEqual(refusal(reason));
    });
  });

  describe('the lock file', () => {
    const LOCK =
      'provider "registry.terraform.io/hashicorp/null" {\n  version = "3.2.4"\n  hashes  = ["h1:x"]\n}\n';

    it('reads the lock file terraform init wrote beside the code', async () => {
      const ws = await workspace(
        inApp({ 'main.tf': '', '.terraform.lock.hcl': LOCK }),
      );
      const graph = await loadInstalledGraph(ws);
      expect(graph.lockFile).toMatchObject({
        shown: 'app/.terraform.lock.hcl',
        text: LOCK,
      });
      expect(await loadGraph(ws)).not.toHaveProperty('lockFile');
    });

    it.each<[string, (ws: Workspace) => Promise<unknown>, string | RegExp]>([
      [
        'a symlink',
        async ws => {
          await writeFile(join(ws.outsideDir, 'lock.hcl'), LOCK);
          await symlink(
            join(ws.outsideDir, 'lock.hcl'),
            join(ws.checkoutDir, 'app/.terraform.lock.hcl'),
          );
        },
        'app/.terraform.lock.hcl is a symlink',
      ],
      [
        'unparsable',
        ws =>
          writeFile(
            join(ws.checkoutDir, 'app/.terraform.lock.hcl'),
            'provider "x" {\n',
          ),
        /^app\/\.terraform\.lock\.hcl could not be parsed/,
      ],
    ])('refuses a lock file that is %s', async (_, tamper, reason) => {
      const ws = await workspace(inApp({ 'main.tf': '' }));
      await tamper(ws);
      await expect(loadInstalled(ws)).resolves.toEqual(refusal(reason));
    });
  });
});

describe('resolveInModule', () => {
  const ROOT = { isRoot: true };
  const CHILD = { isRoot: false };
  it.each<
    [
      string,
      { isRoot: boolean },
      'module' | 'root' | 'cwd',
      string,
      string | undefined,
    ]
  >([
    ['a file of the module', CHILD, 'module', 'files/x.json', 'files/x.json'],
    ['the module folder itself', CHILD, 'module', '', ''],
    [
      'a path that climbs and comes back',
      CHILD,
      'module',
      'files/../x.json',
      'x.json',
    ],
    [
      'doubled and dot segments',
      CHILD,
      'module',
      './files//x.json',
      'files/x.json',
    ],
    ['a path out of the module', CHILD, 'module', '../x.json', undefined],
    [
      'a path out through a subfolder',
      CHILD,
      'module',
      'files/../../x.json',
      undefined,
    ],
    ['an absolute path', CHILD, 'module', '/etc/passwd', undefined],
    ['a home-relative path', ROOT, 'cwd', '~/.aws/credentials', undefined],
    ['a backslash', ROOT, 'cwd', 'files\\..\\..\\x', undefined],
    ['a NUL byte', ROOT, 'cwd', 'x\0', undefined],
    [
      'a root-relative path in the root module',
      ROOT,
      'root',
      'x.json',
      'x.json',
    ],
    [
      'a working-directory path in the root module',
      ROOT,
      'cwd',
      'x.json',
      'x.json',
    ],
    [
      'a root-relative path in a child module',
      CHILD,
      'root',
      'x.json',
      undefined,
    ],
    [
      'a working-directory path in a child module',
      CHILD,
      'cwd',
      'x.json',
      undefined,
    ],
  ])('%s', (_, module, base, path, expected) => {
    expect(resolveInModule(module, { base, path })).toBe(expected);
  });
});
