import {
  AWS,
  contextOf,
  inApp,
  json,
  loadGraph,
  loadInstalledGraph,
  NULL,
  reasonsOf,
  temporaryWorkspaces,
  terraformInit,
  VETTED,
} from '../__testUtils__/workspace';
import { inspectProviders, providersRule } from './providers';

const workspace = temporaryWorkspaces();

const PROD = contextOf();
const AWS_ONLY = contextOf({ providers: [AWS] });
const PREAMBLE = 'variable "name" {\n  type = string\n}\n\n';
const REQUIRED = (source: string) =>
  `terraform {\n  required_providers {\n    aws = {\n      source  = "${source}"\n      version = "~> 5.0"\n    }\n  }\n}\n`;
const EMPTY = 'refused in prod (planPolicy.providers is empty)';
const NOT_AWS =
  'refused in prod (not in planPolicy.providers: registry.terraform.io/hashicorp/aws)';

describe('providersRule', () => {
  it.each<[string, Record<string, string>]>([
    [
      'the built-in terraform provider (terraform_data)',
      { 'main.tf': 'resource "terraform_data" "x" {}\n' },
    ],
    [
      'the built-in terraform provider (terraform_remote_state)',
      {
        'main.tf':
          'data "terraform_remote_state" "s" {\n  backend = "local"\n}\n',
      },
    ],
    [
      'the built-in provider declared by its address',
      {
        'main.tf':
          'terraform {\n  required_providers {\n    terraform = {\n      source = "terraform.io/builtin/terraform"\n    }\n  }\n}\nresource "terraform_data" "x" {}\n',
      },
    ],
    [
      'a root folder that only declares a backend',
      { 'main.tf': 'terraform {\n  backend "local" {}\n}\n' },
    ],
    [
      'the built-in provider functions',
      {
        'main.tf':
          'output "x" {\n  value = provider::terraform::encode_tfvars({ a = 1 })\n}\n',
      },
    ],
  ])('allows %s with an empty allowlist', async (_, files) => {
    const graph = await loadGraph(await workspace(inApp(files)));
    expect(inspectProviders(graph, PROD)).toEqual({ findings: [], used: [] });
  });

  it.each<[string, Record<string, string>]>([
    [
      'required_providers hashicorp/aws',
      {
        'versions.tf': REQUIRED('hashicorp/aws'),
        'main.tf': 'resource "aws_s3_bucket" "b" {}\n',
      },
    ],
    [
      'required_providers spelled in full, any case',
      { 'versions.tf': REQUIRED('Registry.Terraform.IO/HashiCorp/AWS') },
    ],
    ['required_providers with a bare type', { 'versions.tf': REQUIRED('aws') }],
    [
      'required_providers in the legacy version-only form',
      {
        'versions.tf':
          'terraform {\n  required_providers {\n    aws = "~> 5.0"\n  }\n}\n',
      },
    ],
    [
      'an implied provider (aws_instance → aws)',
      { 'main.tf': 'resource "aws_instance" "x" {}\ndata "aws_ami" "y" {}\n' },
    ],
    [
      'a provider block',
      { 'main.tf': 'provider "aws" {\n  region = "eu-west-1"\n}\n' },
    ],
    [
      'an aliased configuration used by a resource of another type',
      {
        'main.tf':
          'provider "aws" {\n  alias  = "west"\n  region = "us-west-2"\n}\nresource "terraform_data" "x" {\n  provider = aws.west\n}\n',
      },
    ],
    [
      'a renamed local name (cloud = hashicorp/aws)',
      {
        'main.tf':
          'terraform {\n  required_providers {\n    cloud = {\n      source = "hashicorp/aws"\n    }\n  }\n}\nresource "cloud_instance" "x" {}\n',
      },
    ],
    [
      'an import block and a module providers map naming an allowed provider',
      {
        'main.tf':
          'import {\n  to       = aws_instance.x\n  id       = "i-1"\n  provider = aws.west\n}\nmodule "m" {\n  source = "./m"\n  providers = {\n    aws = aws.west\n  }\n}\n',
        'm/main.tf': '',
      },
    ],
    [
      'the JSON forms',
      {
        'main.tf.json': json({
          '//': 'providers of the app',
          terraform: {
            required_providers: {
              '//': 'pinned',
              aws: { source: 'hashicorp/aws' },
            },
          },
          provider: { aws: [{ region: 'eu-west-1' }, { alias: 'west' }] },
          resource: { aws_instance: { x: { provider: 'aws.west' } } },
        }),
      },
    ],
  ])(
    'allows %s when hashicorp/aws is allowlisted, and reports it',
    async (_, files) => {
      const graph = await loadGraph(await workspace(inApp(files)));
      expect(inspectProviders(graph, AWS_ONLY)).toEqual({
        findings: [],
        used: [AWS],
      });
    },
  );

  it.each<[string, Record<string, string>, string]>([
    [
      'an unlisted provider in required_providers',
      { 'versions.tf': REQUIRED('hashicorp/aws') },
      `app/versions.tf:3: required_providers "aws" uses provider registry.terraform.io/hashicorp/aws; ${EMPTY}`,
    ],
    [
      'an implied provider (aws_instance)',
      {
        'main.tf': `${PREAMBLE}resource "aws_instance" "x" {\n  ami = "ami-1"\n}\n`,
      },
      `app/main.tf:5: resource "aws_instance" "x" uses provider registry.terraform.io/hashicorp/aws; ${EMPTY}`,
    ],
    [
      'an implied provider of a data source',
      { 'main.tf': 'data "http" "x" {\n  url = "https://example.com"\n}\n' },
      `app/main.tf:1: data "http" "x" uses provider registry.terraform.io/hashicorp/http; ${EMPTY}`,
    ],
    [
      'an implied provider of an ephemeral resource',
      { 'main.tf': 'ephemeral "random_password" "p" {\n  length = 16\n}\n' },
      `app/main.tf:1: ephemeral "random_password" "p" uses provider registry.terraform.io/hashicorp/random; ${EMPTY}`,
    ],
    [
      'an implied provider of a data source scoped to a check block',
      {
        'main.tf':
          'check "c" {\n  data "http" "x" {\n    url = "https://example.com"\n  }\n  assert {\n    condition     = true\n    error_message = "x"\n  }\n}\n',
      },
      `app/main.tf:2: data "http" "x" in check "c" uses provider registry.terraform.io/hashicorp/http; ${EMPTY}`,
    ],
    [
      'a provider block',
      { 'main.tf': 'provider "google" {\n  project = "x"\n}\n' },
      `app/main.tf:1: provider "google" uses provider registry.terraform.io/hashicorp/google; ${EMPTY}`,
    ],
    [
      'a resource pointed at an aliased configuration of an unlisted provider',
      {
        'main.tf':
          'resource "terraform_data" "x" {\n  provider = google.west\n}\n',
      },
      `app/main.tf:2: resource "terraform_data" "x" uses provider registry.terraform.io/hashicorp/google; ${EMPTY}`,
    ],
    [
      'a provider passed to a module',
      {
        'main.tf':
          'module "m" {\n  source = "./m"\n  providers = {\n    aws = google.x\n  }\n}\n',
        'm/main.tf': '',
      },
      `app/main.tf:1: module "m" providers.aws uses provider registry.terraform.io/hashicorp/google; ${EMPTY}`,
    ],
    [
      'a provider passed to a module (JSON)',
      {
        'main.tf.json': json({
          module: { m: { source: './m', providers: { aws: 'google.x' } } },
        }),
        'm/main.tf': '',
      },
      `app/main.tf.json:3: module "m" providers.aws uses provider registry.terraform.io/hashicorp/google; ${EMPTY}`,
    ],
    [
      'an import block through an unlisted provider',
      {
        'main.tf':
          'import {\n  to       = terraform_data.x\n  id       = "x"\n  provider = google.west\n}\n',
      },
      `app/main.tf:4: import block uses provider registry.terraform.io/hashicorp/google; ${EMPTY}`,
    ],
    [
      'the registry provider named terraform, which is not the built-in one',
      {
        'main.tf':
          'terraform {\n  required_providers {\n    terraform = {\n      source = "hashicorp/terraform"\n    }\n  }\n}\n',
      },
      `app/main.tf:3: required_providers "terraform" uses provider registry.terraform.io/hashicorp/terraform; ${EMPTY}`,
    ],
  ])('refuses %s', async (_, files, reason) => {
    const graph = await loadGraph(await workspace(inApp(files)));
    expect(reasonsOf(providersRule(graph, PROD))[0]).toBe(reason);
  });

  it.each<[string, Record<string, string>, string]>([
    [
      'another namespace under a listed type',
      {
        'versions.tf': REQUIRED('evil/aws'),
        'main.tf': 'resource "aws_instance" "x" {}\n',
      },
      `app/versions.tf:3: required_providers "aws" uses provider registry.terraform.io/evil/aws; ${NOT_AWS}`,
    ],
    [
      'another host under a listed namespace and type',
      { 'versions.tf': REQUIRED('evil.example.com/hashicorp/aws') },
      `app/versions.tf:3: required_providers "aws" uses provider evil.example.com/hashicorp/aws; ${NOT_AWS}`,
    ],
    [
      'a look-alike host outside ASCII',
      { 'versions.tf': REQUIRED('registry.terraform.ｉo/hashicorp/aws') },
      'app/versions.tf:3: required_providers "aws": provider source "registry.terraform.ｉo/hashicorp/aws" must be plain ASCII',
    ],
    [
      'a source that is not a literal',
      { 'versions.tf': REQUIRED('${var.source}') },
      'app/versions.tf:3: required_providers "aws": provider source "${var.source}" must be [host/]namespace/type of letters, digits and \'-\'',
    ],
    [
      // Terraform applies override files over the declarations they repeat.
      'an override file that re-points an allowed local name',
      {
        'versions.tf': REQUIRED('hashicorp/aws'),
        'versions_override.tf': REQUIRED('evil/aws'),
        'main.tf': 'resource "aws_instance" "x" {}\n',
      },
      `app/versions_override.tf:3: required_providers "aws" uses provider registry.terraform.io/evil/aws; ${NOT_AWS}`,
    ],
    [
      'a provider reference that is not a reference',
      {
        'main.tf.json': json({
          resource: { aws_instance: { x: { provider: { name: 'aws' } } } },
        }),
      },
      'app/main.tf.json:5: resource "aws_instance" "x" does not name a provider configuration literally',
    ],
    [
      'a module providers map whose value is not a reference',
      {
        'main.tf':
          'module "m" {\n  source = "./m"\n  providers = {\n    aws = local.providers["aws"]\n  }\n}\n',
        'm/main.tf': '',
      },
      'app/main.tf:1: module "m" providers.aws does not name a provider configuration literally',
    ],
  ])(
    'refuses %s even with hashicorp/aws allowlisted',
    async (_, files, reason) => {
      const graph = await loadGraph(await workspace(inApp(files)));
      expect(reasonsOf(providersRule(graph, AWS_ONLY))[0]).toBe(reason);
    },
  );

  it('refuses a local name that an override file maps to another allowed provider', async () => {
    const graph = await loadGraph(
      await workspace(
        inApp({
          'versions.tf': REQUIRED('hashicorp/aws'),
          'override.tf': REQUIRED('hashicorp/google'),
          'main.tf': 'provider "aws" {\n  credentials = "/tmp/key.json"\n}\n',
        }),
      ),
    );
    const policy = {
      ...AWS_ONLY,
      policy: {
        ...AWS_ONLY.policy,
        providers: [
          'registry.terraform.io/hashicorp/aws',
          'registry.terraform.io/hashicorp/google',
        ],
      },
    };
    expect(reasonsOf(providersRule(graph, policy))).toEqual([
      'app/override.tf:3: required_providers "aws" is declared with more than one source (registry.terraform.io/hashicorp/aws, registry.terraform.io/hashicorp/google); declare each name once',
    ]);
  });

  it('names the line of each of two import blocks', async () => {
    const graph = await loadGraph(
      await workspace(
        inApp({
          'main.tf':
            'import {\n  to       = aws_instance.a\n  id       = "i-1"\n  provider = aws.west\n}\n' +
            'import {\n  to       = aws_instance.b\n  id       = "i-2"\n  provider = google.west\n}\n',
        }),
      ),
    );
    expect(reasonsOf(providersRule(graph, AWS_ONLY))).toEqual([
      `app/main.tf:9: import block uses provider registry.terraform.io/hashicorp/google; ${NOT_AWS}`,
    ]);
  });

  it('resolves local names per module: a child without required_providers means hashicorp/<name>', async () => {
    const graph = await loadGraph(
      await workspace({
        'app/main.tf': `${REQUIRED(
          'hashicorp/aws',
        )}module "child" {\n  source = "./child"\n}\n`,
        'app/child/main.tf':
          'resource "aws_instance" "x" {}\nresource "null_resource" "y" {}\n',
      }),
    );
    expect(reasonsOf(providersRule(graph, AWS_ONLY))).toEqual([
      `app/child/main.tf:2: resource "null_resource" "y" uses provider registry.terraform.io/hashicorp/null; ${NOT_AWS}`,
    ]);
  });

  it('refuses an unlisted provider used inside a downloaded module', async () => {
    const ws = await workspace({
      'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
    });
    await terraformInit(ws.dataDir, [
      {
        key: 'web',
        source: VETTED,
        files: {
          'main.tf':
            'resource "terraform_data" "ok" {}\nresource "null_resource" "x" {}\n',
        },
      },
    ]);
    expect(
      reasonsOf(providersRule(await loadInstalledGraph(ws), AWS_ONLY)),
    ).toEqual([
      `.terraform/modules/web/modules/web-service/main.tf:2: resource "null_resource" "x" in module.web uses provider registry.terraform.io/hashicorp/null; ${NOT_AWS}`,
    ]);
  });

  // After init the lock file lists every provider Terraform selected,
  // including those only the state still needs.
  it('refuses an unlisted provider in the lock file terraform init wrote', async () => {
    const ws = await workspace({
      'app/main.tf': 'resource "terraform_data" "x" {}\n',
      'app/.terraform.lock.hcl':
        '# This file is maintained automatically by "terraform init".\n\nprovider "registry.terraform.io/hashicorp/null" {\n  version = "3.2.4"\n  hashes  = ["h1:x"]\n}\n',
    });
    expect(providersRule(await loadGraph(ws), PROD)).toEqual([]);
    const installed = await loadInstalledGraph(ws);
    expect(reasonsOf(providersRule(installed, PROD))).toEqual([
      `app/.terraform.lock.hcl:3: provider "registry.terraform.io/hashicorp/null" (selected by terraform init) uses provider registry.terraform.io/hashicorp/null; ${EMPTY}`,
    ]);
    expect(
      inspectProviders(installed, contextOf({ providers: [NULL] })),
    ).toEqual({ findings: [], used: [NULL] });
  });

  it.each<[string, string, string]>([
    [
      'data "external" without its provider on the allowlist',
      'data "external" "x" {\n  program = ["id"]\n}\n',
      'app/main.tf:1: data "external" "x" uses provider registry.terraform.io/hashicorp/external; refused in sandbox (planPolicy.providers is empty)',
    ],
    [
      'a provisioner in a null_resource without hashicorp/null',
      'resource "null_resource" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
      'app/main.tf:1: resource "null_resource" "x" uses provider registry.terraform.io/hashicorp/null; refused in sandbox (planPolicy.providers is empty)',
    ],
  ])(
    'still enforces the providers where code may run: %s',
    async (_, text, reason) => {
      const graph = await loadGraph(
        await workspace(inApp({ 'main.tf': text })),
      );
      const sandbox = contextOf(
        { allowCodeExecution: true },
        { environment: 'sandbox' },
      );
      expect(reasonsOf(providersRule(graph, sandbox))).toEqual([reason]);
    },
  );
});
