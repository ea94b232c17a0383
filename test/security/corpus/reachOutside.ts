import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CatalogModule,
  FILE_FUNCTIONS,
  PROVIDER_ARGUMENTS,
  STATE_BACKEND_TYPES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { fixtureGit } from '@sealed-runner/demo';
import { Case } from '../framework';
import { signedDocument } from '../harness/runnerProcess';
import { SecurityWorld } from '../harness/securityWorld';
import { FolderFiles } from './hcl';
import { RunnerCase, RunnerExpect, validJob } from './jobs';

/*
 * Code that reaches outside: Terraform that names a file, a command, a
 * profile, a kubeconfig or an endpoint through a state backend, a
 * `terraform_remote_state` data source, a provider's configuration or a
 * file function. Every case is one branch of infrastructure-live planned
 * by the real runner program with a signed job, in an environment that is
 * permissive wherever that matters (code execution allowed, every backend
 * type and the providers listed), so that each is refused by the rule for
 * its key, argument or function — never by a coarser one.
 */

/** The permissive environment the cases are planned in. */
export const REACH_ENVIRONMENT = 'lab';

/** Every case's target folder (on its own branch). */
const FOLDER = 'live/lab/reach';

/**
 * The environment's runner config: code may run, every backend type the
 * schema allows is listed, and so is every provider with an argument
 * allowlist — so only the key, argument and function rules are left.
 */
export function reachEnvironment() {
  return {
    applyBranches: ['*'],
    planPolicy: {
      allowCodeExecution: true,
      backends: [...STATE_BACKEND_TYPES],
      providers: Object.keys(PROVIDER_ARGUMENTS),
    },
  };
}

/** A raw Terraform expression (`local.k`): bare in HCL, `"${…}"` in JSON. */
class Expr {
  constructor(readonly text: string) {}
}
const expr = (text: string) => new Expr(text);

type Value =
  | string
  | number
  | boolean
  | Expr
  | Value[]
  | { [key: string]: Value };

/** An HCL string literal: C1 controls written as \u escapes, as HCL allows. */
function hclString(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f]/g,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function isPlainObject(value: Value): value is { [key: string]: Value } {
  return (
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof Expr)
  );
}

/**
 * An object key as written: an identifier bare, `(expression)` and
 * `${template}` as the hostile code writes them, anything else quoted.
 */
function objectKey(key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) || key.startsWith('(')) return key;
  return key.startsWith('${') ? `"${key}"` : hclString(key);
}

/** An HCL expression. Object keys that are not identifiers are quoted (HCL evaluates them as templates). */
function hclValue(value: Value, indent: string): string {
  if (value instanceof Expr) return value.text;
  if (typeof value === 'string') return hclString(value);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) {
    return `[${value.map(v => hclValue(v, indent)).join(', ')}]`;
  }
  const inner = `${indent}  `;
  return `{\n${Object.entries(value)
    .map(([k, v]) => `${inner}${objectKey(k)} = ${hclValue(v, inner)}`)
    .join('\n')}\n${indent}}`;
}

/**
 * An HCL body. In a block (a backend or provider block), the keys listed
 * in `blocks` are written as nested blocks, as their schemas declare them.
 */
function hclBody(
  entries: Record<string, Value>,
  indent: string,
  blocks: ReadonlySet<string> = new Set(),
): string {
  return Object.entries(entries)
    .map(([key, value]) =>
      blocks.has(key) && isPlainObject(value)
        ? `${indent}${key} {\n${hclBody(
            value,
            `${indent}  `,
            blocks,
          )}${indent}}\n`
        : `${indent}${key} = ${hclValue(value, indent)}\n`,
    )
    .join('');
}

/** JSON syntax: an expression is a `"${…}"` template string. */
function jsonValue(value: Value): unknown {
  if (value instanceof Expr) return `\${${value.text}}`;
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, jsonValue(v)]),
    );
  }
  return value;
}

const json = (document: unknown) => `${JSON.stringify(document, null, 2)}\n`;

const escapeRegExp = (text: string) =>
  text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A key as the runner's reasons quote it. */
const quoted = (key: string) => escapeRegExp(JSON.stringify(key));

/** How a case's reason must begin: the file in the target folder and a line. */
const at = (file: string) => `^${escapeRegExp(`${FOLDER}/${file}`)}:\\d+: `;

type Syntax = 'hcl' | 'json';
const SYNTAXES: Syntax[] = ['hcl', 'json'];

/** A hostile case before it has a branch: its folder's files and what must happen. */
interface ReachSpec {
  name: string;
  files: FolderFiles;
  expect: RunnerExpect;
}

export interface ReachInput {
  branch: string;
  files: FolderFiles;
}

/** A case of the class, before it becomes a runner start. */
export type ReachCase = Case<ReachInput, RunnerExpect>;

const refused = (
  reason: string,
  commands: 'git-only' | 'git-and-init' = 'git-only',
): RunnerExpect => ({
  status: 'rejected',
  reason: new RegExp(reason),
  commands,
});

// ---------------------------------------------------------------------------
// State backends and terraform_remote_state

/** What a backend of each type needs besides the hostile key (allowed keys only). */
const BACKEND_BASE: Record<string, Record<string, Value>> = {
  s3: { bucket: 'state', key: 'lab/terraform.tfstate', region: 'eu-west-1' },
  gcs: { bucket: 'state', prefix: 'lab' },
  azurerm: {
    storage_account_name: 'state',
    container_name: 'tfstate',
    key: 'lab.tfstate',
  },
  http: { address: 'http://127.0.0.1:9/state' },
  consul: { address: '127.0.0.1:9', path: 'lab' },
  pg: { schema_name: 'lab' },
  kubernetes: { secret_suffix: 'lab' },
  oss: { bucket: 'state', key: 'lab.tfstate' },
  cos: { bucket: 'state', key: 'lab.tfstate' },
};

