import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CatalogModule } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { checkModuleSources } from './moduleSourceCheck';

const CATALOG = 'git::https://git.example.com/platform/service-catalog.git';
const WEB = `${CATALOG}//modules/web-service`;
const VETTED = `${WEB}?ref=v1.1.0`;
const UNVETTED = `${WEB}?ref=v2.0.0-rc1`;
const DB = `${CATALOG}//modules/database`;
const VETTED_DB = `${DB}?ref=v3.0.0`;

const modules: CatalogModule[] = [
  { source: WEB, versions: ['v1.0.0', 'v1.1.0'] },
  { source: DB, versions: ['v3.0.0'] },
];

function moduleCall(name: string, source: string): string {
  return `module "${name}" {\n  source = ${JSON.stringify(
    source,
  )}\n  name   = "${name}"\n}\n`;
}

let root: string;
let outside: string;
let count = 0;

/** Writes a fresh checkout with the given files and returns its directory. */
async function checkout(files: Record<string, string>): Promise<string> {
  count += 1;
  const dir = join(root, `checkout-${count}`);
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sealed-runner-module-check-'));
  outside = await mkdtemp(
    join(tmpdir(), 'sealed-runner-module-check-outside-'),
  );
  await writeFile(join(outside, 'main.tf'), moduleCall('evil', UNVETTED));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('checkModuleSources', () => {
  it('accepts a vetted source and reports it', async () => {
    const dir = await checkout({
      'live/dev/app/main.tf':
        moduleCall('app', VETTED) + moduleCall('db', VETTED_DB),
      'live/dev/app/variables.tf': 'variable "x" {\n  type = string\n}\n',
    });
    await expect(
      checkModuleSources(dir, 'live/dev/app', modules),
    ).resolves.toEqual({
      ok: true,
      moduleSources: [VETTED_DB, VETTED],
      rootBackends: [],
    });
  });

  it('accepts a folder without module calls and reports none', async () => {
    const dir = await checkout({
      'live/dev/app/main.tf': 'resource "terraform_data" "x" {}\n',
    });
    await expect(
      checkModuleSources(dir, 'live/dev/app', modules),
    ).resolves.toEqual({
      ok: true,
      moduleSources: [],
      rootBackends: [],
    });
  });

  it('rejects an unvetted version, naming the file, the module and the source', async () => {
    const dir = await checkout({
      'live/prod/batch/main.tf': moduleCall('legacy_batch', UNVETTED),
    });
    const result = await checkModuleSources(dir, 'live/prod/batch', modules);
    expect(result.ok).toBe(false);
    const { reason } = result as { reason: string };
    expect(reason).toContain('live/prod/batch/main.tf');
    expect(reason).toContain('module "legacy_batch"');
    expect(reason).toContain(UNVETTED);
    expect(reason).toMatch(/not vetted \(vetted: v1\.0\.0, v1\.1\.0\)/);
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
  ])('rejects %s', async (_, source, reason) => {
    const dir = await checkout({ 'app/main.tf': moduleCall('app', source) });
    const result = await checkModuleSources(dir, 'app', modules);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
    expect(result).toEqual({
      ok: false,
      reason: expect.stringContaining(JSON.stringify(source)),
    });
  });

  describe('local module calls', () => {
    it('follows a local module and reports the catalog modules it uses', async () => {
      const dir = await checkout({
        'live/dev/app/main.tf': moduleCall('local', './modules/x'),
        'live/dev/app/modules/x/main.tf': moduleCall('db', VETTED_DB),
      });
      await expect(
        checkModuleSources(dir, 'live/dev/app', modules),
      ).resolves.toEqual({
        ok: true,
        moduleSources: [VETTED_DB],
        rootBackends: [],
      });
    });

    it('rejects an unvetted call inside a local module, naming the nested file', async () => {
      const dir = await checkout({
        'live/dev/app/main.tf': moduleCall('local', './modules/x'),
        'live/dev/app/modules/x/main.tf': moduleCall('inner', UNVETTED),
      });
      const result = await checkModuleSources(dir, 'live/dev/app', modules);
      expect(result).toEqual({
        ok: false,
        reason: expect.stringContaining(
          'live/dev/app/modules/x/main.tf: module "inner"',
        ),
      });
      expect((result as { reason: string }).reason).toContain(UNVETTED);
    });

    it('follows a local module in a sibling folder (../shared)', async () => {
      const dir = await checkout({
        'live/dev/app/main.tf': moduleCall('shared', '../../shared'),
        'live/shared/main.tf': moduleCall('inner', UNVETTED),
      });
      const result = await checkModuleSources(dir, 'live/dev/app', modules);
      expect(result).toEqual({
        ok: false,
        reason: expect.stringContaining('live/shared/main.tf: module "inner"'),
      });
    });

    it('rejects a local call that leaves the repository', async () => {
      const dir = await checkout({
        'live/app/main.tf': moduleCall('escape', '../../..'),
      });
      const result = await checkModuleSources(dir, 'live/app', modules);
      expect(result).toEqual({
        ok: false,
        reason: expect.stringMatching(
          /live\/app\/main\.tf: module "escape".*leaves the repository/,
        ),
      });
    });

    it('rejects a local call to a folder that does not exist', async () => {
      const dir = await checkout({
        'app/main.tf': moduleCall('missing', './modules/missing'),
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: 'folder "app/modules/missing" does not exist in the commit',
      });
    });

    it('terminates on a cycle of local modules (a calls b, b calls a)', async () => {
      const dir = await checkout({
        'a/main.tf': moduleCall('b', '../b') + moduleCall('web', VETTED),
        'b/main.tf': moduleCall('a', '../a'),
      });
      await expect(checkModuleSources(dir, 'a', modules)).resolves.toEqual({
        ok: true,
        moduleSources: [VETTED],
        rootBackends: [],
      });
    });

    it('rejects a local module folder that is a symlink out of the checkout', async () => {
      const dir = await checkout({
        'app/main.tf': moduleCall('linked', './modules/x'),
      });
      await mkdir(join(dir, 'app/modules'), { recursive: true });
      await symlink(outside, join(dir, 'app/modules/x'));
      const result = await checkModuleSources(dir, 'app', modules);
      expect(result).toEqual({
        ok: false,
        reason: expect.stringContaining('"app/modules/x"'),
      });
    });
  });

  describe('the target folder', () => {
    it('rejects a folder that does not exist', async () => {
      const dir = await checkout({
        'live/dev/app/main.tf': moduleCall('app', VETTED),
      });
      await expect(
        checkModuleSources(dir, 'live/dev/other', modules),
      ).resolves.toEqual({
        ok: false,
        reason: 'folder "live/dev/other" does not exist in the commit',
      });
    });

    it('rejects a folder that is a file', async () => {
      const dir = await checkout({ 'live/dev/app': 'not a folder' });
      await expect(
        checkModuleSources(dir, 'live/dev/app', modules),
      ).resolves.toMatchObject({
        ok: false,
      });
    });

    it('rejects a folder that is a symlink pointing outside the checkout', async () => {
      const dir = await checkout({ 'README.md': '' });
      await mkdir(join(dir, 'live/dev'), { recursive: true });
      await symlink(outside, join(dir, 'live/dev/app'));
      const result = await checkModuleSources(dir, 'live/dev/app', modules);
      expect(result).toEqual({
        ok: false,
        reason: expect.stringContaining('"live/dev/app"'),
      });
    });

    it('rejects a folder reached through a symlinked parent outside the checkout', async () => {
      const dir = await checkout({ 'README.md': '' });
      await symlink(dirname(outside), join(dir, 'live'));
      const folder = `live/${outside.split('/').pop()}`;
      await expect(checkModuleSources(dir, folder, modules)).resolves.toEqual({
        ok: false,
        reason: `folder ${JSON.stringify(folder)} leaves the checkout`,
      });
    });

    it('rejects a Terraform file that is a symlink, which Terraform would follow', async () => {
      const dir = await checkout({ 'app/main.tf': moduleCall('app', VETTED) });
      await symlink(join(outside, 'main.tf'), join(dir, 'app/extra.tf'));
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: expect.stringContaining('app/extra.tf'),
      });
    });

    it('ignores files Terraform does not read', async () => {
      const dir = await checkout({
        'app/main.tf': moduleCall('app', VETTED),
        'app/README.md': moduleCall('doc', UNVETTED),
        'app/main.tf.bak': moduleCall('bak', UNVETTED),
        'app/terraform.tfvars': 'name = "x"\n',
      });
      await expect(
        checkModuleSources(dir, 'app', modules),
      ).resolves.toMatchObject({
        ok: true,
        moduleSources: [VETTED],
      });
    });
  });

  describe('.tf.json files', () => {
    const json = (value: unknown) => JSON.stringify(value, null, 2);

    it('accepts a vetted source in the object form', async () => {
      const dir = await checkout({
        'app/main.tf.json': json({
          module: { app: { source: VETTED, name: 'app' } },
        }),
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: true,
        moduleSources: [VETTED],
        rootBackends: [],
      });
    });

    it.each([
      ['the object form', { module: { bad: { source: UNVETTED } } }],
      ['the array-of-blocks form', { module: { bad: [{ source: UNVETTED }] } }],
      [
        'the array-of-labels form',
        {
          module: [{ good: { source: VETTED } }, { bad: { source: UNVETTED } }],
        },
      ],
    ])(
      'rejects an unvetted source in %s, naming file, module and source',
      async (_, body) => {
        const dir = await checkout({ 'app/main.tf.json': json(body) });
        const result = await checkModuleSources(dir, 'app', modules);
        expect(result).toEqual({
          ok: false,
          reason: expect.stringContaining('app/main.tf.json: module "bad"'),
        });
        expect((result as { reason: string }).reason).toContain(UNVETTED);
      },
    );

    it('accepts vetted sources in the array-of-labels form, which Terraform accepts', async () => {
      const dir = await checkout({
        'app/main.tf.json': json({
          module: [{ web: { source: VETTED } }, { db: { source: VETTED_DB } }],
        }),
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: true,
        moduleSources: [VETTED_DB, VETTED],
        rootBackends: [],
      });
    });

    // Terraform reads every occurrence of a repeated JSON key as its own
    // block; JSON.parse keeps only the last. A hidden first occurrence must
    // not slip past the check.
    it.each([
      [
        'a repeated "module" key',
        `{"module": {"evil": {"source": ${JSON.stringify(UNVETTED)}}},
          "module": {"good": {"source": ${JSON.stringify(VETTED)}}}}`,
      ],
      [
        'a repeated "source" key',
        `{"module": {"app": {"source": ${JSON.stringify(
          UNVETTED,
        )}, "source": ${JSON.stringify(VETTED)}}}}`,
      ],
      [
        'a repeated key spelled with an escape',
        `{"module": {"evil": {"source": ${JSON.stringify(UNVETTED)}}},
          "modul\\u0065": {"good": {"source": ${JSON.stringify(VETTED)}}}}`,
      ],
    ])('rejects %s', async (_, text) => {
      const dir = await checkout({ 'app/main.tf.json': text });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(/app\/main\.tf\.json.*duplicate key/),
      });
    });

    it('accepts the same key in different objects', async () => {
      const dir = await checkout({
        'app/main.tf.json': json({
          module: {
            a: { source: VETTED, name: 'a' },
            b: { source: VETTED, name: 'b' },
          },
          variable: { name: { type: 'string' } },
        }),
      });
      await expect(
        checkModuleSources(dir, 'app', modules),
      ).resolves.toMatchObject({
        ok: true,
      });
    });

    it('rejects invalid JSON, naming the file', async () => {
      const dir = await checkout({ 'app/main.tf.json': '{"module": ' });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(
          /^app\/main\.tf\.json could not be parsed/,
        ),
      });
    });
  });

  describe('sources that are not literal catalog addresses', () => {
    it('rejects unparseable HCL, naming the file', async () => {
      const dir = await checkout({
        'app/main.tf': moduleCall('app', VETTED),
        'app/broken.tf': 'module "x" {\n  source = "./y"\n',
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(/^app\/broken\.tf could not be parsed/),
      });
    });

    it.each([
      ['an interpolated variable', 'source = "${var.x}"'],
      ['a bare variable', 'source = var.x'],
      [
        'an interpolated catalog version',
        `source = "${WEB}?ref=\${var.version}"`,
      ],
    ])('rejects %s as the source', async (_, attribute) => {
      const dir = await checkout({
        'app/main.tf': `module "dynamic" {\n  ${attribute}\n}\n`,
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(/^app\/main\.tf: module "dynamic"/),
      });
    });

    it('rejects a module block without a source', async () => {
      const dir = await checkout({
        'app/main.tf': 'module "nosource" {\n  x = 1\n}\n',
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: false,
        reason: 'app/main.tf: module "nosource" has no literal source',
      });
    });

    it('rejects a vetted source when the catalog snapshot is empty', async () => {
      const dir = await checkout({ 'app/main.tf': moduleCall('app', VETTED) });
      await expect(checkModuleSources(dir, 'app', [])).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(/is not a vetted catalog module/),
      });
    });
  });

  describe('rootBackends', () => {
    it('names the backend the root folder declares', async () => {
      const dir = await checkout({
        'app/main.tf': moduleCall('app', VETTED),
        'app/backend.tf': 'terraform {\n  backend "s3" {}\n}\n',
      });
      await expect(checkModuleSources(dir, 'app', modules)).resolves.toEqual({
        ok: true,
        moduleSources: [VETTED],
        rootBackends: [{ type: 's3', file: 'app/backend.tf' }],
      });
    });

    it('names a backend declared in a .tf.json file', async () => {
      const dir = await checkout({
        'app/backend.tf.json': JSON.stringify({
          terraform: { backend: { s3: {} } },
        }),
      });
      await expect(
        checkModuleSources(dir, 'app', modules),
      ).resolves.toMatchObject({
        ok: true,
        rootBackends: [{ type: 's3', file: 'app/backend.tf.json' }],
      });
    });

    it('names an HCP Terraform cloud block', async () => {
      const dir = await checkout({
        'app/main.tf':
          'terraform {\n  cloud {\n    organization = "acme"\n  }\n}\n',
      });
      await expect(
        checkModuleSources(dir, 'app', modules),
      ).resolves.toMatchObject({
        ok: true,
        rootBackends: [{ type: 'cloud', file: 'app/main.tf' }],
      });
    });

    it('is empty for a terraform block without a backend', async () => {
      const dir = await checkout({
        'app/main.tf': 'terraform {\n  required_version = ">= 1.5"\n}\n',
      });
      await expect(
        checkModuleSources(dir, 'app', modules),
      ).resolves.toMatchObject({
        ok: true,
        rootBackends: [],
      });
    });

    it('is empty when only a local module declares a backend', async () => {
      const dir = await checkout({
        'app/main.tf': moduleCall('local', './inner'),
        'app/inner/main.tf': 'terraform {\n  backend "s3" {}\n}\n',
      });
      await expect(
        checkModuleSources(dir, 'app', modules),
      ).resolves.toMatchObject({
        ok: true,
        rootBackends: [],
      });
    });
  });
});
