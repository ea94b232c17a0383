import {
  AWS,
  contextOf,
  DB_V3_0_0,
  EXTERNAL,
  inApp,
  json,
  loadGraph,
  loadInstalledGraph,
  temporaryWorkspaces,
  terraformInit,
  VETTED,
  VETTED_DB,
  WEB_V1_1_0,
} from './__testUtils__/workspace';
import { inspect, INSPECTION_RULES } from './inspect';

const workspace = temporaryWorkspaces();
const PROD = contextOf();
const REFUSED_IN_PROD =
  'refused in prod (planPolicy.allowCodeExecution is false)';

const moduleCall = (name: string, source: string) =>
  `module "${name}" {\n  source = ${JSON.stringify(source)}\n}\n`;

describe('inspect', () => {
  it('runs every rule, in the order findings are reported', () => {
    expect(INSPECTION_RULES.map(([name]) => name)).toEqual([
      'block-types',
      'code-execution',
      'module-sources',
      'state-backends',
      'providers',
      'provider-arguments',
      'functions',
    ]);
  });

  describe('accepted code', () => {
    it('reports the vetted module sources it calls, sorted, with their pinned commits', async () => {
      const graph = await loadGraph(
        await workspace({
          'live/dev/app/main.tf':
            moduleCall('app', VETTED) +
            moduleCall('db', VETTED_DB) +
            moduleCall('local', './modules/x'),
          'live/dev/app/modules/x/main.tf': moduleCall('db', VETTED_DB),
        }),
        'live/dev/app',
      );
      expect(inspect(graph, PROD)).toEqual({
        ok: true,
        folders: 2,
        providers: [],
        moduleSources: [
          { source: VETTED_DB, commitSha: DB_V3_0_0 },
          { source: VETTED, commitSha: WEB_V1_1_0 },
        ],
      });
    });

    it('reports no module sources for a folder without module calls', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({ 'main.tf': 'resource "terraform_data" "x" {}\n' }),
        ),
      );
      expect(inspect(graph, PROD)).toEqual({
        ok: true,
        folders: 1,
        providers: [],
        moduleSources: [],
      });
    });

    it('reports a source once, however often and wherever it is called', async () => {
      const graph = await loadGraph(
        await workspace({
          'a/main.tf': moduleCall('b', '../b') + moduleCall('web', VETTED),
          'b/main.tf': moduleCall('a', '../a') + moduleCall('web', VETTED),
        }),
        'a',
      );
      expect(inspect(graph, PROD)).toEqual({
        ok: true,
        folders: 2,
        providers: [],
        moduleSources: [{ source: VETTED, commitSha: WEB_V1_1_0 }],
      });
    });

    it('reports the sources of the JSON array-of-labels form', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf.json': json({
              module: [
                { web: { source: VETTED } },
                { db: { source: VETTED_DB } },
              ],
            }),
          }),
        ),
      );
      expect(inspect(graph, PROD)).toMatchObject({
        ok: true,
        moduleSources: [{ source: VETTED_DB }, { source: VETTED }],
      });
    });

    it('counts the folders terraform init downloaded', async () => {
      const ws = await workspace(
        inApp({ 'main.tf': moduleCall('web', VETTED) }),
      );
      await terraformInit(ws.dataDir, [
        {
          key: 'web',
          source: VETTED,
          files: {
            'main.tf':
              'variable "name" {}\nresource "terraform_data" "service" {}\n',
          },
        },
      ]);
      expect(inspect(await loadInstalledGraph(ws), PROD)).toEqual({
        ok: true,
        folders: 2,
        providers: [],
        moduleSources: [{ source: VETTED, commitSha: WEB_V1_1_0 }],
      });
    });

    it('lets data "external" through where code may run and its provider is allowed', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf': 'data "external" "x" {\n  program = ["id"]\n}\n',
          }),
        ),
      );
      const sandbox = contextOf(
        { allowCodeExecution: true, providers: [EXTERNAL] },
        { environment: 'sandbox' },
      );
      expect(inspect(graph, sandbox)).toEqual({
        ok: true,
        folders: 1,
        providers: [EXTERNAL],
        moduleSources: [],
      });
    });
  });

  describe('refused code', () => {
    it('reports every finding, rule by rule, and how many follow the first', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'a.tf': 'data "external" "a" {\n  program = ["id"]\n}\n',
            'b.tf':
              'resource "terraform_data" "b" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
          }),
        ),
      );
      expect(inspect(graph, PROD)).toEqual({
        ok: false,
        reason: `app/a.tf:1: data "external" "a" runs a program at plan time; ${REFUSED_IN_PROD} (and 2 more findings)`,
        findings: [
          `app/a.tf:1: data "external" "a" runs a program at plan time; ${REFUSED_IN_PROD}`,
          `app/b.tf:2: provisioner "local-exec" in resource "terraform_data" "b" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
          'app/a.tf:1: data "external" "a" uses provider registry.terraform.io/hashicorp/external; refused in prod (planPolicy.providers is empty)',
        ],
      });
    });

    it('reports a single finding without a count', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({ 'main.tf': 'provider "aws" {\n  profile = "x"\n}\n' }),
        ),
      );
      expect(inspect(graph, contextOf({ providers: [AWS] }))).toEqual({
        ok: false,
        reason:
          'app/main.tf:2: provider "aws": argument "profile" is not allowed for registry.terraform.io/hashicorp/aws in prod (not on the provider\'s argument allowlist; planPolicy.providerArguments can add one)',
        findings: [expect.any(String)],
      });
    });

    it('counts a finding made twice once', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf':
              'locals {\n  x = [file("/etc/passwd"), file("/etc/passwd"), file("/etc/shadow")]\n}\n',
          }),
        ),
      );
      expect(inspect(graph, PROD)).toEqual({
        ok: false,
        reason: `app/main.tf:2: file("/etc/passwd") reads outside the module's own folder; refused in prod (and 1 more finding)`,
        findings: [
          `app/main.tf:2: file("/etc/passwd") reads outside the module's own folder; refused in prod`,
          `app/main.tf:2: file("/etc/shadow") reads outside the module's own folder; refused in prod`,
        ],
      });
    });

    it('lists at most 100 findings, and counts them all', async () => {
      const blocks = Array.from(
        { length: 150 },
        (_, i) => `data "external" "x${i}" {\n  program = ["id"]\n}\n`,
      );
      const graph = await loadGraph(
        await workspace(inApp({ 'main.tf': blocks.join('') })),
      );
      const result = inspect(graph, contextOf({ providers: [EXTERNAL] }));
      expect(result).toMatchObject({
        ok: false,
        reason: `app/main.tf:1: data "external" "x0" runs a program at plan time; ${REFUSED_IN_PROD} (and 149 more findings)`,
      });
      expect(!result.ok && result.findings).toHaveLength(100);
    });

    it('refuses a construct whose JSON key is spelled with an escape', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf.json':
              '{"data": {"ext\\u0065rnal": {"x": {"program": ["id"]}}}}',
          }),
        ),
      );
      // The text search finds only the data key; the parsed key decides.
      expect(
        inspect(graph, contextOf({ providers: [EXTERNAL] })),
      ).toMatchObject({
        ok: false,
        findings: [
          `app/main.tf.json:1: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
        ],
      });
    });

    it('escapes a label that would reorder or forge the reason around it', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf.json': json({
              data: {
                external: {
                  'x\u202e\n[sealed-runner] ok': { program: ['id'] },
                },
              },
            }),
          }),
        ),
      );
      expect(
        inspect(graph, contextOf({ providers: [EXTERNAL] })),
      ).toMatchObject({
        ok: false,
        findings: [
          `app/main.tf.json:4: data "external" "x\\u202e\\n[sealed-runner] ok" runs a program at plan time; ${REFUSED_IN_PROD}`,
        ],
      });
    });

    // Terraform evaluates a "//" key of an object value like any other key.
    it('refuses a file read hidden under a "//" key of an object', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf':
              'output "x" {\n  value = { "//" = file("/etc/passwd") }\n}\n',
          }),
        ),
      );
      expect(inspect(graph, PROD)).toMatchObject({
        ok: false,
        findings: [
          `app/main.tf:2: file("/etc/passwd") reads outside the module's own folder; refused in prod`,
        ],
      });
    });

    it('refuses what terraform init installed that the checkout did not show', async () => {
      const ws = await workspace(
        inApp({ 'main.tf': moduleCall('web', VETTED) }),
      );
      await terraformInit(ws.dataDir, [
        {
          key: 'web',
          source: VETTED,
          files: { 'main.tf': 'locals {\n  x = file("/etc/passwd")\n}\n' },
        },
      ]);
      expect(inspect(await loadGraph(ws), PROD)).toMatchObject({ ok: true });
      expect(inspect(await loadInstalledGraph(ws), PROD)).toMatchObject({
        ok: false,
        findings: [
          `.terraform/modules/web/modules/web-service/main.tf:2 in module.web: file("/etc/passwd") reads outside the module's own folder; refused in prod`,
        ],
      });
    });
  });
});
