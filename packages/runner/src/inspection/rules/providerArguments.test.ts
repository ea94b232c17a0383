import {
  AWS,
  contextOf,
  GOOGLE,
  HELM,
  inApp,
  json,
  KUBERNETES,
  loadGraph,
  loadInstalledGraph,
  reasonsOf,
  temporaryWorkspaces,
  terraformInit,
  VETTED,
} from '../__testUtils__/workspace';
import { providerArgumentsRule } from './providerArguments';

const workspace = temporaryWorkspaces();
const PROD = contextOf({ providers: [AWS, GOOGLE, KUBERNETES, HELM] });

const notAllowed = (argument: string, address: string) =>
  `argument "${argument}" is not allowed for ${address} in prod (not on the provider's argument allowlist; planPolicy.providerArguments can add one)`;

/** `provider "<name>" {` on line 1, then the body. */
const provider = (name: string, body: string) =>
  `provider "${name}" {\n${body}}\n`;

type Config = Record<string, unknown>;

function hclValue(value: unknown): string {
  return Array.isArray(value)
    ? `[${value.map(hclValue).join(', ')}]`
    : JSON.stringify(value);
}

/** A provider body in HCL: nested objects are blocks, as providers declare them. */
function hclBody(config: Config, indent: string): string {
  return Object.entries(config)
    .map(([key, value]) =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? `${indent}${key} {\n${hclBody(
            value as Config,
            `${indent}  `,
          )}${indent}}\n`
        : `${indent}${key} = ${hclValue(value)}\n`,
    )
    .join('');
}

/** A provider block in each syntax, and the line of its first argument. */
const SYNTAXES = [
  {
    syntax: 'HCL',
    file: 'main.tf',
    line: 2,
    write: (name: string, config: Config) =>
      provider(name, hclBody(config, '  ')),
  },
  {
    syntax: 'JSON',
    file: 'main.tf.json',
    line: 4,
    write: (name: string, config: Config) =>
      json({ provider: { [name]: config } }),
  },
];

async function judge(files: Record<string, string>, context = PROD) {
  return reasonsOf(
    providerArgumentsRule(
      await loadGraph(await workspace(inApp(files))),
      context,
    ),
  );
}