interface HostileKey {
  label: string;
  key: string;
  value: Value;
  /** Written as a nested block inside a backend block. */
  block?: boolean;
  /** What the reason must say, when it is not "key <key> is not allowed". */
  reason?: string;
}

/**
 * Keys that name a file, a command, a profile, a kubeconfig or an endpoint,
 * per backend type. A type added to STATE_BACKEND_TYPES needs its list here
 * (the generator refuses to run without one).
 */
function hostileBackendKeys(
  world: SecurityWorld,
): Record<string, HostileKey[]> {
  const sib = world.canary.sibling;
  const secret = `${sib}/secret.txt`;
  const k = (key: string, value: Value, block = false): HostileKey => ({
    label: key,
    key,
    value,
    block,
  });
  const connStr = (label: string, value: Value, reason: string) => ({
    label: `conn_str ${label}`,
    key: 'conn_str',
    value,
    reason,
  });
  const parameter = (name: string) =>
    `conn_str parameter ${quoted(name)} is not allowed`;
  const ascii = 'conn_str may hold only printable ASCII and ASCII whitespace';
  return {
    s3: [
      k('shared_config_files', [`${sib}/aws-config`]),
      k('shared_credentials_files', [`${sib}/aws-credentials`]),
      k('profile', 'attacker'),
      k('assume_role_with_web_identity', {
        role_arn: 'arn:aws:iam::123456789012:role/x',
        web_identity_token_file: secret,
      }),
      k('custom_ca_bundle', secret),
      k('endpoints', { s3: 'http://127.0.0.1:9', sts: 'http://127.0.0.1:9' }),
    ],
    gcs: [
      k('credentials', `${sib}/gcp-service-account.json`),
      k('storage_custom_endpoint', 'http://127.0.0.1:9/storage/v1/'),
    ],
    azurerm: [
      k('client_certificate_path', `${sib}/client.pfx`),
      k('client_secret_file_path', secret),
      k('oidc_token_file_path', secret),
      k('use_cli', true),
      k('msi_endpoint', 'http://127.0.0.1:9/msi'),
    ],
    http: [k('skip_cert_verification', true)],
    consul: [
      k('ca_file', secret),
      k('cert_file', secret),
      k('key_file', secret),
    ],
    pg: [
      connStr(
        'sslrootcert=',
        `host=db.internal sslmode=verify-full sslrootcert=${secret}`,
        parameter('sslrootcert'),
      ),
      connStr(
        'sslkey=',
        `host=db.internal sslkey=${secret}`,
        parameter('sslkey'),
      ),
      connStr(
        'passfile=',
        `host=db.internal passfile=${secret}`,
        parameter('passfile'),
      ),
      connStr(
        'service=',
        'service=attacker dbname=state',
        parameter('service'),
      ),
      connStr(
        'URL with ?sslrootcert=',
        `postgres://db.internal/state?sslrootcert=${secret}`,
        parameter('sslrootcert'),
      ),
      connStr(
        'URL with a percent-encoded ?sslroot%63ert=',
        `postgres://db.internal/state?sslroot%63ert=${secret}`,
        parameter('sslrootcert'),
      ),
      // lib/pq (Terraform's pg driver) separates parameters by Go's
      // unicode.IsSpace, which counts U+0085 (NEL); JavaScript's \s does
      // not. Only printable ASCII passes, so no separator is missed.
      ...['\u0085', '\u00a0', '\u2028', '\u3000'].map(space =>
        connStr(
          `sslrootcert= after a U+${space
            .charCodeAt(0)
            .toString(16)
            .toUpperCase()
            .padStart(4, '0')} separator`,
          `host=db.internal${space}sslrootcert=${secret}`,
          ascii,
        ),
      ),
      connStr(
        'sslkey= behind a quoted value',
        `password='x'sslkey=${secret}`,
        'conn_str is not a list of key=value parameters',
      ),
      connStr(
        'host that is a socket folder',
        `host=${sib} dbname=state`,
        'conn_str parameter "host" must name hosts',
      ),
      connStr(
        'URL with ?host= a socket folder',
        `postgres:///state?host=${encodeURIComponent(sib)}`,
        'conn_str parameter "host" must name hosts',
      ),
      connStr(
        'not a literal',
        expr('local.conn_str'),
        'conn_str must be a literal string',
      ),
    ],
    kubernetes: [
      k('config_path', `${sib}/kubeconfig`),
      k('config_paths', [`${sib}/kubeconfig`]),
      k(
        'exec',
        {
          api_version: 'client.authentication.k8s.io/v1beta1',
          command: 'sh',
          args: ['-c', `touch ${sib}/pwned-reach-exec`],
        },
        true,
      ),
      k('config_context', 'attacker'),
      k('proxy_url', 'http://127.0.0.1:9'),
    ],
    oss: [
      k('shared_credentials_file', `${sib}/aliyun-credentials`),
      k('profile', 'attacker'),
      k('endpoint', 'http://127.0.0.1:9'),
    ],
    cos: [
      k('shared_credentials_dir', sib),
      k('profile', 'attacker'),
      k('endpoint', 'http://127.0.0.1:9'),
    ],
  };
}

