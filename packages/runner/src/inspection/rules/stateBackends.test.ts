import { STATE_BACKEND_TYPES } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  contextOf,
  inApp,
  json,
  loadGraph,
  reasonsOf,
  temporaryWorkspaces,
} from '../__testUtils__/workspace';
import { rootBackends, stateBackendsRule } from './stateBackends';

const workspace = temporaryWorkspaces();

/** An environment that lists every backend type a policy may list. */
const ALL = contextOf({ backends: [...STATE_BACKEND_TYPES] });
const ALL_LISTED = 'planPolicy.backends: s3, gcs, azurerm, http, consul, …';

type Config = Record<string, unknown>;

/**
 * Per type: configuration that says only where state lives, and keys that
 * reach elsewhere (a file, a command, a profile, a kubeconfig, an endpoint).
 */
const BACKENDS: Record<string, { allowed: Config; refused: Config }> = {
  s3: {
    allowed: {
      bucket: 'state',
      key: 'app.tfstate',
      region: 'eu-west-1',
      assume_role: {
        role_arn: 'arn:aws:iam::1:role/x',
        session_name: 'runner',
      },
    },
    refused: {
      shared_config_files: ['/tmp/config'],
      shared_credentials_files: ['/tmp/credentials'],
      profile: 'attacker',
      endpoints: { s3: 'http://169.254.169.254' },
      sts_endpoint: 'http://attacker.example.com',
      assume_role_with_web_identity: { web_identity_token_file: '/tmp/token' },
      custom_ca_bundle: '/tmp/ca.pem',
    },
  },
  gcs: {
    allowed: {
      bucket: 'state',
      prefix: 'app',
      impersonate_service_account: 'sa@p.iam.gserviceaccount.com',
    },
    refused: {
      credentials: '/tmp/key.json',
      access_token: 'x',
      storage_custom_endpoint: 'http://attacker.example.com',
    },
  },
  azurerm: {
    allowed: {
      storage_account_name: 'state',
      container_name: 'tfstate',
      key: 'app.tfstate',
      use_msi: true,
    },
    refused: {
      client_certificate_path: '/tmp/cert.pfx',
      oidc_token_file_path: '/tmp/token',
      msi_endpoint: 'http://attacker.example.com',
    },
  },
  http: {
    allowed: {
      address: 'https://state.example.com/app',
      lock_address: 'https://state.example.com/app/lock',
    },
    refused: {
      skip_cert_verification: true,
      client_ca_certificate_file: '/tmp/ca.pem',
    },
  },
  consul: {
    allowed: {
      address: 'consul.example.com:8500',
      path: 'app',
      scheme: 'https',
    },
    refused: {
      ca_file: '/tmp/ca.pem',
      cert_file: '/tmp/cert.pem',
      key_file: '/tmp/key.pem',
    },
  },
  pg: {
    allowed: {
      conn_str: 'postgres://terraform@db.example.com/state?sslmode=require',
      schema_name: 'app',
    },
    refused: { ssl_root_cert: '/tmp/ca.pem' },
  },
  kubernetes: {
    allowed: {
      secret_suffix: 'app',
      namespace: 'state',
      in_cluster_config: true,
    },
    refused: {
      config_path: '/tmp/kubeconfig',
      config_paths: ['/tmp/kubeconfig'],
      config_context: 'attacker',
      exec: { command: '/bin/sh' },
    },
  },
  oss: {
    allowed: { bucket: 'state', prefix: 'app', region: 'cn-beijing' },
    refused: {
      shared_credentials_file: '/tmp/credentials',
      profile: 'attacker',
      endpoint: 'http://attacker.example.com',
      ecs_role_name: 'x',
    },
  },
  cos: {
    allowed: { bucket: 'state', prefix: 'app', region: 'ap-guangzhou' },
    refused: {
      profile: 'attacker',
      shared_credentials_dir: '/tmp',
      endpoint: 'http://attacker.example.com',
    },
  },
};

function hcl(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(hcl).join(', ')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k} = ${hcl(v)}`)
      .join(', ')} }`;
  }
  return JSON.stringify(value);
}

const hclBody = (config: Config, indent: string) =>
  Object.entries(config)
    .map(([k, v]) => `${indent}${k} = ${hcl(v)}\n`)
    .join('');

/**
 * A root `backend` block and a `terraform_remote_state` data source in
 * each syntax, and the lines reasons name: the backend block, the data
 * source's `backend` and its `config`.
 */
