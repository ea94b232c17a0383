import { join } from 'node:path';
import {
  contextOf,
  downloadedDir,
  inApp,
  json,
  loadGraph,
  loadInstalledGraph,
  reasonsOf,
  temporaryWorkspaces,
  terraformInit,
  VETTED,
} from '../__testUtils__/workspace';
import { codeExecutionRule } from './codeExecution';

const workspace = temporaryWorkspaces();

const PROD = contextOf({ allowCodeExecution: false });
const SANDBOX = contextOf(
  { allowCodeExecution: true },
  { environment: 'sandbox' },
);
const REFUSED_IN_PROD =
  'refused in prod (planPolicy.allowCodeExecution is false)';
const PREAMBLE = 'variable "name" {\n  type = string\n}\n\n';

describe('codeExecutionRule', () => {
  // Each construct in HCL and in Terraform's JSON forms; the reason names
  // the file, the line and the construct.
  it.each<[string, Record<string, string>, string]>([
    [
      'data "external" (HCL)',
      {
        'main.tf': `${PREAMBLE}data "external" "x" {\n  program = ["sh", "-c", "id"]\n}\n`,
      },
      `app/main.tf:5: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'data "external" with bare labels (HCL)',
      { 'main.tf': `${PREAMBLE}data external x {\n  program = ["id"]\n}\n` },
      `app/main.tf:5: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'data "external" (JSON object form)',
      {
        'main.tf.json': json({
          data: { external: { x: { program: ['id'] } } },
        }),
      },
      `app/main.tf.json:4: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'data "external" (JSON array-of-labels form)',
      {
        'main.tf.json': json({
          data: [
            { terraform_remote_state: { s: { backend: 'local' } } },
            { external: { x: [{ program: ['id'] }] } },
          ],
        }),
      },
      `app/main.tf.json:12: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'data "external" after a "//" comment key (JSON)',
      {
        'main.tf.json': json({
          '//': 'reads the inventory',
          data: {
            '//': 'a comment, not a type',
            external: { x: { program: ['id'] } },
          },
        }),
      },
      `app/main.tf.json:6: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'data "external" scoped to a check block (HCL)',
      {
        'main.tf': `check "c" {\n  data "external" "x" {\n    program = ["id"]\n  }\n  assert {\n    condition     = data.external.x.result != null\n    error_message = "x"\n  }\n}\n`,
      },
      `app/main.tf:2: data "external" "x" in check "c" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'data "external" scoped to a check block (JSON)',
      {
        'main.tf.json': json({
          check: { c: { data: { external: { x: { program: ['id'] } } } } },
        }),
      },
      `app/main.tf.json:6: data "external" "x" in check "c" runs a program at plan time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a local-exec provisioner in terraform_data (HCL)',
      {
        'main.tf': `${PREAMBLE}resource "terraform_data" "x" {\n  input = var.name\n\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n`,
      },
      `app/main.tf:8: provisioner "local-exec" in resource "terraform_data" "x" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a local-exec provisioner (JSON object form)',
      {
        'main.tf.json': json({
          resource: {
            terraform_data: {
              x: { provisioner: { 'local-exec': { command: 'id' } } },
            },
          },
        }),
      },
      `app/main.tf.json:6: provisioner "local-exec" in resource "terraform_data" "x" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a local-exec provisioner (JSON array form)',
      {
        'main.tf.json': json({
          resource: {
            terraform_data: {
              x: { provisioner: [{ 'local-exec': { command: 'id' } }] },
            },
          },
        }),
      },
      `app/main.tf.json:7: provisioner "local-exec" in resource "terraform_data" "x" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a remote-exec provisioner (HCL)',
      {
        'main.tf': `resource "terraform_data" "x" {\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n}\n`,
      },
      `app/main.tf:2: provisioner "remote-exec" in resource "terraform_data" "x" runs commands on another host over a connection the runner opens at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a remote-exec provisioner (JSON)',
      {
        'main.tf.json': json({
          resource: {
            terraform_data: {
              x: { provisioner: { 'remote-exec': [{ inline: ['id'] }] } },
            },
          },
        }),
      },
      `app/main.tf.json:6: provisioner "remote-exec" in resource "terraform_data" "x" runs commands on another host over a connection the runner opens at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a file provisioner, which copies files off the runner',
      {
        'main.tf': `resource "terraform_data" "x" {\n  provisioner "file" {\n    source      = "/etc/passwd"\n    destination = "/tmp/x"\n  }\n}\n`,
      },
      `app/main.tf:2: provisioner "file" in resource "terraform_data" "x" copies files from the runner to another host at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a provisioner of a type the runner does not know',
      {
        'main.tf': `resource "terraform_data" "x" {\n  provisioner "chef" {}\n}\n`,
      },
      `app/main.tf:2: provisioner "chef" in resource "terraform_data" "x" is a provisioner, which runs at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a destroy-time provisioner in a removed block (HCL)',
      {
        'main.tf': `removed {\n  from = terraform_data.old\n\n  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n`,
      },
      `app/main.tf:4: provisioner "local-exec" in removed block (from terraform_data.old) runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ],
    [
      'a destroy-time provisioner in a removed block (JSON)',
      {
        'main.tf.json': json({
          removed: [
            {
              from: 'terraform_data.old',
              provisioner: [
                { 'local-exec': { when: 'destroy', command: 'id' } },
              ],
            },
          ],
        }),
      },
      `app/main.tf.json:7: provisioner "local-exec" in removed block (from terraform_data.old) runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ],
  ])('refuses %s', async (_, files, reason) => {
    const graph = await loadGraph(await workspace(inApp(files)));
    expect(reasonsOf(codeExecutionRule(graph, PROD))).toEqual([reason]);
  });

  it('refuses a provisioner inside a local module, naming the nested file', async () => {
    const graph = await loadGraph(
      await workspace({
        'live/prod/app/main.tf':
          'module "inner" {\n  source = "../../shared/inner"\n}\n',
        'live/shared/inner/main.tf': `${PREAMBLE}resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n`,
      }),
      'live/prod/app',
    );
    expect(reasonsOf(codeExecutionRule(graph, PROD))).toEqual([
      `live/shared/inner/main.tf:6: provisioner "local-exec" in resource "terraform_data" "x" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ]);
  });

  it('refuses data "external" inside a module terraform init downloaded, which the checkout alone does not show', async () => {
    const ws = await workspace({
      'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
    });
    await terraformInit(ws.dataDir, [
      {
        key: 'web',
        source: VETTED,
        files: {
          'main.tf': 'resource "terraform_data" "ok" {}\n',
          'hidden.tf': `${PREAMBLE}data "external" "x" {\n  program = ["id"]\n}\n`,
        },
      },
    ]);
    expect(codeExecutionRule(await loadGraph(ws), PROD)).toEqual([]);
    expect(
      reasonsOf(codeExecutionRule(await loadInstalledGraph(ws), PROD)),
    ).toEqual([
      `.terraform/modules/web/modules/web-service/hidden.tf:5: data "external" "x" in module.web runs a program at plan time; ${REFUSED_IN_PROD}`,
    ]);
  });

  it('refuses a provisioner in a local module of a downloaded module', async () => {
    const ws = await workspace({
      'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
    });
    await terraformInit(
      ws.dataDir,
      [
        {
          key: 'web',
          source: VETTED,
          files: {
            'main.tf': 'module "inner" {\n  source = "./inner"\n}\n',
            'inner/main.tf':
              'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
          },
        },
      ],
      [
        {
          Key: 'web.inner',
          Source: './inner',
          Dir: join(downloadedDir(ws.dataDir, 'web', VETTED), 'inner'),
        },
      ],
    );
    expect(
      reasonsOf(codeExecutionRule(await loadInstalledGraph(ws), PROD)),
    ).toEqual([
      `.terraform/modules/web/modules/web-service/inner/main.tf:2: provisioner "local-exec" in resource "terraform_data" "x" in module.web.inner runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ]);
  });

  it('names the line of each of two removed blocks', async () => {
    const removed = (from: string) =>
      `removed {\n  from = terraform_data.${from}\n  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n`;
    const graph = await loadGraph(
      await workspace(inApp({ 'main.tf': removed('a') + removed('b') })),
    );
    expect(reasonsOf(codeExecutionRule(graph, PROD))).toEqual([
      `app/main.tf:3: provisioner "local-exec" in removed block (from terraform_data.a) runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
      `app/main.tf:10: provisioner "local-exec" in removed block (from terraform_data.b) runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
    ]);
  });

  // The decision is made on the parsed file: text that only looks like a
  // construct is not one.
  it.each([
    [
      'a heredoc',
      'locals {\n  doc = <<-EOT\n    data "external" "x" {\n      program = ["id"]\n    }\n  EOT\n}\n',
    ],
    [
      'a comment',
      '# data "external" "x" {\n# provisioner "local-exec" {\nresource "terraform_data" "ok" {}\n',
    ],
    [
      'a string value',
      'resource "terraform_data" "ok" {\n  input = "provisioner \\"local-exec\\" { command = \\"id\\" }"\n}\n',
    ],
    [
      'a data source of another type',
      'data "terraform_remote_state" "external" {\n  backend = "s3"\n}\n',
    ],
  ])('accepts a construct mentioned only in %s', async (_, text) => {
    const graph = await loadGraph(await workspace(inApp({ 'main.tf': text })));
    expect(codeExecutionRule(graph, PROD)).toEqual([]);
  });

  describe('allowCodeExecution: true (sandbox-like)', () => {
    it('lets data "external", provisioners of terraform_data and removed blocks through', async () => {
      const graph = await loadGraph(
        await workspace(
          inApp({
            'main.tf':
              'data "external" "x" {\n  program = ["id"]\n}\n' +
              'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n' +
              'removed {\n  from = terraform_data.old\n  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n',
          }),
        ),
      );
      expect(codeExecutionRule(graph, SANDBOX)).toEqual([]);
      expect(codeExecutionRule(graph, PROD)).toHaveLength(3);
    });
  });
});