/** The two places a backend is named, in either syntax. */
function backendFiles(
  form: 'backend' | 'remote-state',
  syntax: Syntax,
  type: string,
  config: Record<string, Value> | Expr,
  blocks: ReadonlySet<string> = new Set(),
  typeValue: Value = type,
): { file: string; text: string } {
  const file = `${form === 'backend' ? 'backend' : 'state'}.tf${
    syntax === 'json' ? '.json' : ''
  }`;
  if (form === 'backend') {
    const body = config as Record<string, Value>;
    const header = type === 'cloud' ? 'cloud' : `backend ${hclString(type)}`;
    const text =
      syntax === 'hcl'
        ? `terraform {\n  ${header} {\n${hclBody(body, '    ', blocks)}  }\n}\n`
        : json({
            terraform:
              type === 'cloud'
                ? { cloud: jsonValue(body) }
                : { backend: { [type]: jsonValue(body) } },
          });
    return { file, text };
  }
  const locals = {
    conn_str: 'host=db.internal',
    cfg: {},
    kind: 's3',
    k: 'x',
    role: {},
  };
  const text =
    syntax === 'hcl'
      ? `locals {\n  conn_str = "host=db.internal"\n  cfg      = {}\n  kind     = "s3"\n  k        = "config_path"\n  role     = {}\n}\n\ndata "terraform_remote_state" "x" {\n  backend = ${hclValue(
          typeValue,
          '  ',
        )}\n  config = ${hclValue(config, '  ')}\n}\n`
      : json({
          locals: { ...locals, k: 'config_path' },
          data: {
            terraform_remote_state: {
              x: { backend: jsonValue(typeValue), config: jsonValue(config) },
            },
          },
        });
  return { file, text };
}

function backendCases(world: SecurityWorld): ReachSpec[] {
  const specs: ReachSpec[] = [];
  const hostile = hostileBackendKeys(world);
  const sib = world.canary.sibling;
  const keyRefused = (key: string, type: string) =>
    `key ${quoted(key)} is not allowed for backend ${quoted(type)}`;
  const constructOf = (form: 'backend' | 'remote-state', type: string) =>
    form === 'backend'
      ? `terraform backend ${quoted(type)}`
      : 'data "terraform_remote_state" "x"';

  for (const type of STATE_BACKEND_TYPES) {
    const keys = hostile[type];
    if (!keys || keys.length === 0) {
      throw new Error(
        `no hostile keys for the ${type} backend: every type in STATE_BACKEND_TYPES needs some`,
      );
    }
    const base = BACKEND_BASE[type];
    for (const form of ['backend', 'remote-state'] as const) {
      for (const syntax of SYNTAXES) {
        for (const key of keys) {
          const config = { ...base, [key.key]: key.value };
          const { file, text } = backendFiles(
            form,
            syntax,
            type,
            config,
            new Set(key.block ? [key.key] : []),
          );
          specs.push({
            name: `${type} ${
              form === 'backend' ? 'backend block' : 'remote state'
            } (${syntax}): ${key.label}`,
            files: { [file]: text },
            expect: refused(
              `${at(file)}${constructOf(form, type)}: ${
                key.reason ?? keyRefused(key.key, type)
              }`,
            ),
          });
        }
      }
      // A nested block written as an expression could hold any key.
      if (form === 'remote-state' && ['s3', 'oss'].includes(type)) {
        for (const syntax of type === 's3'
          ? SYNTAXES.slice(0, 1)
          : SYNTAXES.slice(1)) {
          const { file, text } = backendFiles(form, syntax, type, {
            ...base,
            assume_role: expr('local.role'),
          });
          specs.push({
            name: `${type} remote state (${syntax}): assume_role not written out`,
            files: { [file]: text },
            expect: refused(
              `${at(file)}${constructOf(
                form,
                type,
              )}: "assume_role" must be written out literally`,
            ),
          });
        }
      }
    }
    // The whole config as an expression: its keys cannot be read.
    for (const syntax of type === 's3' ? SYNTAXES : SYNTAXES.slice(0, 1)) {
      const { file, text } = backendFiles(
        'remote-state',
        syntax,
        type,
        expr('local.cfg'),
      );
      specs.push({
        name: `${type} remote state (${syntax}): config not written out`,
        files: { [file]: text },
        expect: refused(
          `${at(
            file,
          )}data "terraform_remote_state" "x": config must be written out as an object`,
        ),
      });
    }
  }

  // Types no environment may list, and one that does not exist.
  for (const type of ['local', 'remote', 'attacker']) {
    const config: Record<string, Value> = {
      local: { path: `${sib}/reach-state/terraform.tfstate` },
      remote: { hostname: '127.0.0.1:9', organization: 'attacker' },
      attacker: { address: 'http://127.0.0.1:9' },
    }[type]!;
    for (const syntax of SYNTAXES) {
      for (const form of ['backend', 'remote-state'] as const) {
        const { file, text } = backendFiles(form, syntax, type, config);
        specs.push({
          name: `${type} ${
            form === 'backend' ? 'backend block' : 'remote state'
          } (${syntax})`,
          files: { [file]: text },
          expect: refused(
            form === 'backend'
              ? `${at(file)}terraform backend ${quoted(
                  type,
                )} is not allowed in ${REACH_ENVIRONMENT} `
              : `${at(
                  file,
                )}data "terraform_remote_state" "x" reads state through backend ${quoted(
                  type,
                )}, which is not allowed in ${REACH_ENVIRONMENT} `,
          ),
        });
      }
    }
  }
  for (const syntax of SYNTAXES) {
    const { file, text } = backendFiles('backend', syntax, 'cloud', {
      hostname: '127.0.0.1:9',
      organization: 'attacker',
    });
    specs.push({
      name: `cloud block (${syntax})`,
      files: { [file]: text },
      expect: refused(
        `${at(
          file,
        )}terraform cloud block is HCP Terraform, which is never allowed in ${REACH_ENVIRONMENT}`,
      ),
    });
  }

  // The backend type as an expression.
  for (const syntax of SYNTAXES) {
    const { file, text } = backendFiles(
      'remote-state',
      syntax,
      's3',
      BACKEND_BASE.s3,
      new Set(),
      expr('local.kind'),
    );
    specs.push({
      name: `remote state (${syntax}): backend type not written out`,
      files: { [file]: text },
      expect: refused(
        `${at(
          file,
        )}data "terraform_remote_state" "x": backend must be a literal backend type`,
      ),
    });
  }

  // Keys that are expressions (HCL evaluates an object key), and JSON
  // comment keys next to a hostile one.
  specs.push({
    name: 'kubernetes remote state (hcl): key given by an expression, (local.k)',
    files: {
      'state.tf': backendFiles('remote-state', 'hcl', 'kubernetes', {
        ...BACKEND_BASE.kubernetes,
        '(local.k)': `${sib}/kubeconfig`,
      }).text,
    },
    expect: refused(
      `${at('state.tf')}data "terraform_remote_state" "x": ${keyRefused(
        '${(local.k)}',
        'kubernetes',
      )}`,
    ),
  });
  specs.push({
    name: 'kubernetes remote state (json): key given by an expression, "${local.k}"',
    files: {
      'state.tf.json': backendFiles('remote-state', 'json', 'kubernetes', {
        ...BACKEND_BASE.kubernetes,
        '${local.k}': `${sib}/kubeconfig`,
      }).text,
    },
    expect: refused(
      `${at('state.tf.json')}data "terraform_remote_state" "x": ${keyRefused(
        '${local.k}',
        'kubernetes',
      )}`,
    ),
  });
  specs.push({
    name: 's3 remote state (hcl): key written as a template, "${"profile"}"',
    files: {
      'state.tf': backendFiles('remote-state', 'hcl', 's3', {
        ...BACKEND_BASE.s3,
        '${"profile"}': 'attacker',
      }).text,
    },
    expect: refused(
      `${at(
        'state.tf',
      )}data "terraform_remote_state" "x": key "(\\$\\{\\\\"profile\\\\"\\}|profile)" is not allowed for backend "s3"`,
    ),
  });
  for (const form of ['backend', 'remote-state'] as const) {
    const { file, text } = backendFiles(form, 'json', 'kubernetes', {
      '//': 'the state of the lab',
      ...BACKEND_BASE.kubernetes,
      config_path: `${sib}/kubeconfig`,
    });
    specs.push({
      name: `kubernetes ${
        form === 'backend' ? 'backend block' : 'remote state'
      } (json): config_path next to a "//" comment`,
      files: { [file]: text },
      expect: refused(
        `${at(file)}${constructOf(form, 'kubernetes')}: ${keyRefused(
          'config_path',
          'kubernetes',
        )}`,
      ),
    });
  }
  return specs;
}