const SYNTAXES = [
  {
    syntax: 'HCL',
    file: 'main.tf',
    rootBackend: (type: string, config: Config) =>
      `terraform {\n  backend "${type}" {\n${hclBody(config, '    ')}  }\n}\n`,
    remoteState: (type: string, config: Config) =>
      `data "terraform_remote_state" "s" {\n  backend = "${type}"\n  config = {\n${hclBody(
        config,
        '    ',
      )}  }\n}\n`,
    lines: { backendBlock: 2, backend: 2, config: 3 },
  },
  {
    syntax: 'JSON',
    file: 'main.tf.json',
    rootBackend: (type: string, config: Config) =>
      json({ terraform: { backend: { [type]: config } } }),
    remoteState: (type: string, config: Config) =>
      json({
        data: { terraform_remote_state: { s: { backend: type, config } } },
      }),
    lines: { backendBlock: 4, backend: 5, config: 6 },
  },
];

const KEY_REFUSED = (key: string, type: string) =>
  `key "${key}" is not allowed for backend "${type}" (its allowed keys say where state lives, never a file, command, profile or endpoint); refused in prod`;

async function judge(files: Record<string, string>, context = ALL) {
  return reasonsOf(
    stateBackendsRule(await loadGraph(await workspace(inApp(files))), context),
  );
}

const HCL = SYNTAXES[0];

