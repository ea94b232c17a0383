import { generateKeyPairSync } from 'node:crypto';
import { parseRunnerConfig, RunnerConfigInput } from './config';

const JOB_KEY = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

const minimal: RunnerConfigInput = {
  repositories: ['https://github.com/acme/*', 'file:///srv/git/live.git'],
  environments: {
    dev: { applyBranches: ['*'] },
    prod: { applyBranches: ['main'] },
  },
  workDir: '/var/lib/sealed-runner/work',
  planDir: '/var/lib/sealed-runner/plans',
  stateDir: '/var/lib/sealed-runner/state',
  jobPublicKey: JOB_KEY,
  seenJobsDir: '/var/lib/sealed-runner/seen-jobs',
};

function withChange(change: Record<string, unknown>): string {
  return JSON.stringify({ ...minimal, ...change });
}

describe('parseRunnerConfig', () => {
  it('accepts a minimal config and applies the defaults', () => {
    const noCodeNoProviders = {
      allowCodeExecution: false,
      providers: [],
      providerArguments: [],
      backends: [],
      allowNetwork: false,
    };
    expect(parseRunnerConfig(JSON.stringify(minimal))).toEqual({
      ...minimal,
      environments: {
        dev: { applyBranches: ['*'], planPolicy: noCodeNoProviders },
        prod: { applyBranches: ['main'], planPolicy: noCodeNoProviders },
      },
      terraformPath: 'terraform',
      gitPath: 'git',
      timeoutSeconds: 1800,
      jobLifetimeSeconds: 300,
      sandbox: {
        type: 'bwrap',
        bwrapPath: '/usr/bin/bwrap',
        uid: 64100,
        gid: 64100,
      },
    });
  });

  it.each([
    [false, false],
    [
      { type: 'uid', uid: 10002, gid: 10002 },
      { type: 'uid', bwrapPath: '/usr/bin/bwrap', uid: 10002, gid: 10002 },
    ],
    [
      { bwrapPath: '/opt/bin/bwrap' },
      { type: 'bwrap', bwrapPath: '/opt/bin/bwrap', uid: 64100, gid: 64100 },
    ],
  ])('reads sandbox %j', (sandbox, expected) => {
    expect(parseRunnerConfig(withChange({ sandbox })).sandbox).toEqual(
      expected,
    );
  });

  it.each([
    ['an unknown type', { type: 'docker' }],
    ['root as the sandbox user', { uid: 0 }],
    ['a relative bubblewrap path', { bwrapPath: 'bwrap' }],
    ['an unknown key', { privileged: true }],
    ['true', true],
  ])('refuses a sandbox with %s', (_, sandbox) => {
    expect(() => parseRunnerConfig(withChange({ sandbox }))).toThrow(/sandbox/);
  });

  const role = (name: string) => `arn:aws:iam::123456789012:role/${name}`;
  it('reads taskRoles per environment', () => {
    const taskRoles = {
      dev: { plan: role('dev-planner'), apply: role('dev-applier') },
      prod: { plan: role('prod-planner'), apply: role('prod-applier') },
    };
    expect(parseRunnerConfig(withChange({ taskRoles })).taskRoles).toEqual(
      taskRoles,
    );
  });

  it.each([
    ['miss an environment', { prod: { plan: role('p'), apply: role('a') } }],
    [
      'name an environment the runner does not serve',
      {
        dev: { plan: role('p'), apply: role('a') },
        prod: { plan: role('p'), apply: role('a') },
        stage: { plan: role('p'), apply: role('a') },
      },
    ],
    ['be one pair for all environments', { plan: role('p'), apply: role('a') }],
  ])('refuses taskRoles that %s', (_, taskRoles) => {
    expect(() => parseRunnerConfig(withChange({ taskRoles }))).toThrow(
      /taskRoles/,
    );
  });

  it.each([
    ['not PEM', 'hello'],
    [
      'an RSA key',
      generateKeyPairSync('rsa', { modulusLength: 1024 })
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString(),
    ],
    [
      'a private key',
      generateKeyPairSync('ed25519')
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    ],
  ])('refuses a job public key that is %s', (_, jobPublicKey) => {
    expect(() => parseRunnerConfig(withChange({ jobPublicKey }))).toThrow(
      /jobPublicKey/,
    );
  });

  it('keeps explicit optional settings', () => {
    const config = parseRunnerConfig(
      withChange({
        providerMirrorDir: '/opt/providers',
        terraformPath: '/usr/local/bin/terraform',
        gitPath: '/usr/bin/git',
        timeoutSeconds: 60,
      }),
    );
    expect(config).toMatchObject({
      providerMirrorDir: '/opt/providers',
      terraformPath: '/usr/local/bin/terraform',
      gitPath: '/usr/bin/git',
      timeoutSeconds: 60,
    });
  });

  const defaults = {
    allowCodeExecution: false,
    providers: [],
    providerArguments: [],
    backends: [],
    allowNetwork: false,
  };
  it.each([
    [{}, defaults],
    [{ allowCodeExecution: true }, { ...defaults, allowCodeExecution: true }],
    [
      {
        providers: [
          'registry.terraform.io/hashicorp/aws',
          'example.com:8443/acme/internal',
        ],
      },
      {
        ...defaults,
        providers: [
          'registry.terraform.io/hashicorp/aws',
          'example.com:8443/acme/internal',
        ],
      },
    ],
    [
      {
        providerArguments: [
          {
            provider: 'registry.terraform.io/hashicorp/aws',
            arguments: ['skip_metadata_api_check'],
          },
        ],
        allowNetwork: true,
      },
      {
        ...defaults,
        providerArguments: [
          {
            provider: 'registry.terraform.io/hashicorp/aws',
            arguments: ['skip_metadata_api_check'],
          },
        ],
        allowNetwork: true,
      },
    ],
  ])('reads planPolicy %j as %j', (planPolicy, expected) => {
    const config = parseRunnerConfig(
      withChange({
        environments: { sandbox: { applyBranches: ['*'], planPolicy } },
      }),
    );
    expect(config.environments.sandbox.planPolicy).toEqual(expected);
  });

  it.each([
    ['is not set', undefined, 'SEALED_RUNNER_CONFIG is not set'],
    ['is empty', '', 'SEALED_RUNNER_CONFIG is not set'],
    [
      'is not JSON',
      '{repositories: []',
      'SEALED_RUNNER_CONFIG is not valid JSON',
    ],
  ])('refuses a config that %s', (_, json, message) => {
    expect(() => parseRunnerConfig(json)).toThrow(message);
  });

  // Each refusal says what is wrong and where (zod's "→ at <path>").
  it.each([
    ['a missing workDir', { workDir: undefined }, /expected string/, 'workDir'],
    [
      'a relative workDir',
      { workDir: 'work' },
      /must be an absolute path/,
      'workDir',
    ],
    [
      'a relative planDir',
      { planDir: './plans' },
      /must be an absolute path/,
      'planDir',
    ],
    [
      'a relative stateDir',
      { stateDir: 'state' },
      /must be an absolute path/,
      'stateDir',
    ],
    [
      'a relative terraform path',
      { terraformPath: 'bin/terraform' },
      /absolute path|expected "terraform"/,
      'terraformPath',
    ],
    [
      'a relative git path',
      { gitPath: './git' },
      /absolute path|expected "git"/,
      'gitPath',
    ],
    [
      'a newline in a path',
      { stateDir: '/var/state\n/etc' },
      /must not contain control characters/,
      'stateDir',
    ],
    [
      'a NUL byte in a path',
      { workDir: '/var/work\u0000' },
      /must not contain control characters/,
      'workDir',
    ],
    [
      'an uppercase environment name',
      { environments: { Prod: { applyBranches: ['main'] } } },
      /Invalid key/,
      'environments.Prod',
    ],
    [
      'an environment name with a space',
      { environments: { 'my env': { applyBranches: ['main'] } } },
      /Invalid key/,
      'environments["my env"]',
    ],
    [
      'an environment without apply branches',
      { environments: { dev: { applyBranches: [] } } },
      /Too small/,
      'environments.dev.applyBranches',
    ],
    [
      'an option-like apply branch',
      { environments: { dev: { applyBranches: ['--force'] } } },
      /branch "--force" must not start with '-'/,
      'environments.dev.applyBranches[0]',
    ],
    [
      'an unknown environment setting',
      { environments: { dev: { applyBranches: ['main'], skipChecks: true } } },
      /Unrecognized key: "skipChecks"/,
      'environments.dev',
    ],
    [
      'a provider address without its host',
      {
        environments: {
          dev: {
            applyBranches: ['*'],
            planPolicy: { providers: ['hashicorp/aws'] },
          },
        },
      },
      /must be written in full and in lower case: registry\.terraform\.io\/hashicorp\/aws/,
      'environments.dev.planPolicy.providers[0]',
    ],
    [
      'a provider address in upper case',
      {
        environments: {
          dev: {
            applyBranches: ['*'],
            planPolicy: { providers: ['registry.terraform.io/HashiCorp/aws'] },
          },
        },
      },
      /must be written in full and in lower case/,
      'environments.dev.planPolicy.providers[0]',
    ],
    [
      'a provider wildcard',
      {
        environments: {
          dev: {
            applyBranches: ['*'],
            planPolicy: { providers: ['registry.terraform.io/hashicorp/*'] },
          },
        },
      },
      /must be \[host\/\]namespace\/type/,
      'environments.dev.planPolicy.providers[0]',
    ],
    [
      'allowCodeExecution as a string',
      {
        environments: {
          dev: {
            applyBranches: ['*'],
            planPolicy: { allowCodeExecution: 'yes' },
          },
        },
      },
      /expected boolean/,
      'environments.dev.planPolicy.allowCodeExecution',
    ],
    [
      'an unknown planPolicy setting',
      {
        environments: {
          dev: { applyBranches: ['*'], planPolicy: { allowProviders: '*' } },
        },
      },
      /Unrecognized key: "allowProviders"/,
      'environments.dev.planPolicy',
    ],
    [
      'the ext:: transport on the allowlist',
      { repositories: ['ext::sh -c touch% /tmp/pwned'] },
      /must be a repository URL/,
      'repositories[0]',
    ],
    [
      'an option on the allowlist',
      { repositories: ['--upload-pack=x'] },
      /must be a repository URL/,
      'repositories[0]',
    ],
    [
      'plain http on the allowlist',
      { repositories: ['http://github.com/acme/*'] },
      /must be a repository URL/,
      'repositories[0]',
    ],
    [
      'credentials on the allowlist',
      { repositories: ['https://u:p@github.com/acme/*'] },
      /must be a repository URL/,
      'repositories[0]',
    ],
    [
      'a bare * on the allowlist',
      { repositories: ['file:///srv/git/ok.git', '*'] },
      /must be a repository URL/,
      'repositories[1]',
    ],
    [
      'a control character on the allowlist',
      { repositories: ['https://github.com/acme/x\n'] },
      /must be a repository URL/,
      'repositories[0]',
    ],
    [
      'a timeout under 10 s',
      { timeoutSeconds: 1 },
      /Too small/,
      'timeoutSeconds',
    ],
    [
      'a fractional timeout',
      { timeoutSeconds: 10.5 },
      /expected int/,
      'timeoutSeconds',
    ],
  ])('refuses %s', (_, change, reason, path) => {
    expect(() => parseRunnerConfig(withChange(change))).toThrow(reason);
    const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(() => parseRunnerConfig(withChange(change))).toThrow(
      new RegExp(`→ at ${escaped}$`, 'm'),
    );
  });

  it.each(['constructor', 'hasownproperty', 'tostring'])(
    'never resolves environment %s through the prototype',
    name => {
      const config = parseRunnerConfig(JSON.stringify(minimal));
      expect(config.environments[name]).toBeUndefined();
      expect(config.environments.dev).toBeDefined();
    },
  );

  it('refuses an unknown top-level key', () => {
    expect(() =>
      parseRunnerConfig(withChange({ allowEverything: true })),
    ).toThrow('Unrecognized key: "allowEverything"');
  });

  it('names the variable in every refusal', () => {
    expect(() =>
      parseRunnerConfig(withChange({ workDir: 'relative' })),
    ).toThrow(/^SEALED_RUNNER_CONFIG is invalid: /);
  });
});

describe('parseRunnerConfig: hostile environment names', () => {
  it('refuses a __proto__ environment instead of dropping it unchecked', () => {
    const json = `{"repositories":[],"environments":{"__proto__":{"applyBranches":["*"]}},"workDir":"/w","planDir":"/p","stateDir":"/s","seenJobsDir":"/j","jobPublicKey":"x"}`;
    expect(() => parseRunnerConfig(json)).toThrow(/__proto__/);
  });
});