// ---------------------------------------------------------------------------
// Provider configuration

/**
 * Arguments of the allowed providers that name a file, a command, a
 * profile or an endpoint. A provider added to PROVIDER_ARGUMENTS needs its
 * list here.
 */
function hostileProviderArguments(
  world: SecurityWorld,
): Record<string, HostileKey[]> {
  const sib = world.canary.sibling;
  const secret = `${sib}/secret.txt`;
  const k = (key: string, value: Value, block = false): HostileKey => ({
    label: key,
    key,
    value,
    block,
  });
  const exec = {
    api_version: 'client.authentication.k8s.io/v1beta1',
    command: 'sh',
    args: ['-c', `touch ${sib}/pwned-reach-provider-exec`],
  };
  return {
    'registry.terraform.io/hashicorp/aws': [
      k('shared_config_files', [`${sib}/aws-config`]),
      k('shared_credentials_files', [`${sib}/aws-credentials`]),
      k('profile', 'attacker'),
      k(
        'assume_role_with_web_identity',
        {
          role_arn: 'arn:aws:iam::123456789012:role/x',
          web_identity_token_file: secret,
        },
        true,
      ),
      k('custom_ca_bundle', secret),
      k(
        'endpoints',
        { s3: 'http://127.0.0.1:9', sts: 'http://127.0.0.1:9' },
        true,
      ),
    ],
    'registry.terraform.io/hashicorp/google': [
      k('credentials', `${sib}/gcp-service-account.json`),
      k('storage_custom_endpoint', 'http://127.0.0.1:9/storage/v1/'),
    ],
    'registry.terraform.io/hashicorp/azurerm': [
      k('client_certificate_path', `${sib}/client.pfx`),
      k('client_secret_file_path', secret),
      k('client_id_file_path', secret),
      k('oidc_token_file_path', secret),
      k('use_cli', true),
      k('use_aks_workload_identity', true),
    ],
    'registry.terraform.io/hashicorp/kubernetes': [
      k('config_path', `${sib}/kubeconfig`),
      k('config_paths', [`${sib}/kubeconfig`]),
      k('exec', exec, true),
      k('config_context', 'attacker'),
      k('proxy_url', 'http://127.0.0.1:9'),
    ],
    'registry.terraform.io/hashicorp/helm': [
      ...(
        [
          ['config_path', `${sib}/kubeconfig`],
          ['config_paths', [`${sib}/kubeconfig`]],
          ['exec', exec],
        ] as Array<[string, Value]>
      ).map(([key, value]) => ({
        label: `kubernetes.${key}`,
        key: 'kubernetes',
        value: { [key]: value },
        block: true,
        reason: `argument ${quoted(`kubernetes.${key}`)} is not allowed`,
      })),
      k('registry_config_path', `${sib}/registry.json`),
      k('repository_config_path', `${sib}/repositories.yaml`),
      k('repository_cache', sib),
      k('plugins_path', sib),
    ],
  };
}

const localName = (address: string) => address.split('/').pop()!;