describe('stateBackendsRule', () => {
  describe.each(SYNTAXES)('$syntax syntax', ({ file, lines, ...write }) => {
    describe.each(Object.entries(BACKENDS))(
      'backend "%s"',
      (type, { allowed, refused }) => {
        it('accepts a root backend block with the allowed keys', async () => {
          await expect(
            judge({ [file]: write.rootBackend(type, allowed) }),
          ).resolves.toEqual([]);
        });

        it('accepts a terraform_remote_state data source with the allowed keys', async () => {
          await expect(
            judge({ [file]: write.remoteState(type, allowed) }),
          ).resolves.toEqual([]);
        });

        it.each(Object.entries(refused))(
          'refuses a root backend block setting %s, naming the key',
          async (key, value) => {
            await expect(
              judge({
                [file]: write.rootBackend(type, { ...allowed, [key]: value }),
              }),
            ).resolves.toEqual([
              `app/${file}:${
                lines.backendBlock
              }: terraform backend "${type}": ${KEY_REFUSED(key, type)}`,
            ]);
          },
        );

        it.each(Object.entries(refused))(
          'refuses terraform_remote_state config setting %s, naming the key',
          async (key, value) => {
            await expect(
              judge({
                [file]: write.remoteState(type, { ...allowed, [key]: value }),
              }),
            ).resolves.toEqual([
              `app/${file}:${
                lines.config
              }: data "terraform_remote_state" "s": ${KEY_REFUSED(key, type)}`,
            ]);
          },
        );

        it('refuses the type where the environment does not list it', async () => {
          const none = contextOf({ backends: [] });
          const listed =
            'planPolicy.backends: none; the runner keeps the state';
          await expect(
            judge({ [file]: write.rootBackend(type, allowed) }, none),
          ).resolves.toEqual([
            `app/${file}:${lines.backendBlock}: terraform backend "${type}" is not allowed in prod (${listed})`,
          ]);
          await expect(
            judge({ [file]: write.remoteState(type, allowed) }, none),
          ).resolves.toEqual([
            `app/${file}:${lines.backend}: data "terraform_remote_state" "s" reads state through backend "${type}", which is not allowed in prod (${listed})`,
          ]);
        });
      },
    );

    // No policy can list these: a path the code chooses, or HCP Terraform
    // running the plan elsewhere; or a type nobody vetted.
    it.each([
      ['local', 'is not allowed'],
      ['remote', 'is not allowed'],
      ['cloud', 'is HCP Terraform, which is never allowed'],
      ['artifactory', 'is not allowed'],
      ['S3', 'is not allowed'],
    ])('always refuses backend "%s"', async (type, refused) => {
      await expect(
        judge({ [file]: write.rootBackend(type, { path: '/tmp/x' }) }),
      ).resolves.toEqual([
        `app/${file}:${lines.backendBlock}: terraform backend "${type}" ${refused} in prod (${ALL_LISTED})`,
      ]);
      await expect(
        judge({ [file]: write.remoteState(type, { path: '/tmp/x' }) }),
      ).resolves.toEqual([
        `app/${file}:${lines.backend}: data "terraform_remote_state" "s" reads state through backend "${type}", which ${refused} in prod (${ALL_LISTED})`,
      ]);
    });
  });

  it('always refuses an HCP Terraform cloud block', async () => {
    await expect(
      judge({
        'main.tf':
          'terraform {\n  cloud {\n    organization = "acme"\n  }\n}\n',
      }),
    ).resolves.toEqual([
      `app/main.tf:2: terraform cloud block is HCP Terraform, which is never allowed in prod (${ALL_LISTED})`,
    ]);
  });

  it('names the listed backends in the reason', async () => {
    await expect(
      judge(
        { 'main.tf': HCL.remoteState('gcs', { bucket: 'b' }) },
        contextOf({ backends: ['s3'] }),
      ),
    ).resolves.toEqual([
      'app/main.tf:2: data "terraform_remote_state" "s" reads state through backend "gcs", which is not allowed in prod (planPolicy.backends: s3)',
    ]);
  });

  it.each<[string, string, string]>([
    [
      'a backend chosen by a variable',
      'data "terraform_remote_state" "s" {\n  backend = var.backend\n}\n',
      'app/main.tf:2: data "terraform_remote_state" "s": backend must be a literal backend type',
    ],
    [
      'an interpolated backend',
      'data "terraform_remote_state" "s" {\n  backend = "${var.backend}"\n}\n',
      'app/main.tf:2: data "terraform_remote_state" "s": backend must be a literal backend type',
    ],
    [
      'no backend',
      'data "terraform_remote_state" "s" {\n  config = {}\n}\n',
      'app/main.tf:1: data "terraform_remote_state" "s": backend must be a literal backend type',
    ],
    [
      'a config held in a variable',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config  = var.state\n}\n',
      'app/main.tf:3: data "terraform_remote_state" "s": config must be written out as an object, so its keys can be checked',
    ],
    [
      'a config built by a function',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config  = merge({ bucket = "b" }, var.more)\n}\n',
      'app/main.tf:3: data "terraform_remote_state" "s": config must be written out as an object, so its keys can be checked',
    ],
    [
      'a nested config held in a variable',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config = {\n    bucket      = "b"\n    assume_role = var.role\n  }\n}\n',
      'app/main.tf:3: data "terraform_remote_state" "s": "assume_role" must be written out literally, so its keys can be checked; refused in prod',
    ],
    [
      'a config key that is an expression',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config = {\n    (var.key) = "/tmp/credentials"\n  }\n}\n',
      `app/main.tf:3: data "terraform_remote_state" "s": ${KEY_REFUSED(
        '${(var.key)}',
        's3',
      )}`,
    ],
    [
      'a nested key off the list',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config = {\n    assume_role = {\n      role_arn                = "x"\n      web_identity_token_file = "/tmp/t"\n    }\n  }\n}\n',
      `app/main.tf:3: data "terraform_remote_state" "s": ${KEY_REFUSED(
        'assume_role.web_identity_token_file',
        's3',
      )}`,
    ],
    [
      'an argument besides the data source arguments',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  config  = {}\n  extra   = 1\n}\n',
      'app/main.tf:1: data "terraform_remote_state" "s": argument "extra" is not allowed',
    ],
    [
      'a dynamic block in a root backend',
      'terraform {\n  backend "s3" {\n    bucket = "b"\n    dynamic "assume_role" {\n      for_each = [1]\n      content {\n        role_arn = "x"\n      }\n    }\n  }\n}\n',
      'app/main.tf:2: terraform backend "s3": a dynamic block ("dynamic") cannot be inspected; refused in prod',
    ],
    [
      'a dynamic block in a remote state data source',
      'data "terraform_remote_state" "s" {\n  backend = "s3"\n  dynamic "config" {\n    for_each = [1]\n    content {}\n  }\n}\n',
      'app/main.tf:1: data "terraform_remote_state" "s": argument "dynamic" is not allowed',
    ],
  ])('refuses %s', async (_, text, reason) => {
    await expect(judge({ 'main.tf': text })).resolves.toEqual([reason]);
  });

  it('accepts the data source arguments besides config', async () => {
    await expect(
      judge({
        'main.tf':
          'data "terraform_remote_state" "s" {\n  for_each  = toset(["a"])\n  backend   = "s3"\n  workspace = each.key\n  defaults  = { vpc_id = "" }\n  config = {\n    bucket = "b"\n    key    = "${each.key}.tfstate"\n  }\n}\n',
      }),
    ).resolves.toEqual([]);
  });

  it('judges terraform_remote_state in a child module and in a check block', async () => {
    const ws = await workspace({
      'app/main.tf': 'module "child" {\n  source = "./child"\n}\n',
      'app/child/main.tf': `check "c" {\n${HCL.remoteState('local', {
        path: '/tmp/x',
      })}  assert {\n    condition     = true\n    error_message = "x"\n  }\n}\n`,
    });
    expect(reasonsOf(stateBackendsRule(await loadGraph(ws), ALL))).toEqual([
      `app/child/main.tf:3: data "terraform_remote_state" "s" in check "c" reads state through backend "local", which is not allowed in prod (${ALL_LISTED})`,
    ]);
  });

  it('ignores a backend block of a child module, which Terraform ignores', async () => {
    const ws = await workspace({
      'app/main.tf': 'module "child" {\n  source = "./child"\n}\n',
      'app/child/main.tf': HCL.rootBackend('local', { path: '/tmp/x' }),
    });
    expect(stateBackendsRule(await loadGraph(ws), ALL)).toEqual([]);
  });

  describe('pg conn_str', () => {
    it.each([
      'postgres://terraform:secret@db.example.com:5432/state?sslmode=verify-full&connect_timeout=5',
      'postgresql://db.example.com/state',
      'host=db.example.com port=5432 dbname=state user=terraform sslmode=require',
      'host = db.example.com dbname = state',
      "host=db.example.com password='it\\'s a secret' dbname=state",
      'host=10.0.0.1,db2.example.com port=5432,5433',
    ])('accepts %s', async conn => {
      await expect(
        judge({ 'main.tf': HCL.remoteState('pg', { conn_str: conn }) }),
      ).resolves.toEqual([]);
    });

    it.each<[string, string]>([
      [
        'postgres://db.example.com/state?sslrootcert=/etc/ssl/ca.pem',
        'conn_str parameter "sslrootcert" is not allowed',
      ],
      [
        'postgres://db.example.com/state?sslmode=require&sslkey=/tmp/key',
        'conn_str parameter "sslkey" is not allowed',
      ],
      [
        'host=db.example.com passfile=/tmp/pgpass',
        'conn_str parameter "passfile" is not allowed',
      ],
      ['service=attacker', 'conn_str parameter "service" is not allowed'],
      [
        'host=db.example.com\tsslcert=/tmp/cert',
        'conn_str parameter "sslcert" is not allowed',
      ],
      [
        'host=db.example.com\u0085sslrootcert=/tmp/ca.pem',
        'conn_str may hold only printable ASCII and ASCII whitespace',
      ],
      [
        'host=db.example.com\u00a0sslkey=/tmp/key',
        'conn_str may hold only printable ASCII and ASCII whitespace',
      ],
      [
        "password='a b'sslkey=/tmp/key",
        'conn_str is not a list of key=value parameters',
      ],
      [
        'host=db.example.com oops',
        'conn_str is not a list of key=value parameters',
      ],
      [
        "password='unterminated sslkey=/tmp/key",
        'conn_str is not a list of key=value parameters',
      ],
      [
        'host=/var/run/postgresql dbname=state',
        'conn_str parameter "host" must name hosts',
      ],
      [
        'postgres:///state?host=/var/run/postgresql',
        'conn_str parameter "host" must name hosts',
      ],
      [
        'postgres://db.example.com/state?host=a&host=/tmp',
        'conn_str parameter "host" must name hosts',
      ],
      [
        'postgres://db.example.com/state?sslroot%63ert=/tmp/ca.pem',
        'conn_str parameter "sslrootcert" is not allowed',
      ],
      [
        'postgres://db.example.com:port/x',
        'conn_str is not a valid postgres:// URL',
      ],
      [
        'postgres://db.example.com/${var.db}',
        'conn_str must be a literal string',
      ],
    ])('refuses %s', async (conn, problem) => {
      await expect(
        judge({
          'main.tf': HCL.remoteState('pg', { conn_str: conn }),
        }),
      ).resolves.toEqual([
        expect.stringMatching(
          new RegExp(
            `^app/main\\.tf:3: data "terraform_remote_state" "s": ${problem.replace(
              /[()]/g,
              '\\$&',
            )}`,
          ),
        ),
      ]);
    });

    it('refuses a conn_str of a root backend block', async () => {
      await expect(
        judge({
          'main.tf': HCL.rootBackend('pg', { conn_str: 'service=attacker' }),
        }),
      ).resolves.toEqual([
        'app/main.tf:2: terraform backend "pg": conn_str parameter "service" is not allowed (only host, hostaddr, port, dbname, user, password, sslmode, connect_timeout, application_name, target_session_attrs); refused in prod',
      ]);
    });
  });

  describe('JSON syntax', () => {
    it('accepts a backend and remote state with comment keys in their bodies', async () => {
      await expect(
        judge({
          'main.tf.json': json({
            '//': 'state',
            terraform: {
              '//': 'ours',
              backend: {
                s3: { '//': 'the platform bucket', bucket: 'b', key: 'k' },
              },
            },
            data: {
              terraform_remote_state: {
                s: {
                  '//': 'network',
                  backend: 's3',
                  config: { bucket: 'b', key: 'n' },
                },
              },
            },
          }),
        }),
      ).resolves.toEqual([]);
    });

    it.each<[string, unknown, string]>([
      [
        'a root backend key off the list',
        {
          terraform: { backend: { s3: { bucket: 'b', profile: 'attacker' } } },
        },
        `app/main.tf.json:4: terraform backend "s3": ${KEY_REFUSED(
          'profile',
          's3',
        )}`,
      ],
      [
        'a root backend in the array form',
        {
          terraform: [
            { backend: [{ kubernetes: { config_path: '/tmp/kubeconfig' } }] },
          ],
        },
        `app/main.tf.json:6: terraform backend "kubernetes": ${KEY_REFUSED(
          'config_path',
          'kubernetes',
        )}`,
      ],
      [
        'a remote state key off the list',
        {
          data: {
            terraform_remote_state: {
              s: {
                backend: 's3',
                config: { bucket: 'b', shared_config_files: ['/tmp/c'] },
              },
            },
          },
        },
        `app/main.tf.json:6: data "terraform_remote_state" "s": ${KEY_REFUSED(
          'shared_config_files',
          's3',
        )}`,
      ],
      [
        'a remote state config key that is an expression',
        {
          data: {
            terraform_remote_state: {
              s: { backend: 's3', config: { '${var.key}': '/tmp/c' } },
            },
          },
        },
        `app/main.tf.json:6: data "terraform_remote_state" "s": ${KEY_REFUSED(
          '${var.key}',
          's3',
        )}`,
      ],
      [
        'a remote state backend that is an expression',
        {
          data: {
            terraform_remote_state: { s: { backend: '${var.backend}' } },
          },
        },
        'app/main.tf.json:5: data "terraform_remote_state" "s": backend must be a literal backend type',
      ],
      [
        'a remote state config that is an expression',
        {
          data: {
            terraform_remote_state: {
              s: { backend: 's3', config: '${var.config}' },
            },
          },
        },
        'app/main.tf.json:6: data "terraform_remote_state" "s": config must be written out as an object, so its keys can be checked',
      ],
      [
        'a local remote state',
        {
          data: {
            terraform_remote_state: {
              s: { backend: 'local', config: { path: '/tmp/x' } },
            },
          },
        },
        `app/main.tf.json:5: data "terraform_remote_state" "s" reads state through backend "local", which is not allowed in prod (${ALL_LISTED})`,
      ],
    ])('refuses %s', async (_, body, reason) => {
      await expect(judge({ 'main.tf.json': json(body) })).resolves.toEqual([
        reason,
      ]);
    });
  });
});

