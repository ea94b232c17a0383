import {
  CATALOG,
  CATALOG_MODULES,
  contextOf,
  DB_V3_0_0,
  json,
  loadGraph,
  loadInstalledGraph,
  MOVED,
  reasonsOf,
  temporaryWorkspaces,
  terraformInit,
  UNVETTED,
  VETTED,
  VETTED_DB,
  WEB,
  WEB_V1_0_0,
  WEB_V1_1_0,
} from '../__testUtils__/workspace';
import { moduleSourcesRule, pinnedModuleSource } from './moduleSources';

const workspace = temporaryWorkspaces();
const CONTEXT = contextOf();

function moduleCall(name: string, source: string): string {
  return `module "${name}" {\n  source = ${JSON.stringify(
    source,
  )}\n  name   = "${name}"\n}\n`;
}

async function judge(
  files: Record<string, string>,
  folder = 'app',
  context = CONTEXT,
) {
  return reasonsOf(
    moduleSourcesRule(await loadGraph(await workspace(files), folder), context),
  );
}

describe('pinnedModuleSource', () => {
  it.each<[string, unknown, ReturnType<typeof pinnedModuleSource>]>([
    [
      'a vetted tag',
      VETTED,
      { ok: true, value: { base: WEB, tag: 'v1.1.0', commitSha: WEB_V1_1_0 } },
    ],
    [
      'another vetted tag',
      `${WEB}?ref=v1.0.0`,
      { ok: true, value: { base: WEB, tag: 'v1.0.0', commitSha: WEB_V1_0_0 } },
    ],
    [
      'an unvetted tag',
      UNVETTED,
      {
        ok: false,
        reason: `module source ${JSON.stringify(
          UNVETTED,
        )} uses version "v2.0.0-rc1", which is not vetted (vetted: v1.0.0, v1.1.0)`,
      },
    ],
    [
      'no literal source',
      undefined,
      {
        ok: false,
        reason: expect.stringContaining('only vetted catalog modules'),
      },
    ],
  ])('%s', (_, source, expected) => {
    expect(pinnedModuleSource(source, CATALOG_MODULES)).toEqual(expected);
  });

  it('refuses a vetted tag the catalog has no commit for', () => {
    expect(
      pinnedModuleSource(VETTED, [{ source: WEB, versions: ['v1.1.0'] }]),
    ).toEqual({
      ok: false,
      reason: `module source ${JSON.stringify(
        VETTED,
      )}: vetted version "v1.1.0" is not pinned to a commit (the gate records the commit of each vetted tag; see the module's catalog entity)`,
    });
  });
});