function providerFile(
  syntax: Syntax,
  name: string,
  body: Record<string, Value>,
  blocks: ReadonlySet<string>,
): string {
  return syntax === 'hcl'
    ? `provider ${hclString(name)} {\n${hclBody(body, '  ', blocks)}}\n`
    : json({ provider: { [name]: jsonValue(body) } });
}

function providerCases(world: SecurityWorld): ReachSpec[] {
  const specs: ReachSpec[] = [];
  const hostile = hostileProviderArguments(world);
  const sib = world.canary.sibling;
  const argumentRefused = (argument: string, address: string) =>
    `argument ${quoted(argument)} is not allowed for ${escapeRegExp(
      address,
    )} in ${REACH_ENVIRONMENT}`;
  for (const address of Object.keys(PROVIDER_ARGUMENTS)) {
    const args = hostile[address];
    if (!args || args.length === 0) {
      throw new Error(
        `no hostile arguments for ${address}: every provider in PROVIDER_ARGUMENTS needs some`,
      );
    }
    const name = localName(address);
    for (const syntax of SYNTAXES) {
      for (const arg of args) {
        const file = `provider.tf${syntax === 'json' ? '.json' : ''}`;
        specs.push({
          name: `provider ${name} (${syntax}): ${arg.label}`,
          files: {
            [file]: providerFile(
              syntax,
              name,
              { [arg.key]: arg.value },
              new Set(arg.block ? [arg.key, 'exec'] : []),
            ),
          },
          expect: refused(
            `${at(file)}provider ${quoted(name)}: ${
              arg.reason
                ? `${arg.reason} for ${escapeRegExp(address)}`
                : argumentRefused(arg.key, address)
            }`,
          ),
        });
      }
    }
  }
  const aws = 'registry.terraform.io/hashicorp/aws';
  specs.push(
    {
      name: 'provider aws (hcl): profile on an aliased configuration',
      files: {
        'provider.tf': `provider "aws" {\n  region = "eu-west-1"\n}\n\nprovider "aws" {\n  alias   = "other"\n  region  = "eu-west-1"\n  profile = "attacker"\n}\n`,
      },
      expect: refused(
        `${at('provider.tf')}provider "aws": ${argumentRefused(
          'profile',
          aws,
        )}`,
      ),
    },
    {
      name: 'provider aws under another local name (hcl): profile',
      files: {
        'provider.tf': `terraform {\n  required_providers {\n    cloud = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n\nprovider "cloud" {\n  profile = "attacker"\n}\n`,
      },
      expect: refused(
        `${at('provider.tf')}provider "cloud": ${argumentRefused(
          'profile',
          aws,
        )}`,
      ),
    },
    {
      name: 'provider aws in a local child module (hcl): shared_config_files',
      files: {
        'main.tf': 'module "child" {\n  source = "./child"\n}\n',
        'child/main.tf': `provider "aws" {\n  shared_config_files = ["${sib}/aws-config"]\n}\n`,
      },
      expect: refused(
        `^${escapeRegExp(
          `${FOLDER}/child/main.tf`,
        )}:\\d+: provider "aws": ${argumentRefused(
          'shared_config_files',
          aws,
        )}`,
      ),
    },
    {
      name: 'provider aws (hcl): assume_role_with_web_identity in a dynamic block',
      files: {
        'provider.tf': `provider "aws" {\n  dynamic "assume_role_with_web_identity" {\n    for_each = [1]\n    content {\n      web_identity_token_file = "${sib}/secret.txt"\n    }\n  }\n}\n`,
      },
      expect: refused(
        `${at(
          'provider.tf',
        )}provider "aws": a dynamic block cannot be inspected`,
      ),
    },
    {
      name: 'provider aws (hcl): assume_role not written out',
      files: {
        'provider.tf':
          'locals {\n  role = {}\n}\n\nprovider "aws" {\n  assume_role = local.role\n}\n',
      },
      expect: refused(
        `${at(
          'provider.tf',
        )}provider "aws": "assume_role" must be written out literally`,
      ),
    },
    {
      name: 'provider helm (hcl): kubernetes not written out',
      files: {
        'provider.tf':
          'locals {\n  cluster = {}\n}\n\nprovider "helm" {\n  kubernetes = local.cluster\n}\n',
      },
      expect: refused(
        `${at(
          'provider.tf',
        )}provider "helm": "kubernetes" must be written out literally`,
      ),
    },
    {
      name: 'provider aws (json, array form): profile in the second configuration',
      files: {
        'provider.tf.json': json({
          provider: [
            {
              aws: [
                { region: 'eu-west-1' },
                { alias: 'b', profile: 'attacker' },
              ],
            },
          ],
        }),
      },
      expect: refused(
        `${at('provider.tf.json')}provider "aws": ${argumentRefused(
          'profile',
          aws,
        )}`,
      ),
    },
    {
      name: 'provider aws (json): profile next to a "//" comment',
      files: {
        'provider.tf.json': json({
          provider: { aws: { '//': 'the lab account', profile: 'attacker' } },
        }),
      },
      expect: refused(
        `${at('provider.tf.json')}provider "aws": ${argumentRefused(
          'profile',
          aws,
        )}`,
      ),
    },
    {
      // An override file replaces the local name's source: Terraform
      // configures "aws" as hashicorp/google, whose credentials name a file.
      name: 'provider "aws" that override.tf maps to hashicorp/google (hcl): credentials',
      files: {
        'main.tf': `terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n\nprovider "aws" {\n  credentials = "${sib}/gcp-service-account.json"\n}\n`,
        'override.tf':
          'terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/google"\n    }\n  }\n}\n',
      },
      expect: refused(
        `^${escapeRegExp(
          FOLDER,
        )}/(main|override)\\.tf:\\d+: .*(provider "aws".*"credentials"|required_providers "aws")`,
      ),
    },
  );
  return specs;
}