describe('rootBackends', () => {
  async function backends(files: Record<string, string>) {
    return rootBackends(await loadGraph(await workspace(files))).map(b => ({
      type: b.type,
      block: b.block,
      file: b.file.shown,
    }));
  }

  it.each<
    [
      string,
      Record<string, string>,
      Array<{ type: string; block: string; file: string }>,
    ]
  >([
    [
      'the backend the root folder declares',
      inApp({
        'main.tf': '',
        'backend.tf': 'terraform {\n  backend "s3" {}\n}\n',
      }),
      [{ type: 's3', block: 'backend', file: 'app/backend.tf' }],
    ],
    [
      'a backend declared in a .tf.json file',
      inApp({
        'backend.tf.json': JSON.stringify({
          terraform: { backend: { s3: {} } },
        }),
      }),
      [{ type: 's3', block: 'backend', file: 'app/backend.tf.json' }],
    ],
    [
      'an HCP Terraform cloud block',
      inApp({
        'main.tf':
          'terraform {\n  cloud {\n    organization = "acme"\n  }\n}\n',
      }),
      [{ type: 'cloud', block: 'cloud', file: 'app/main.tf' }],
    ],
    [
      'a backend block labelled cloud',
      inApp({ 'main.tf': 'terraform {\n  backend "cloud" {}\n}\n' }),
      [{ type: 'cloud', block: 'backend', file: 'app/main.tf' }],
    ],
    [
      'nothing for a terraform block without a backend',
      inApp({ 'main.tf': 'terraform {\n  required_version = ">= 1.5"\n}\n' }),
      [],
    ],
    [
      'nothing when only a local module declares a backend',
      inApp({
        'main.tf': 'module "local" {\n  source = "./inner"\n}\n',
        'inner/main.tf': 'terraform {\n  backend "s3" {}\n}\n',
      }),
      [],
    ],
  ])('names %s', async (_, files, expected) => {
    await expect(backends(files)).resolves.toEqual(expected);
  });
});
