import {
  contextOf,
  inApp,
  json,
  loadGraph,
  reasonsOf,
  temporaryWorkspaces,
} from '../__testUtils__/workspace';
import { blockTypesRule } from './blockTypes';

const workspace = temporaryWorkspaces();
const PROD = contextOf({});
const ONLY_BLOCKS =
  'is not one the runner inspects (only terraform, provider, variable, locals, output, module, resource, data, ephemeral, check, import, moved, removed)';
const ONLY_SETTINGS =
  'is not one the runner inspects (only required_version, required_providers, backend, cloud, provider_meta)';

async function judge(files: Record<string, string>): Promise<string[]> {
  return reasonsOf(
    blockTypesRule(await loadGraph(await workspace(inApp(files))), PROD),
  );
}

describe('blockTypesRule', () => {
  it('accepts every block type of the language and the JSON comment key', async () => {
    await expect(
      judge({
        'main.tf': [
          'terraform {\n  required_version = ">= 1.5"\n  required_providers {}\n  provider_meta "x" {}\n}',
          'provider "aws" {}',
          'variable "v" {}',
          'locals {}',
          'output "o" {\n  value = 1\n}',
          'module "m" {\n  source = "./m"\n}',
          'resource "terraform_data" "r" {}',
          'data "terraform_remote_state" "d" {\n  backend = "s3"\n}',
          'ephemeral "random_password" "p" {}',
          'check "c" {\n  assert {\n    condition     = true\n    error_message = "x"\n  }\n}',
          'import {\n  to = terraform_data.r\n  id = "x"\n}',
          'moved {\n  from = terraform_data.a\n  to   = terraform_data.r\n}',
          'removed {\n  from = terraform_data.b\n}',
          '',
        ].join('\n\n'),
        'm/main.tf': '',
        'more.tf.json': json({ '//': 'a comment', locals: { x: 1 } }),
      }),
    ).resolves.toEqual([]);
  });

  it.each<[string, Record<string, string>, string]>([
    [
      'a block type of a newer Terraform (HCL)',
      {
        'main.tf':
          'locals {}\n\naction "aws_lambda_invoke" "x" {\n  config {}\n}\n',
      },
      `app/main.tf:3: block type "action" ${ONLY_BLOCKS}`,
    ],
    [
      'a block type of a newer Terraform (JSON)',
      { 'main.tf.json': json({ action: { aws_lambda_invoke: { x: {} } } }) },
      `app/main.tf.json:2: block type "action" ${ONLY_BLOCKS}`,
    ],
    [
      'a misspelt block type',
      { 'main.tf': 'resources "terraform_data" "x" {}\n' },
      `app/main.tf:1: block type "resources" ${ONLY_BLOCKS}`,
    ],
    [
      'an experiment',
      {
        'main.tf':
          'terraform {\n  required_version = ">= 1.5"\n  experiments = [unknown_instances]\n}\n',
      },
      `app/main.tf:3: terraform setting "experiments" ${ONLY_SETTINGS}`,
    ],
    [
      'an unknown terraform setting (JSON)',
      { 'main.tf.json': json({ terraform: { language: 'TF2021' } }) },
      `app/main.tf.json:3: terraform setting "language" ${ONLY_SETTINGS}`,
    ],
  ])('refuses %s', async (_, files, reason) => {
    await expect(judge(files)).resolves.toEqual([reason]);
  });

  it('judges local modules too, naming the module', async () => {
    await expect(
      judge({
        'main.tf': 'module "m" {\n  source = "./m"\n}\n',
        'm/main.tf': 'list "aws_instance" "all" {}\n',
      }),
    ).resolves.toEqual([
      expect.stringMatching(/^app\/m\/main\.tf:1.*: block type "list" /),
    ]);
  });
});