// ---------------------------------------------------------------------------
// File functions

/** The vetted test module: tags whose module reads through a real symlink. */
export interface LinkModule {
  module: CatalogModule;
  /** `git::file://…//modules/link`, without `?ref=`. */
  source: string;
  /**
   * Per tag: the module's main file (name and content), and either what a
   * plan of it shows or the reason the check after init refuses it with.
   */
  tags: Record<
    string,
    { file: string; text: string } & ({ shows: string } | { refused: string })
  >;
}

const fileFunctions = Object.keys(FILE_FUNCTIONS);

/** A call of a file function on `path` (an HCL expression), with the arguments the function needs. */
function call(fn: string, path: string): string {
  const name = fn.replace(/^core::/, '');
  if (name === 'templatefile') return `${fn}(${path}, {})`;
  if (name === 'fileset') return `${fn}(${path}, "*")`;
  return `${fn}(${path})`;
}

/** The canary a function reads: a folder for fileset, a file for the others. */
const target = (fn: string, file: string) =>
  fn.replace(/^core::/, '') === 'fileset' ? dirname(file) : file;

/**
 * What the tags of the vetted test module hold: each a read through one of
 * its symlinks, into an output the root shows (`read:<value>`), and one
 * `terraform_remote_state` naming a kubeconfig. `shows` is what the plan
 * shows if the symlink arrives as a plain file holding its target's path;
 * a path below such a file, or the remote state, is refused after init.
 */
function linkModuleTags(world: SecurityWorld): LinkModule['tags'] {
  const link = join(world.canary.inRoot, 'secret.txt');
  const read = (expression: string) =>
    `output "x" {\n  value = "read:\${${expression}}"\n}\n`;
  return {
    'reach-file': {
      file: 'main.tf',
      text: read('file("${path.module}/secret")'),
      shows: `read:${link}`,
    },
    'reach-filesha256': {
      file: 'main.tf',
      text: read('filesha256("${path.module}/secret")'),
      shows: `read:${createHash('sha256').update(link).digest('hex')}`,
    },
    'reach-templatefile': {
      file: 'main.tf',
      text: read('templatefile("${path.module}/secret", {})'),
      shows: `read:${link}`,
    },
    'reach-core-file-json': {
      file: 'main.tf.json',
      text: json({
        output: { x: { value: 'read:${core::file("${path.module}/secret")}' } },
      }),
      shows: `read:${link}`,
    },
    'reach-parent-symlink': {
      file: 'main.tf',
      text: read('fileexists("${path.module}/dir/secret.txt")'),
      refused:
        'fileexists\\(.*\\) reads through something that is not a plain file or folder',
    },
    'reach-remote-state': {
      file: 'main.tf',
      text: 'data "terraform_remote_state" "x" {\n  backend = "kubernetes"\n  config = {\n    secret_suffix = "lab"\n    config_path   = "${path.module}/secret"\n  }\n}\n',
      refused:
        'data "terraform_remote_state" "x" in module\\.link: key "config_path" is not allowed for backend "kubernetes"',
    },
  };
}

/**
 * Creates the vetted test module's repository inside the isolated root
 * (which the sandbox user may traverse): `modules/link` holds `secret`, a
 * symlink to the in-root canary's secret, and `dir`, one to the canary
 * folder; each tag's main file calls one function through them. Its tags
 * are vetted and pinned to their commits, as the gate would pin them.
 */
export async function createLinkModule(
  world: SecurityWorld,
): Promise<LinkModule> {
  const bare = join(world.root.root, 'security-modules', 'reach.git');
  await mkdir(dirname(bare), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'sealed-runner-security-module-'));
  const git = (...args: string[]) => fixtureGit(work, ...args);
  const tags = linkModuleTags(world);
  const commits: Record<string, string> = {};
  try {
    git('init', '--quiet', '--initial-branch=main');
    const dir = join(work, 'modules/link');
    await mkdir(dir, { recursive: true });
    await symlink(join(world.canary.inRoot, 'secret.txt'), join(dir, 'secret'));
    await symlink(world.canary.inRoot, join(dir, 'dir'));
    for (const [tag, { file, text }] of Object.entries(tags)) {
      await rm(join(dir, 'main.tf'), { force: true });
      await rm(join(dir, 'main.tf.json'), { force: true });
      await writeFile(join(dir, file), text);
      git('add', '--all');
      git('commit', '--quiet', '--message', tag);
      git('tag', tag);
      commits[tag] = git('rev-parse', 'HEAD');
    }
    fixtureGit(dirname(bare), 'clone', '--quiet', '--bare', work, bare);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const source = `git::file://${bare}//modules/link`;
  return {
    source,
    tags,
    module: { source, versions: Object.keys(tags), commits },
  };
}