describe('providerArgumentsRule', () => {
  it.each<[string, string, string]>([
    [
      'the AWS provider with its region, assumed role and tags',
      'aws',
      '  alias   = "west"\n  region  = "us-west-2"\n  assume_role {\n    role_arn     = "arn:aws:iam::1:role/deploy"\n    session_name = "runner"\n  }\n  default_tags {\n    tags = { team = "payments" }\n  }\n  ignore_tags {\n    key_prefixes = ["kubernetes.io/"]\n  }\n',
    ],
    [
      'google with a project and an impersonated account',
      'google',
      '  project = "p"\n  region  = "europe-west1"\n  impersonate_service_account = "sa@p.iam.gserviceaccount.com"\n',
    ],
    [
      'kubernetes with a cluster and a token',
      'kubernetes',
      '  host                   = "https://k8s.example.com"\n  cluster_ca_certificate = var.ca\n  token                  = var.token\n',
    ],
    [
      'helm with a kubernetes block',
      'helm',
      '  kubernetes {\n    host  = "https://k8s.example.com"\n    token = var.token\n  }\n',
    ],
    [
      'helm with a kubernetes object (helm 3)',
      'helm',
      '  kubernetes = {\n    host  = "https://k8s.example.com"\n    token = var.token\n  }\n',
    ],
  ])('accepts %s', async (_, name, body) => {
    await expect(judge({ 'main.tf': provider(name, body) })).resolves.toEqual(
      [],
    );
  });

  // Each of these tells the provider where to find credentials, a command
  // or a file of the code's choosing, or another API endpoint.
  describe.each(SYNTAXES)('$syntax syntax', ({ file, line, write }) => {
    it.each<[string, string, Config, string]>([
      [
        'shared_config_files',
        'aws',
        { shared_config_files: ['/tmp/config'], region: 'eu-west-1' },
        'shared_config_files',
      ],
      [
        'shared_credentials_files',
        'aws',
        { shared_credentials_files: ['/tmp/credentials'] },
        'shared_credentials_files',
      ],
      ['profile', 'aws', { profile: 'attacker' }, 'profile'],
      [
        'assume_role_with_web_identity',
        'aws',
        {
          assume_role_with_web_identity: {
            role_arn: 'arn:aws:iam::1:role/x',
            web_identity_token_file: '/tmp/token',
          },
        },
        'assume_role_with_web_identity',
      ],
      [
        'custom_ca_bundle',
        'aws',
        { custom_ca_bundle: '/tmp/ca.pem' },
        'custom_ca_bundle',
      ],
      [
        'endpoints',
        'aws',
        { endpoints: { sts: 'http://attacker.example.com' } },
        'endpoints',
      ],
      ['static access keys', 'aws', { access_key: 'AKIA' }, 'access_key'],
      [
        'a key off the list inside an allowed block',
        'aws',
        {
          assume_role: {
            role_arn: 'arn:aws:iam::1:role/x',
            source_profile: 'attacker',
          },
        },
        'assume_role.source_profile',
      ],
      [
        'kubernetes exec',
        'kubernetes',
        {
          exec: {
            api_version: 'client.authentication.k8s.io/v1',
            command: '/bin/sh',
          },
        },
        'exec',
      ],
      [
        'kubernetes config_path',
        'kubernetes',
        { config_path: '/tmp/kubeconfig' },
        'config_path',
      ],
      [
        'kubernetes config_paths',
        'kubernetes',
        { config_paths: ['/tmp/kubeconfig'] },
        'config_paths',
      ],
      [
        'kubernetes config_context',
        'kubernetes',
        { config_context: 'attacker' },
        'config_context',
      ],
      [
        'helm kubernetes.exec',
        'helm',
        { kubernetes: { exec: { command: '/bin/sh' } } },
        'kubernetes.exec',
      ],
      [
        'helm kubernetes.config_path',
        'helm',
        { kubernetes: { config_path: '/tmp/kubeconfig' } },
        'kubernetes.config_path',
      ],
      [
        'helm registry_config_path',
        'helm',
        { registry_config_path: '/tmp/registry.json' },
        'registry_config_path',
      ],
      [
        'google credentials',
        'google',
        { credentials: '/tmp/key.json', project: 'p' },
        'credentials',
      ],
      ['google access_token', 'google', { access_token: 'x' }, 'access_token'],
      [
        'vault, which has no list',
        'vault',
        { address: 'https://vault.example.com' },
        'address',
      ],
    ])(
      'refuses %s, naming the argument and its line',
      async (_, name, config, argument) => {
        const address = `registry.terraform.io/hashicorp/${name}`;
        const context = contextOf({
          providers: [AWS, GOOGLE, KUBERNETES, HELM, address],
        });
        await expect(
          judge({ [file]: write(name, config) }, context),
        ).resolves.toEqual([
          `app/${file}:${line}: provider "${name}": ${notAllowed(
            argument,
            address,
          )}`,
        ]);
      },
    );

    it('accepts a provider with no list setting only alias and version', async () => {
      await expect(
        judge({ [file]: write('random', { alias: 'r', version: '~> 3.0' }) }),
      ).resolves.toEqual([]);
    });
  });

  it('refuses helm kubernetes.config_paths in the helm 3 object form', async () => {
    await expect(
      judge({
        'main.tf': provider(
          'helm',
          '  kubernetes = {\n    config_paths = ["/tmp/kubeconfig"]\n  }\n',
        ),
      }),
    ).resolves.toEqual([
      `app/main.tf:2: provider "helm": ${notAllowed(
        'kubernetes.config_paths',
        HELM,
      )}`,
    ]);
  });

  it('judges a renamed local name by the provider it names', async () => {
    await expect(
      judge({
        'main.tf': `terraform {\n  required_providers {\n    cloud = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n${provider(
          'cloud',
          '  region  = "eu-west-1"\n  profile = "x"\n',
        )}`,
      }),
    ).resolves.toEqual([
      `app/main.tf:10: provider "cloud": ${notAllowed('profile', AWS)}`,
    ]);
  });

  it.each<[string, string, string]>([
    [
      'a dynamic block',
      '  region = "eu-west-1"\n  dynamic "assume_role" {\n    for_each = var.roles\n    content {\n      role_arn = assume_role.value\n    }\n  }\n',
      'app/main.tf:3: provider "aws": a dynamic block cannot be inspected; write its blocks out',
    ],
    [
      'a nested block held in a variable',
      '  assume_role = var.role\n',
      'app/main.tf:2: provider "aws": "assume_role" must be written out literally, so its arguments can be checked',
    ],
  ])('refuses %s', async (_, body, reason) => {
    await expect(judge({ 'main.tf': provider('aws', body) })).resolves.toEqual([
      reason,
    ]);
  });

  describe('planPolicy.providerArguments', () => {
    it('extends the list of one provider, and only that one', async () => {
      const context = contextOf({
        providers: [AWS, GOOGLE],
        providerArguments: [
          {
            provider: AWS,
            arguments: ['profile', 'assume_role_with_web_identity.role_arn'],
          },
        ],
      });
      await expect(
        judge(
          {
            'main.tf':
              provider(
                'aws',
                '  profile = "platform"\n  assume_role_with_web_identity {\n    role_arn = "arn:aws:iam::1:role/x"\n  }\n',
              ) + provider('google', '  profile = "platform"\n'),
          },
          context,
        ),
      ).resolves.toEqual([
        `app/main.tf:8: provider "google": ${notAllowed('profile', GOOGLE)}`,
      ]);
    });

    it('extends a nested block by its named keys only', async () => {
      const context = contextOf({
        providers: [AWS],
        providerArguments: [
          {
            provider: AWS,
            arguments: ['assume_role_with_web_identity.role_arn'],
          },
        ],
      });
      await expect(
        judge(
          {
            'main.tf': provider(
              'aws',
              '  assume_role_with_web_identity {\n    role_arn                = "arn:aws:iam::1:role/x"\n    web_identity_token_file = "/tmp/token"\n  }\n',
            ),
          },
          context,
        ),
      ).resolves.toEqual([
        `app/main.tf:2: provider "aws": ${notAllowed(
          'assume_role_with_web_identity.web_identity_token_file',
          AWS,
        )}`,
      ]);
    });

    it('gives a provider with no list its first arguments', async () => {
      const VAULT = 'registry.terraform.io/hashicorp/vault';
      const context = contextOf({
        providers: [VAULT],
        providerArguments: [{ provider: VAULT, arguments: ['address'] }],
      });
      await expect(
        judge(
          {
            'main.tf': provider(
              'vault',
              '  address = "https://vault.example.com"\n',
            ),
          },
          context,
        ),
      ).resolves.toEqual([]);
    });
  });

  describe('JSON syntax', () => {
    it('accepts allowed arguments with comment keys', async () => {
      await expect(
        judge({
          'main.tf.json': json({
            provider: {
              '//': 'our accounts',
              aws: [
                { '//': 'default', region: 'eu-west-1' },
                {
                  alias: 'west',
                  region: 'us-west-2',
                  assume_role: [{ role_arn: 'x' }],
                },
              ],
            },
          }),
        }),
      ).resolves.toEqual([]);
    });

    it.each<[string, unknown, string]>([
      [
        'a refused argument',
        {
          provider: {
            aws: { region: 'eu-west-1', shared_config_files: ['/tmp/config'] },
          },
        },
        `app/main.tf.json:5: provider "aws": ${notAllowed(
          'shared_config_files',
          AWS,
        )}`,
      ],
      [
        'a refused argument in the array form',
        {
          provider: [
            {
              aws: [
                { region: 'eu-west-1' },
                { alias: 'x', profile: 'attacker' },
              ],
            },
          ],
        },
        `app/main.tf.json:10: provider "aws": ${notAllowed('profile', AWS)}`,
      ],
      [
        'a refused nested key',
        { provider: { kubernetes: { exec: { command: '/bin/sh' } } } },
        `app/main.tf.json:4: provider "kubernetes": ${notAllowed(
          'exec',
          KUBERNETES,
        )}`,
      ],
      [
        'a dynamic block',
        {
          provider: {
            aws: {
              dynamic: {
                assume_role: {
                  for_each: '${var.roles}',
                  content: { role_arn: 'x' },
                },
              },
            },
          },
        },
        'app/main.tf.json:4: provider "aws": a dynamic block cannot be inspected; write its blocks out',
      ],
      [
        'a nested block held in an expression',
        { provider: { aws: { assume_role: '${var.role}' } } },
        'app/main.tf.json:4: provider "aws": "assume_role" must be written out literally, so its arguments can be checked',
      ],
    ])('refuses %s', async (_, body, reason) => {
      await expect(judge({ 'main.tf.json': json(body) })).resolves.toEqual([
        reason,
      ]);
    });
  });

  it('judges provider blocks in local and downloaded modules', async () => {
    const ws = await workspace({
      'app/main.tf': `module "local" {\n  source = "./local"\n}\nmodule "web" {\n  source = "${VETTED}"\n}\n`,
      'app/local/main.tf': provider('aws', '  profile = "x"\n'),
    });
    await terraformInit(ws.dataDir, [
      {
        key: 'web',
        source: VETTED,
        files: {
          'main.tf': provider(
            'kubernetes',
            '  config_path = "~/.kube/config"\n',
          ),
        },
      },
    ]);
    expect(
      reasonsOf(providerArgumentsRule(await loadInstalledGraph(ws), PROD)),
    ).toEqual([
      `app/local/main.tf:2: provider "aws": ${notAllowed('profile', AWS)}`,
      `.terraform/modules/web/modules/web-service/main.tf:2: provider "kubernetes" in module.web: ${notAllowed(
        'config_path',
        KUBERNETES,
      )}`,
    ]);
  });

  it('leaves a provider whose address is invalid to the provider rule', async () => {
    await expect(
      judge({
        'main.tf': `terraform {\n  required_providers {\n    aws = {\n      source = "\${var.source}"\n    }\n  }\n}\n${provider(
          'aws',
          '  profile = "x"\n',
        )}`,
      }),
    ).resolves.toEqual([]);
  });
});