describe('moduleSourcesRule', () => {
  it('accepts vetted sources at vetted, pinned tags', async () => {
    await expect(
      judge(
        {
          'live/dev/app/main.tf':
            moduleCall('app', VETTED) + moduleCall('db', VETTED_DB),
          'live/dev/app/variables.tf': 'variable "x" {\n  type = string\n}\n',
        },
        'live/dev/app',
      ),
    ).resolves.toEqual([]);
  });

  it('accepts a folder without module calls', async () => {
    await expect(
      judge({ 'app/main.tf': 'resource "terraform_data" "x" {}\n' }),
    ).resolves.toEqual([]);
  });

  it('refuses an unvetted version, naming the file, the line, the module and the source', async () => {
    await expect(
      judge(
        { 'live/prod/batch/main.tf': moduleCall('legacy_batch', UNVETTED) },
        'live/prod/batch',
      ),
    ).resolves.toEqual([
      `live/prod/batch/main.tf:1: module "legacy_batch": module source ${JSON.stringify(
        UNVETTED,
      )} uses version "v2.0.0-rc1", which is not vetted (vetted: v1.0.0, v1.1.0)`,
    ]);
  });

  it.each([
    ['an unpinned vetted module', WEB, /is not pinned; add \?ref=<tag>/],
    ['a registry source', 'hashicorp/consul/aws', /is not a git:: source/],
    [
      'a foreign git host',
      'git::https://github.com/evil/modules.git//modules/web-service?ref=v1.1.0',
      /is not a vetted catalog module/,
    ],
    [
      'a vetted repository with an unvetted subdirectory',
      `${CATALOG}//modules/other?ref=v1.1.0`,
      /is not a vetted catalog module/,
    ],
    [
      'an https URL without git::',
      'https://example.com/module.zip',
      /is not a git:: source/,
    ],
    [
      'an s3 source',
      's3::https://s3.amazonaws.com/bucket/module.zip',
      /is not a git:: source/,
    ],
    [
      'an absolute local path',
      '/etc/terraform/module',
      /is not a git:: source/,
    ],
    [
      'a second query parameter',
      `${VETTED}&depth=1`,
      /single \?ref=<tag> parameter/,
    ],
    [
      'a vetted tag the catalog has no commit for',
      `${CATALOG}//modules/legacy?ref=v0.9.0`,
      /vetted version "v0\.9\.0" is not pinned to a commit/,
    ],
  ])('refuses %s, naming the source', async (_, source, reason) => {
    const context = contextOf(
      {},
      {
        modules: [
          ...CATALOG_MODULES,
          { source: `${CATALOG}//modules/legacy`, versions: ['v0.9.0'] },
        ],
      },
    );
    const reasons = await judge(
      { 'app/main.tf': moduleCall('app', source) },
      'app',
      context,
    );
    expect(reasons).toEqual([expect.stringMatching(reason)]);
    expect(reasons[0]).toContain(
      `app/main.tf:1: module "app": module source ${JSON.stringify(source)}`,
    );
  });

  it('refuses a vetted source when the catalog snapshot is empty', async () => {
    await expect(
      judge(
        { 'app/main.tf': moduleCall('app', VETTED) },
        'app',
        contextOf({}, { modules: [] }),
      ),
    ).resolves.toEqual([
      expect.stringMatching(/is not a vetted catalog module/),
    ]);
  });

  describe('sources that are not literal catalog addresses', () => {
    it.each([
      ['an interpolated variable', 'source = "${var.x}"'],
      ['a bare variable', 'source = var.x'],
      [
        'an interpolated catalog version',
        `source = "${WEB}?ref=\${var.version}"`,
      ],
    ])('refuses %s as the source', async (_, attribute) => {
      await expect(
        judge({ 'app/main.tf': `module "dynamic" {\n  ${attribute}\n}\n` }),
      ).resolves.toEqual([
        expect.stringMatching(
          /^app\/main\.tf:1: module "dynamic": module source .*only vetted catalog modules may be used$/,
        ),
      ]);
    });

    it('refuses a module block without a source', async () => {
      await expect(
        judge({ 'app/main.tf': 'module "nosource" {\n  x = 1\n}\n' }),
      ).resolves.toEqual([
        'app/main.tf:1: module "nosource" has no literal source',
      ]);
    });

    it('refuses a source that is not a string (JSON)', async () => {
      await expect(
        judge({
          'app/main.tf.json': json({ module: { odd: { source: ['./a'] } } }),
        }),
      ).resolves.toEqual([
        'app/main.tf.json:3: module "odd" has no literal source',
      ]);
    });
  });

  describe('local module calls', () => {
    it('follows a local module and judges the catalog modules it calls', async () => {
      await expect(
        judge(
          {
            'live/dev/app/main.tf': moduleCall('local', './modules/x'),
            'live/dev/app/modules/x/main.tf': moduleCall('db', VETTED_DB),
          },
          'live/dev/app',
        ),
      ).resolves.toEqual([]);
    });

    it('refuses an unvetted call inside a local module, naming the nested file', async () => {
      await expect(
        judge(
          {
            'live/dev/app/main.tf': moduleCall('local', './modules/x'),
            'live/dev/app/modules/x/main.tf': moduleCall('inner', UNVETTED),
          },
          'live/dev/app',
        ),
      ).resolves.toEqual([
        expect.stringContaining(
          `live/dev/app/modules/x/main.tf:1: module "inner": module source ${JSON.stringify(
            UNVETTED,
          )}`,
        ),
      ]);
    });

    it('follows a local module in a sibling folder (../shared)', async () => {
      await expect(
        judge(
          {
            'live/dev/app/main.tf': moduleCall('shared', '../../shared'),
            'live/shared/main.tf': moduleCall('inner', UNVETTED),
          },
          'live/dev/app',
        ),
      ).resolves.toEqual([
        expect.stringContaining('live/shared/main.tf:1: module "inner"'),
      ]);
    });

    it('refuses a local call that leaves the repository', async () => {
      await expect(
        judge(
          { 'live/app/main.tf': moduleCall('escape', '../../..') },
          'live/app',
        ),
      ).resolves.toEqual([
        'live/app/main.tf:1: module "escape": local module source "../../.." in "live/app" leaves the repository',
      ]);
    });

    it('accepts a cycle of local modules (a calls b, b calls a)', async () => {
      await expect(
        judge(
          {
            'a/main.tf': moduleCall('b', '../b') + moduleCall('web', VETTED),
            'b/main.tf': moduleCall('a', '../a'),
          },
          'a',
        ),
      ).resolves.toEqual([]);
    });
  });

  describe('.tf.json files', () => {
    it.each<[string, unknown]>([
      ['the object form', { module: { web: { source: VETTED, name: 'web' } } }],
      ['the array-of-blocks form', { module: { web: [{ source: VETTED }] } }],
      [
        'the array-of-labels form, with comment keys',
        {
          '//': 'the app',
          module: [
            { web: { '//': 'front end', source: VETTED } },
            { db: { source: VETTED_DB } },
          ],
        },
      ],
    ])('accepts vetted sources in %s', async (_, body) => {
      await expect(judge({ 'app/main.tf.json': json(body) })).resolves.toEqual(
        [],
      );
    });

    it.each([
      ['the object form', { module: { bad: { source: UNVETTED } } }, 3],
      [
        'the array-of-blocks form',
        { module: { bad: [{ source: UNVETTED }] } },
        3,
      ],
      [
        'the array-of-labels form',
        {
          module: [{ good: { source: VETTED } }, { bad: { source: UNVETTED } }],
        },
        9,
      ],
    ])(
      'refuses an unvetted source in %s, naming file, line, module and source',
      async (_, body, line) => {
        await expect(
          judge({ 'app/main.tf.json': json(body) }),
        ).resolves.toEqual([
          expect.stringContaining(
            `app/main.tf.json:${line}: module "bad": module source ${JSON.stringify(
              UNVETTED,
            )}`,
          ),
        ]);
      },
    );
  });

  // After init, the code that runs is what init installed: each catalog
  // module must be the commit its tag was vetted at.
  describe('what terraform init installed', () => {
    const CALLS = `module "web" {\n  source = "${VETTED}"\n}\n`;

    async function installed(downloaded: Parameters<typeof terraformInit>[1]) {
      const ws = await workspace({ 'app/main.tf': CALLS });
      await terraformInit(ws.dataDir, downloaded);
      return reasonsOf(
        moduleSourcesRule(await loadInstalledGraph(ws), CONTEXT),
      );
    }

    it('accepts a catalog module whose clone is the pinned commit', async () => {
      await expect(
        installed([
          {
            key: 'web',
            source: VETTED,
            files: { 'main.tf': '' },
            head: WEB_V1_1_0,
          },
        ]),
      ).resolves.toEqual([]);
    });

    it('refuses a moved tag, naming the tag and both commits', async () => {
      await expect(
        installed([
          { key: 'web', source: VETTED, files: { 'main.tf': '' }, head: MOVED },
        ]),
      ).resolves.toEqual([
        `module.web: "${WEB}" tag "v1.1.0" is now commit ${MOVED}, but it was vetted as commit ${WEB_V1_1_0}; the tag was moved (vet the new commit in the module's catalog entity to use it)`,
      ]);
    });

    it('judges a copy Terraform made of a clone by the clone it copied', async () => {
      const copy = {
        key: 'web2',
        source: VETTED,
        files: { 'main.tf': '' },
        head: null,
      };
      await expect(
        installed([
          { key: 'web', source: VETTED, files: { 'main.tf': '' } },
          copy,
        ]),
      ).resolves.toEqual([]);
      await expect(
        installed([
          { key: 'web', source: VETTED, files: { 'main.tf': '' }, head: MOVED },
          copy,
        ]),
      ).resolves.toEqual([
        expect.stringMatching(/^module\.web: .* is now commit bad/),
        expect.stringMatching(/^module\.web2: .* is now commit bad/),
      ]);
    });

    it('refuses two clones of one source at different commits (a tag moved while init ran)', async () => {
      await expect(
        installed([
          {
            key: 'web',
            source: VETTED,
            files: { 'main.tf': '' },
            head: WEB_V1_1_0,
          },
          {
            key: 'web2',
            source: VETTED,
            files: { 'main.tf': '' },
            head: MOVED,
          },
        ]),
      ).resolves.toEqual([
        expect.stringMatching(
          new RegExp(
            `^module\\.web: .* could not be verified: it was cloned twice, at commits ${WEB_V1_1_0} and ${MOVED}`,
          ),
        ),
        expect.stringMatching(/^module\.web2: .* could not be verified/),
      ]);
    });

    it('judges each catalog module by its own tag', async () => {
      await expect(
        installed([
          {
            key: 'web',
            source: VETTED,
            files: { 'main.tf': moduleCall('db', VETTED_DB) },
          },
          {
            key: 'web.db',
            source: VETTED_DB,
            files: { 'main.tf': '' },
            head: DB_V3_0_0,
          },
        ]),
      ).resolves.toEqual([]);
    });

    it.each<[string, Parameters<typeof terraformInit>[1], string]>([
      [
        'a module without a git clone',
        [{ key: 'web', source: VETTED, files: { 'main.tf': '' }, head: null }],
        `module.web: the commit of ${JSON.stringify(
          VETTED,
        )} could not be verified: terraform init left no git clone of it`,
      ],
      [
        'a clone whose HEAD is a branch, not a commit',
        [
          {
            key: 'web',
            source: VETTED,
            files: { 'main.tf': '' },
            head: 'ref: refs/heads/main',
          },
        ],
        `module.web: the commit of ${JSON.stringify(
          VETTED,
        )} could not be verified: its .git/HEAD does not name a commit`,
      ],
    ])('refuses %s', async (_, downloaded, reason) => {
      await expect(installed(downloaded)).resolves.toEqual([reason]);
    });

    it('refuses an unvetted module called from inside a vetted one', async () => {
      await expect(
        installed([
          {
            key: 'web',
            source: VETTED,
            files: {
              'main.tf': `resource "terraform_data" "ok" {}\n\nmodule "nested" {\n  source = "git::https://evil.example.com/x.git?ref=v1"\n}\n`,
            },
          },
        ]),
      ).resolves.toEqual([
        '.terraform/modules/web/modules/web-service/main.tf:3: module "nested" in module.web: module source "git::https://evil.example.com/x.git?ref=v1" is not a vetted catalog module',
      ]);
    });

    it('refuses a modules.json entry whose source is not vetted', async () => {
      // Terraform lists a module the checkout does not call as written.
      await expect(
        installed([
          { key: 'web', source: VETTED, files: { 'main.tf': '' } },
          { key: 'web.nested', source: UNVETTED, files: { 'main.tf': '' } },
        ]),
      ).resolves.toEqual([
        `module.web.nested: module source ${JSON.stringify(
          UNVETTED,
        )} uses version "v2.0.0-rc1", which is not vetted (vetted: v1.0.0, v1.1.0)`,
      ]);
    });
  });
});