function functionCases(world: SecurityWorld, link: LinkModule): ReachSpec[] {
  const specs: ReachSpec[] = [];
  const sibSecret = `${world.canary.sibling}/secret.txt`;
  const rootSecret = `${world.canary.inRoot}/secret.txt`;
  const outside = (file: string, fn: string) =>
    `${at(file)}${escapeRegExp(
      fn.replace(/^core::/, ''),
    )}\\(.* reads outside the module's own folder; refused in ${REACH_ENVIRONMENT}`;
  const notLiteral = (file: string, fn: string) =>
    `${at(file)}${escapeRegExp(
      fn.replace(/^core::/, ''),
    )}\\(.* reads a path that is not a literal`;
  const output = (expression: string) =>
    `output "x" {\n  value = ${expression}\n}\n`;
  // From the target folder in the checkout to the in-root canary: out of the checkout and the run.
  const dotdot = '${path.module}/../../../../../../../../canary/secret.txt';

  for (const fn of fileFunctions) {
    const paths: Array<{
      label: string;
      path: string;
      child?: boolean;
      literal: boolean;
    }> = [
      {
        label: 'the sibling canary, absolute',
        path: hclString(target(fn, sibSecret)),
        literal: true,
      },
      {
        label: '.. out of the module to the in-root canary',
        path: hclString(target(fn, dotdot)),
        literal: true,
      },
      {
        label: '~ (the home folder)',
        path: hclString(fn === 'fileset' ? '~/.aws' : '~/.aws/credentials'),
        literal: true,
      },
      {
        label: 'path.root in a child module',
        path: hclString(
          fn === 'fileset' ? '${path.root}' : '${path.root}/main.tf',
        ),
        child: true,
        literal: true,
      },
      {
        label: 'a path that is not a literal',
        path: 'local.secret',
        literal: false,
      },
    ];
    for (const p of paths) {
      const file = p.child ? 'child/main.tf' : 'read.tf';
      const files: FolderFiles = p.child
        ? {
            'main.tf': 'module "child" {\n  source = "./child"\n}\n',
            'child/main.tf': output(call(fn, p.path)),
          }
        : {
            'read.tf': `${
              p.literal ? '' : `locals {\n  secret = "${sibSecret}"\n}\n\n`
            }${output(call(fn, p.path))}`,
          };
      specs.push({
        name: `${fn} (hcl): ${p.label}`,
        files,
        expect: refused(p.literal ? outside(file, fn) : notLiteral(file, fn)),
      });
    }
    // core:: names the same function.
    specs.push({
      name: `core::${fn} (hcl): the in-root canary, absolute`,
      files: {
        'read.tf': output(
          call(`core::${fn}`, hclString(target(fn, rootSecret))),
        ),
      },
      expect: refused(outside('read.tf', fn)),
    });
    // JSON syntax: every string is a template.
    specs.push({
      name: `${fn} (json): the sibling canary, absolute`,
      files: {
        'read.tf.json': json({
          output: {
            x: {
              value: `\${${call(fn, JSON.stringify(target(fn, sibSecret)))}}`,
            },
          },
        }),
      },
      expect: refused(outside('read.tf.json', fn)),
    });
  }
  specs.push(
    {
      name: 'file (json): a path that is not a literal',
      files: {
        'read.tf.json': json({
          locals: { secret: sibSecret },
          output: { x: { value: '${file(local.secret)}' } },
        }),
      },
      expect: refused(notLiteral('read.tf.json', 'file')),
    },
    {
      name: 'core::file (json): the in-root canary, absolute',
      files: {
        'read.tf.json': json({
          output: {
            x: { value: `\${core::file(${JSON.stringify(rootSecret)})}` },
          },
        }),
      },
      expect: refused(outside('read.tf.json', 'file')),
    },
  );

  // fileset's pattern must stay in the folder too.
  for (const [label, pattern] of [
    ['../ in the pattern', '../../../../canary/*'],
    ['an absolute pattern', `${world.canary.inRoot}/*`],
  ]) {
    specs.push({
      name: `fileset (hcl): ${label}`,
      files: {
        'read.tf': output(`fileset(path.module, ${hclString(pattern)})`),
      },
      expect: refused(
        `${at(
          'read.tf',
        )}fileset\\(.* has a pattern that is not a literal inside the folder`,
      ),
    });
  }

  // templatestring evaluates a template held in a value.
  specs.push(
    {
      name: 'templatestring (hcl)',
      files: {
        'read.tf': `locals {\n  template = "$\${file(\\"${sibSecret}\\")}"\n}\n\n${output(
          'templatestring(local.template, {})',
        )}`,
      },
      expect: refused(
        `${at(
          'read.tf',
        )}templatestring\\(.*\\) evaluates a template held in a value, whose calls cannot be inspected`,
      ),
    },
    {
      name: 'templatestring (json)',
      files: {
        'read.tf.json': json({
          locals: { template: `$\${file("${sibSecret}")}` },
          output: { x: { value: '${templatestring(local.template, {})}' } },
        }),
      },
      expect: refused(
        `${at(
          'read.tf.json',
        )}templatestring\\(.*\\) evaluates a template held in a value`,
      ),
    },
  );

  // A template's own calls are judged as if they were in the module.
  const caller = (syntax: Syntax): FolderFiles =>
    syntax === 'hcl'
      ? { 'read.tf': output('templatefile("${path.module}/t.tmpl", {})') }
      : {
          'read.tf.json': json({
            output: {
              x: { value: '${templatefile("${path.module}/t.tmpl", {})}' },
            },
          }),
        };
  for (const syntax of SYNTAXES) {
    specs.push({
      name: `a template calling file("/…") (${syntax} caller)`,
      files: { ...caller(syntax), 't.tmpl': `key: \${file("${sibSecret}")}\n` },
      expect: refused(
        `${at(
          't.tmpl',
        )}file\\(.* reads outside the module's own folder; refused in ${REACH_ENVIRONMENT}`,
      ),
    });
  }
  specs.push(
    {
      name: 'a template calling fileset("/…") in a for directive',
      files: {
        ...caller('hcl'),
        't.tmpl': `%{ for f in fileset("${world.canary.inRoot}", "*") }\${f}\n%{ endfor }\n`,
      },
      expect: refused(
        `${at('t.tmpl')}fileset\\(.* reads outside the module's own folder`,
      ),
    },
    {
      name: 'a template calling templatefile',
      files: {
        ...caller('hcl'),
        't.tmpl': '${templatefile("${path.module}/u.tmpl", {})}\n',
        'u.tmpl': `\${file("${sibSecret}")}\n`,
      },
      expect: refused(
        `${at('t.tmpl')}templatefile\\(.* calls templatefile inside a template`,
      ),
    },
  );

  // JSON: a "//" property is a comment only in a block body; inside an
  // expression object it is an ordinary key, and Terraform evaluates it.
  specs.push(
    {
      name: 'file("/…") behind a "//" key of an output value object (json)',
      files: {
        'read.tf.json': json({
          output: {
            x: { value: { '//': `\${file("${sibSecret}")}`, note: 'x' } },
          },
        }),
      },
      expect: refused(outside('read.tf.json', 'file')),
    },
    {
      name: 'file("/…") behind a "//" key of a local object (json)',
      files: {
        'read.tf.json': json({
          locals: { settings: { '//': `\${file("${rootSecret}")}` } },
          output: { x: { value: '${local.settings}' } },
        }),
      },
      expect: refused(outside('read.tf.json', 'file')),
    },
    {
      name: 'file("/…") in an expression key of an output value object (json)',
      files: {
        'read.tf.json': json({
          output: { x: { value: { [`\${file("${sibSecret}")}`]: 'x' } } },
        }),
      },
      expect: refused(outside('read.tf.json', 'file')),
    },
  );

  // Downloaded: `terraform init` clones the vetted module with the
  // runner's git configuration (core.symlinks=false), so its symlinks
  // arrive as plain files holding their targets' paths: a read through one
  // shows that path, never the canary. The remote state is refused by the
  // check after init, before plan.
  for (const [tag, { file, ...expected }] of Object.entries(link.tags)) {
    const moduleCall = `module "link" {\n  source = "${link.source}?ref=${tag}"\n}\n`;
    if ('refused' in expected) {
      specs.push({
        name: `downloaded module ${tag} (${file}): refused by the check after init`,
        files: { 'main.tf': moduleCall },
        expect: refused(
          `^${escapeRegExp(
            `.terraform/modules/link/modules/link/${file}`,
          )}:\\d+(: | in module\\.link: )${expected.refused}`,
          'git-and-init',
        ),
      });
    } else {
      specs.push({
        name: `downloaded module ${tag} (${file}): a read through a symlink of the module`,
        files: {
          'main.tf': `${moduleCall}\noutput "x" {\n  value = module.link.x\n}\n`,
        },
        expect: { status: 'inert', shows: expected.shows },
      });
    }
  }
  return specs;
}

