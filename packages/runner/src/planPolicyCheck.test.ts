import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CatalogModule } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  checkPlanPolicy,
  PlanPolicyCheck,
  PlanPolicyCheckOptions,
} from './planPolicyCheck';

type Policy = PlanPolicyCheckOptions['policy'];

const CATALOG = 'git::https://git.example.com/platform/service-catalog.git';
const WEB = `${CATALOG}//modules/web-service`;
const VETTED = `${WEB}?ref=v1.1.0`;
const UNVETTED = `${WEB}?ref=v2.0.0-rc1`;
const modules: CatalogModule[] = [
  { source: WEB, versions: ['v1.0.0', 'v1.1.0'] },
];

const AWS = 'registry.terraform.io/hashicorp/aws';
const EXTERNAL = 'registry.terraform.io/hashicorp/external';
const NULL = 'registry.terraform.io/hashicorp/null';

const PROD: Policy = { allowCodeExecution: false, providers: [] };
const SANDBOX: Policy = { allowCodeExecution: true, providers: [] };
const REFUSED_IN_PROD =
  'refused in prod (planPolicy.allowCodeExecution is false)';

const json = (value: unknown) => JSON.stringify(value, null, 2);

let root: string;
let outside: string;
let count = 0;

async function writeFiles(dir: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** A fresh checkout and an empty Terraform data directory beside it. */
async function workspace(files: Record<string, string>) {
  count += 1;
  const checkoutDir = join(root, `run-${count}`, 'checkout');
  const dataDir = join(root, `run-${count}`, 'terraform-data');
  await mkdir(checkoutDir, { recursive: true });
  await mkdir(dataDir, { recursive: true });
  await writeFiles(checkoutDir, files);
  return { checkoutDir, dataDir };
}

/**
 * What `terraform init` leaves for one downloaded catalog module `web`:
 * its package under modules/web and an entry in modules.json.
 */
async function downloadWeb(
  dataDir: string,
  files: Record<string, string>,
  extraEntries: Array<Record<string, string>> = [],
) {
  await writeFiles(join(dataDir, 'modules/web/modules/web-service'), files);
  await writeFile(
    join(dataDir, 'modules/modules.json'),
    JSON.stringify({
      Modules: [
        { Key: '', Source: '', Dir: '.' },
        {
          Key: 'web',
          Source: VETTED,
          Dir: join(dataDir, 'modules/web/modules/web-service'),
        },
        ...extraEntries,
      ],
    }),
  );
}

function check(
  checkoutDir: string,
  folder: string,
  policy: Policy = PROD,
  terraformDataDir?: string,
): Promise<PlanPolicyCheck> {
  return checkPlanPolicy({
    checkoutDir,
    folder,
    environment: policy.allowCodeExecution ? 'sandbox' : 'prod',
    policy,
    modules,
    terraformDataDir,
  });
}

function findings(result: PlanPolicyCheck): string[] {
  if (result.ok) {
    throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
  }
  expect(result.reason.startsWith(result.findings[0])).toBe(true);
  return result.findings;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sealed-runner-plan-policy-'));
  outside = await mkdtemp(join(tmpdir(), 'sealed-runner-plan-policy-outside-'));
  await writeFile(
    join(outside, 'main.tf'),
    'data "external" "outside" {\n  program = ["true"]\n}\n',
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const PREAMBLE = 'variable "name" {\n  type = string\n}\n\n';

describe('checkPlanPolicy', () => {
  describe('code execution, refused where allowCodeExecution is false', () => {
    // Each construct in HCL and in Terraform's JSON forms; the first
    // finding names the file, the line and the construct.
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
    ])('refuses %s', async (_, files, first) => {
      const { checkoutDir } = await workspace(
        Object.fromEntries(
          Object.entries(files).map(([name, text]) => [`app/${name}`, text]),
        ),
      );
      expect(findings(await check(checkoutDir, 'app'))[0]).toBe(first);
    });

    it('refuses a provisioner inside a local module, naming the nested file', async () => {
      const { checkoutDir } = await workspace({
        'live/prod/app/main.tf':
          'module "inner" {\n  source = "../../shared/inner"\n}\n',
        'live/shared/inner/main.tf': `${PREAMBLE}resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n`,
      });
      const result = await check(checkoutDir, 'live/prod/app');
      expect(findings(result)).toEqual([
        `live/shared/inner/main.tf:6: provisioner "local-exec" in resource "terraform_data" "x" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
      ]);
      expect((result as { reason: string }).reason).toBe(
        `live/shared/inner/main.tf:6: provisioner "local-exec" in resource "terraform_data" "x" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
      );
    });

    it('refuses data "external" inside a module terraform init downloaded', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, {
        'main.tf': 'resource "terraform_data" "ok" {}\n',
        'hidden.tf': `${PREAMBLE}data "external" "x" {\n  program = ["id"]\n}\n`,
      });
      // Before init the checkout alone is clean.
      await expect(check(checkoutDir, 'app')).resolves.toMatchObject({
        ok: true,
      });
      expect(findings(await check(checkoutDir, 'app', PROD, dataDir))[0]).toBe(
        `.terraform/modules/web/modules/web-service/hidden.tf:5: data "external" "x" in module.web runs a program at plan time; ${REFUSED_IN_PROD}`,
      );
    });

    it('refuses a provisioner in a local module of a downloaded module', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(
        dataDir,
        {
          'main.tf': 'module "inner" {\n  source = "./inner"\n}\n',
          'inner/main.tf':
            'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
        },
        [
          {
            Key: 'web.inner',
            Source: './inner',
            Dir: join(dataDir, 'modules/web/modules/web-service/inner'),
          },
        ],
      );
      expect(findings(await check(checkoutDir, 'app', PROD, dataDir))).toEqual([
        `.terraform/modules/web/modules/web-service/inner/main.tf:2: provisioner "local-exec" in resource "terraform_data" "x" in module.web.inner runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
      ]);
    });

    it('reports every finding and how many follow the first', async () => {
      const { checkoutDir } = await workspace({
        'app/a.tf': 'data "external" "a" {\n  program = ["id"]\n}\n',
        'app/b.tf':
          'resource "terraform_data" "b" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
      });
      const result = await check(checkoutDir, 'app');
      expect(result).toEqual({
        ok: false,
        reason: `app/a.tf:1: data "external" "a" runs a program at plan time; ${REFUSED_IN_PROD} (and 2 more findings)`,
        findings: [
          `app/a.tf:1: data "external" "a" runs a program at plan time; ${REFUSED_IN_PROD}`,
          `app/b.tf:2: provisioner "local-exec" in resource "terraform_data" "b" runs a command on the runner at apply time; ${REFUSED_IN_PROD}`,
          'app/a.tf:1: data "external" "a" uses provider registry.terraform.io/hashicorp/external; refused in prod (planPolicy.providers is empty)',
        ],
      });
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
    ])('accepts a construct mentioned only in %s', async (_, text) => {
      const { checkoutDir } = await workspace({ 'app/main.tf': text });
      await expect(check(checkoutDir, 'app')).resolves.toEqual({
        ok: true,
        folders: 1,
        providers: [],
      });
    });
  });

  describe('allowCodeExecution: true (sandbox-like)', () => {
    it('lets data "external" through once its provider is allowlisted', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf': 'data "external" "x" {\n  program = ["id"]\n}\n',
      });
      await expect(
        check(checkoutDir, 'app', {
          allowCodeExecution: true,
          providers: [EXTERNAL],
        }),
      ).resolves.toEqual({ ok: true, folders: 1, providers: [EXTERNAL] });
    });

    it('lets provisioners of terraform_data and removed blocks through', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf':
          'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n' +
          'removed {\n  from = terraform_data.old\n  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n',
      });
      await expect(check(checkoutDir, 'app', SANDBOX)).resolves.toEqual({
        ok: true,
        folders: 1,
        providers: [],
      });
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
    ])('still enforces the providers: %s', async (_, text, first) => {
      const { checkoutDir } = await workspace({ 'app/main.tf': text });
      expect(findings(await check(checkoutDir, 'app', SANDBOX))).toEqual([
        first,
      ]);
    });
  });

  describe('providers', () => {
    const AWS_ONLY: Policy = {
      allowCodeExecution: false,
      providers: [AWS],
    };
    const REQUIRED = (source: string) =>
      `terraform {\n  required_providers {\n    aws = {\n      source  = "${source}"\n      version = "~> 5.0"\n    }\n  }\n}\n`;

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
    ])('allows %s with an empty allowlist', async (_, files) => {
      const { checkoutDir } = await workspace(
        Object.fromEntries(
          Object.entries(files).map(([name, text]) => [`app/${name}`, text]),
        ),
      );
      await expect(check(checkoutDir, 'app')).resolves.toEqual({
        ok: true,
        folders: 1,
        providers: [],
      });
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
      [
        'required_providers with a bare type',
        { 'versions.tf': REQUIRED('aws') },
      ],
      [
        'an implied provider (aws_instance → aws)',
        {
          'main.tf': 'resource "aws_instance" "x" {}\ndata "aws_ami" "y" {}\n',
        },
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
        'the JSON forms',
        {
          'main.tf.json': json({
            terraform: {
              required_providers: { aws: { source: 'hashicorp/aws' } },
            },
            provider: { aws: [{ region: 'eu-west-1' }, { alias: 'west' }] },
            resource: { aws_instance: { x: { provider: 'aws.west' } } },
          }),
        },
      ],
    ])('allows %s when hashicorp/aws is allowlisted', async (_, files) => {
      const { checkoutDir } = await workspace(
        Object.fromEntries(
          Object.entries(files).map(([name, text]) => [`app/${name}`, text]),
        ),
      );
      await expect(check(checkoutDir, 'app', AWS_ONLY)).resolves.toEqual({
        ok: true,
        folders: 1,
        providers: [AWS],
      });
    });

    it.each<[string, Record<string, string>, string]>([
      [
        'an unlisted provider in required_providers',
        { 'versions.tf': REQUIRED('hashicorp/aws') },
        'app/versions.tf:3: required_providers "aws" uses provider registry.terraform.io/hashicorp/aws; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'an implied provider (aws_instance)',
        {
          'main.tf': `${PREAMBLE}resource "aws_instance" "x" {\n  ami = "ami-1"\n}\n`,
        },
        'app/main.tf:5: resource "aws_instance" "x" uses provider registry.terraform.io/hashicorp/aws; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'an implied provider of a data source',
        { 'main.tf': 'data "http" "x" {\n  url = "https://example.com"\n}\n' },
        'app/main.tf:1: data "http" "x" uses provider registry.terraform.io/hashicorp/http; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'an implied provider of an ephemeral resource',
        { 'main.tf': 'ephemeral "random_password" "p" {\n  length = 16\n}\n' },
        'app/main.tf:1: ephemeral "random_password" "p" uses provider registry.terraform.io/hashicorp/random; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'a provider block',
        { 'main.tf': 'provider "google" {\n  project = "x"\n}\n' },
        'app/main.tf:1: provider "google" uses provider registry.terraform.io/hashicorp/google; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'a resource pointed at an aliased configuration of an unlisted provider',
        {
          'main.tf':
            'resource "terraform_data" "x" {\n  provider = google.west\n}\n',
        },
        'app/main.tf:2: resource "terraform_data" "x" uses provider registry.terraform.io/hashicorp/google; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'a provider passed to a module',
        {
          'main.tf':
            'module "m" {\n  source = "./m"\n  providers = {\n    aws = google.x\n  }\n}\n',
          'm/main.tf': '',
        },
        'app/main.tf:1: module "m" providers.aws uses provider registry.terraform.io/hashicorp/google; refused in prod (planPolicy.providers is empty)',
      ],
      [
        'the registry provider named terraform, which is not the built-in one',
        {
          'main.tf':
            'terraform {\n  required_providers {\n    terraform = {\n      source = "hashicorp/terraform"\n    }\n  }\n}\n',
        },
        'app/main.tf:3: required_providers "terraform" uses provider registry.terraform.io/hashicorp/terraform; refused in prod (planPolicy.providers is empty)',
      ],
    ])('refuses %s', async (_, files, first) => {
      const { checkoutDir } = await workspace(
        Object.fromEntries(
          Object.entries(files).map(([name, text]) => [`app/${name}`, text]),
        ),
      );
      expect(findings(await check(checkoutDir, 'app'))[0]).toBe(first);
    });

    it.each<[string, Record<string, string>, string]>([
      [
        'another namespace under a listed type',
        {
          'versions.tf': REQUIRED('evil/aws'),
          'main.tf': 'resource "aws_instance" "x" {}\n',
        },
        'app/versions.tf:3: required_providers "aws" uses provider registry.terraform.io/evil/aws; refused in prod (not in planPolicy.providers: registry.terraform.io/hashicorp/aws)',
      ],
      [
        'another host under a listed namespace and type',
        { 'versions.tf': REQUIRED('evil.example.com/hashicorp/aws') },
        'app/versions.tf:3: required_providers "aws" uses provider evil.example.com/hashicorp/aws; refused in prod (not in planPolicy.providers: registry.terraform.io/hashicorp/aws)',
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
        'app/versions_override.tf:3: required_providers "aws" uses provider registry.terraform.io/evil/aws; refused in prod (not in planPolicy.providers: registry.terraform.io/hashicorp/aws)',
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
    ])(
      'refuses %s even with hashicorp/aws allowlisted',
      async (_, files, first) => {
        const { checkoutDir } = await workspace(
          Object.fromEntries(
            Object.entries(files).map(([name, text]) => [`app/${name}`, text]),
          ),
        );
        expect(findings(await check(checkoutDir, 'app', AWS_ONLY))[0]).toBe(
          first,
        );
      },
    );

    it('resolves local names per module: a child without required_providers means hashicorp/<name>', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf': `${REQUIRED(
          'hashicorp/aws',
        )}module "child" {\n  source = "./child"\n}\n`,
        'app/child/main.tf':
          'resource "aws_instance" "x" {}\nresource "null_resource" "y" {}\n',
      });
      expect(findings(await check(checkoutDir, 'app', AWS_ONLY))).toEqual([
        'app/child/main.tf:2: resource "null_resource" "y" uses provider registry.terraform.io/hashicorp/null; refused in prod (not in planPolicy.providers: registry.terraform.io/hashicorp/aws)',
      ]);
    });

    it('refuses an unlisted provider used inside a downloaded module', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, {
        'main.tf':
          'resource "terraform_data" "ok" {}\nresource "null_resource" "x" {}\n',
      });
      expect(
        findings(
          await check(
            checkoutDir,
            'app',
            { allowCodeExecution: false, providers: [AWS] },
            dataDir,
          ),
        ),
      ).toEqual([
        '.terraform/modules/web/modules/web-service/main.tf:2: resource "null_resource" "x" in module.web uses provider registry.terraform.io/hashicorp/null; refused in prod (not in planPolicy.providers: registry.terraform.io/hashicorp/aws)',
      ]);
    });

    // After init the lock file lists every provider Terraform selected,
    // including those only the state still needs.
    it('refuses an unlisted provider in the lock file terraform init wrote', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': 'resource "terraform_data" "x" {}\n',
        'app/.terraform.lock.hcl':
          '# This file is maintained automatically by "terraform init".\n\nprovider "registry.terraform.io/hashicorp/null" {\n  version = "3.2.4"\n  hashes  = ["h1:x"]\n}\n',
      });
      await expect(check(checkoutDir, 'app')).resolves.toMatchObject({
        ok: true,
      });
      expect(findings(await check(checkoutDir, 'app', PROD, dataDir))).toEqual([
        'app/.terraform.lock.hcl:3: provider "registry.terraform.io/hashicorp/null" (selected by terraform init) uses provider registry.terraform.io/hashicorp/null; refused in prod (planPolicy.providers is empty)',
      ]);
      await expect(
        check(
          checkoutDir,
          'app',
          { allowCodeExecution: false, providers: [NULL] },
          dataDir,
        ),
      ).resolves.toEqual({
        ok: true,
        folders: 1,
        providers: [NULL],
      });
    });
  });

  describe('downloaded modules', () => {
    it('accepts a clean downloaded module and counts its folder', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, {
        'main.tf':
          'variable "name" {}\nresource "terraform_data" "service" {}\n',
      });
      await expect(check(checkoutDir, 'app', PROD, dataDir)).resolves.toEqual({
        ok: true,
        folders: 2,
        providers: [],
      });
    });

    it('accepts a data dir without modules.json (no module calls)', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': 'resource "terraform_data" "x" {}\n',
      });
      await expect(check(checkoutDir, 'app', PROD, dataDir)).resolves.toEqual({
        ok: true,
        folders: 1,
        providers: [],
      });
    });

    it('refuses an unvetted module called from inside a vetted one', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, {
        'main.tf': `resource "terraform_data" "ok" {}\n\nmodule "nested" {\n  source = "git::https://evil.example.com/x.git?ref=v1"\n}\n`,
      });
      expect(findings(await check(checkoutDir, 'app', PROD, dataDir))).toEqual([
        '.terraform/modules/web/modules/web-service/main.tf:3: module "nested" in module.web: module source "git::https://evil.example.com/x.git?ref=v1" is not a vetted catalog module',
      ]);
    });

    it('refuses a modules.json entry whose source is not vetted', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, { 'main.tf': '' }, [
        {
          Key: 'web.nested',
          Source: UNVETTED,
          Dir: join(dataDir, 'modules/web/modules/web-service'),
        },
      ]);
      await expect(check(checkoutDir, 'app', PROD, dataDir)).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(
          /^module\.web\.nested: module source .*v2\.0\.0-rc1.* is not vetted/,
        ),
        findings: [expect.any(String)],
      });
    });
  });

  describe('hostile layouts', () => {
    it('refuses a construct hidden behind a duplicate JSON key', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf.json': `{"data": {"external": {"x": {"program": ["id"]}}},
          "data": {"terraform_remote_state": {"s": {"backend": "local"}}}}`,
      });
      await expect(check(checkoutDir, 'app')).resolves.toEqual({
        ok: false,
        reason: expect.stringMatching(
          /^app\/main\.tf\.json could not be parsed: .*duplicate key "data"/,
        ),
        findings: [expect.any(String)],
      });
    });

    it('refuses a construct whose JSON key is spelled with an escape', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf.json':
          '{"data": {"ext\\u0065rnal": {"x": {"program": ["id"]}}}}',
      });
      // The text search finds only the data key; the parsed key decides.
      expect(findings(await check(checkoutDir, 'app'))[0]).toBe(
        `app/main.tf.json:1: data "external" "x" runs a program at plan time; ${REFUSED_IN_PROD}`,
      );
    });

    it('escapes a label that would reorder or forge the reason around it', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf.json': json({
          data: {
            external: { 'x\u202e\n[sealed-runner] ok': { program: ['id'] } },
          },
        }),
      });
      expect(findings(await check(checkoutDir, 'app'))[0]).toBe(
        `app/main.tf.json:4: data "external" "x\\u202e\\n[sealed-runner] ok" runs a program at plan time; ${REFUSED_IN_PROD}`,
      );
    });

    it('refuses a local module folder that is a symlink out of the checkout', async () => {
      const { checkoutDir } = await workspace({
        'app/main.tf': 'module "x" {\n  source = "./linked"\n}\n',
      });
      await symlink(outside, join(checkoutDir, 'app/linked'));
      await expect(check(checkoutDir, 'app')).resolves.toEqual({
        ok: false,
        reason: 'folder "app/linked" leaves the checkout',
        findings: ['folder "app/linked" leaves the checkout'],
      });
    });

    it('refuses a downloaded module folder that is a symlink out of the data dir', async () => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, { 'main.tf': '' });
      await rm(join(dataDir, 'modules/web/modules/web-service'), {
        recursive: true,
      });
      await symlink(outside, join(dataDir, 'modules/web/modules/web-service'));
      await expect(
        check(checkoutDir, 'app', PROD, dataDir),
      ).resolves.toMatchObject({
        ok: false,
        reason: expect.stringMatching(
          /^terraform init installed module\.web in .*, outside the checkout and the downloaded modules$/,
        ),
      });
    });

    it.each([
      ['an absolute path outside', () => outside],
      [
        'a relative path that climbs out',
        () => `../../../../../../../../..${outside}`,
      ],
      [
        'the run directory above the data dir',
        (dataDir: string) => join(dataDir, '..'),
      ],
    ])('refuses modules.json pointing at %s', async (_, dir) => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, { 'main.tf': '' }, [
        { Key: 'web.evil', Source: './evil', Dir: dir(dataDir) },
      ]);
      await expect(
        check(checkoutDir, 'app', PROD, dataDir),
      ).resolves.toMatchObject({
        ok: false,
        reason: expect.stringMatching(
          /^terraform init installed module\.web\.evil in .*, outside the checkout and the downloaded modules$/,
        ),
      });
    });

    it.each<[string, (dataDir: string) => Promise<void>, RegExp]>([
      [
        'a Dir that does not exist',
        dataDir =>
          writeFile(
            join(dataDir, 'modules/modules.json'),
            JSON.stringify({
              Modules: [
                {
                  Key: 'web',
                  Source: VETTED,
                  Dir: join(dataDir, 'modules/nope'),
                },
              ],
            }),
          ),
        /^terraform init installed module\.web in .*, which does not exist$/,
      ],
      [
        'a repeated key',
        dataDir =>
          writeFile(
            join(dataDir, 'modules/modules.json'),
            `{"Modules": [{"Key": "web", "Source": "${VETTED}", "Dir": "/", "Dir": "${join(
              dataDir,
              'modules/web',
            )}"}]}`,
          ),
        /^modules\.json written by terraform init could not be read$/,
      ],
      [
        'a symlink',
        async dataDir => {
          await writeFile(join(outside, 'modules.json'), '{"Modules": []}');
          await rm(join(dataDir, 'modules/modules.json'));
          await symlink(
            join(outside, 'modules.json'),
            join(dataDir, 'modules/modules.json'),
          );
        },
        /^modules\.json written by terraform init is not a regular file/,
      ],
      [
        'a Terraform file that is a symlink',
        dataDir =>
          symlink(
            join(outside, 'main.tf'),
            join(dataDir, 'modules/web/modules/web-service/linked.tf'),
          ),
        /^\.terraform\/modules\/web\/modules\/web-service\/linked\.tf is not a regular file$/,
      ],
    ])('refuses modules.json with %s', async (_, tamper, reason) => {
      const { checkoutDir, dataDir } = await workspace({
        'app/main.tf': `module "web" {\n  source = "${VETTED}"\n}\n`,
      });
      await downloadWeb(dataDir, { 'main.tf': '' });
      await tamper(dataDir);
      await expect(
        check(checkoutDir, 'app', PROD, dataDir),
      ).resolves.toMatchObject({
        ok: false,
        reason: expect.stringMatching(reason),
      });
    });
  });
});