/**
 * Committed symlinks: git checks them out as plain files holding the link's
 * target (core.symlinks=false), so a file function reads that text, never
 * what it points at. Inert: the plan runs and shows exactly that text.
 */
function committedSymlinkCases(world: SecurityWorld): ReachSpec[] {
  const link = join(world.canary.inRoot, 'secret.txt');
  const read = (expression: string) =>
    `output "x" {\n  value = "read:\${${expression}}"\n}\n`;
  return [
    {
      name: 'file() of a committed symlink to the canary',
      files: {
        secret: { symlink: link },
        'read.tf': read('file("${path.module}/secret")'),
      },
      expect: { status: 'inert', shows: `read:${link}` },
    },
    {
      name: 'filebase64() of a committed symlink to the canary',
      files: {
        secret: { symlink: link },
        'read.tf': read('filebase64("${path.module}/secret")'),
      },
      expect: {
        status: 'inert',
        shows: `read:${Buffer.from(link).toString('base64')}`,
      },
    },
    {
      name: 'templatefile() of a committed symlink to the canary',
      files: {
        't.tmpl': { symlink: link },
        'read.tf': read('templatefile("${path.module}/t.tmpl", {})'),
      },
      expect: { status: 'inert', shows: `read:${link}` },
    },
  ];
}

/**
 * The class: every case with its own branch (`security/reach-NNN`). The
 * branches are pushed with the suite's other branches, in one push.
 */
export function reachOutsideCases(
  world: SecurityWorld,
  link: LinkModule,
): ReachCase[] {
  const specs = [
    ...backendCases(world),
    ...providerCases(world),
    ...functionCases(world, link),
    ...committedSymlinkCases(world),
  ];
  return specs.map((spec, i) => {
    const branch = `security/reach-${String(i + 1).padStart(3, '0')}`;
    return {
      boundary: 'reach-outside' as const,
      name: spec.name,
      input: {
        branch,
        files: Object.fromEntries(
          Object.entries(spec.files).map(([f, content]) => [
            `${FOLDER}/${f}`,
            content,
          ]),
        ),
      },
      expect: spec.expect,
    };
  });
}

/**
 * One case as a start of the real runner program: a plan job of its
 * branch's head in the permissive environment, signed when it starts, with
 * the demo's vetted module and the vetted test module (pinned) in its
 * catalog snapshot.
 */
export function reachRunnerCase(
  world: SecurityWorld,
  c: ReachCase,
  heads: ReadonlyMap<string, string>,
  link: LinkModule,
): RunnerCase {
  return {
    boundary: c.boundary,
    name: c.name,
    input: {
      stdin: () =>
        signedDocument(
          JSON.stringify(
            validJob(world, {
              environment: REACH_ENVIRONMENT,
              ref: c.input.branch,
              commitSha: heads.get(c.input.branch),
              path: FOLDER,
              modules: [world.catalogModule, link.module],
            }),
          ),
          world.keys.gate.privateKey,
        ),
      config: base =>
        JSON.stringify({
          ...base,
          environments: {
            ...(base.environments as object),
            [REACH_ENVIRONMENT]: reachEnvironment(),
          },
        }),
    },
    expect: c.expect,
  };
}
