import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigReader } from '@backstage/config';
import { JsonObject } from '@backstage/types';
import yaml from 'yaml';
import {
  readSealedRunnerConfig,
  readSealedRunnerPart,
  sealedRunnerConfigSchema,
  shapeOf,
} from './config';

const AWS = 'registry.terraform.io/hashicorp/aws';

function read(environments: JsonObject) {
  return readSealedRunnerConfig(
    new ConfigReader({
      sealedRunner: {
        repositories: ['https://git.example.com/acme/live.git'],
        environments,
      },
    }),
  );
}

describe('readSealedRunnerConfig: environments.<name>.planPolicy', () => {
  it('leaves an unset planPolicy to the runner, whose default refuses code execution', () => {
    expect(
      read({ prod: { applyBranches: ['main'], requiredApprovals: 1 } })
        .environments.prod.planPolicy,
    ).toBeUndefined();
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
    [{ providers: [AWS] }, { ...defaults, providers: [AWS] }],
    [{ backends: ['s3'] }, { ...defaults, backends: ['s3'] }],
    [{ allowNetwork: true }, { ...defaults, allowNetwork: true }],
    [
      {
        providerArguments: [
          { provider: AWS, arguments: ['skip_metadata_api_check'] },
        ],
      },
      {
        ...defaults,
        providerArguments: [
          { provider: AWS, arguments: ['skip_metadata_api_check'] },
        ],
      },
    ],
  ])('reads %j as %j', (planPolicy, expected) => {
    const config = read({
      sandbox: { applyBranches: ['*'], requiredApprovals: 0, planPolicy },
    });
    expect(config.environments.sandbox.planPolicy).toEqual(expected);
  });

  it.each([
    [
      'a shorthand provider address',
      { providers: ['hashicorp/aws'] },
      `must be written in full and in lower case: ${AWS}`,
      'environments.prod.planPolicy.providers[0]',
    ],
    [
      'a provider wildcard',
      { providers: ['registry.terraform.io/hashicorp/*'] },
      'must be [host/]namespace/type',
      'environments.prod.planPolicy.providers[0]',
    ],
    [
      'allowCodeExecution as a string',
      { allowCodeExecution: 'yes' },
      'expected boolean',
      'environments.prod.planPolicy.allowCodeExecution',
    ],
    [
      'an unknown key',
      { allowProviders: '*' },
      'Unrecognized key: "allowProviders"',
      'environments.prod.planPolicy',
    ],
    [
      "a backend that names a path of the code's choosing",
      { backends: ['local'] },
      'Invalid option',
      'environments.prod.planPolicy.backends[0]',
    ],
    [
      'HCP Terraform as a backend',
      { backends: ['cloud'] },
      'Invalid option',
      'environments.prod.planPolicy.backends[0]',
    ],
    [
      'a provider argument that is not an argument name',
      {
        providerArguments: [
          { provider: AWS, arguments: ['shared_config_files; rm'] },
        ],
      },
      'must be an argument name',
      'environments.prod.planPolicy.providerArguments[0].arguments[0]',
    ],
  ])('fails startup on %s, naming the key', (_, planPolicy, message, path) => {
    const attempt = () =>
      read({
        prod: { applyBranches: ['main'], requiredApprovals: 1, planPolicy },
      });
    expect(attempt).toThrow(/^Invalid sealedRunner configuration:/);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(`→ at ${path}`);
  });
});

describe('readSealedRunnerConfig: the ECS runner and KMS signing', () => {
  const ECS = {
    region: 'eu-west-1',
    cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/sealed-runner',
    taskDefinitions: {
      prod: {
        plan: 'sealed-runner-prod-plan',
        apply: 'sealed-runner-prod-apply',
      },
    },
    subnets: ['subnet-0a1b2c3d'],
    logGroup: '/sealed-runner/runner',
    artifactsBucket: 'acme-sealed-runner-artifacts',
    artifactsKmsKeyId:
      'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  };

  function readRunner(runner: JsonObject, jobSigning?: JsonObject) {
    return readSealedRunnerConfig(
      new ConfigReader({
        sealedRunner: {
          repositories: ['https://git.example.com/acme/live.git'],
          environments: {
            prod: { applyBranches: ['main'], requiredApprovals: 1 },
          },
          runner,
          ...(jobSigning ? { jobSigning } : {}),
        },
      }),
    );
  }

  it('reads the ECS runner with its defaults', () => {
    expect(readRunner({ type: 'ecs', ecs: ECS }).runner.ecs).toEqual({
      ...ECS,
      containerName: 'runner',
      securityGroups: [],
      assignPublicIp: false,
      logStreamPrefix: 'runner',
      startAttempts: 5,
      startBackoffMs: 1000,
      logGraceSeconds: 30,
    });
  });

  it.each([
    [
      'a subnet that is not a subnet id',
      { subnets: ['subnet-0a; rm -rf /'] },
      'subnets',
    ],
    ['no subnet', { subnets: [] }, 'subnets'],
    [
      'a bucket name with a path',
      { artifactsBucket: 'bucket/../other' },
      'artifactsBucket',
    ],
    [
      'a task definition with spaces',
      { taskDefinitions: { prod: { plan: 'a b', apply: 'x' } } },
      'taskDefinitions',
    ],
    [
      'one pair of task definitions for every environment',
      { taskDefinitions: { plan: 'p', apply: 'a' } },
      'taskDefinitions',
    ],
    ['no task definitions for prod', { taskDefinitions: {} }, 'missing: prod'],
    [
      'task definitions of an environment that is not configured',
      {
        taskDefinitions: {
          prod: { plan: 'p', apply: 'a' },
          stage: { plan: 'p', apply: 'a' },
        },
      },
      'not configured: stage',
    ],
    ['a region that is not one', { region: 'mars' }, 'region'],
    [
      'an endpoint that is not http(s)',
      { endpoint: 'file:///etc/passwd' },
      'endpoint',
    ],
    ['unbounded retries', { startAttempts: 1000 }, 'startAttempts'],
    ['an unknown key', { command: ['sh'] }, 'command'],
  ])('refuses %s', (_, change, key) => {
    expect(() =>
      readRunner({ type: 'ecs', ecs: { ...ECS, ...change } }),
    ).toThrow(key);
  });

  it('refuses both a private key and a KMS key for signing', () => {
    expect(() =>
      readRunner(
        { type: 'ecs', ecs: ECS },
        { privateKey: 'x', kms: { keyId: 'alias/jobs', region: 'eu-west-1' } },
      ),
    ).toThrow('either privateKey or kms');
  });

  it('reads app-config.production.yaml', () => {
    const values: Record<string, string> = {
      AWS_REGION: 'eu-west-1',
      SEALED_RUNNER_CLUSTER_ARN: ECS.cluster,
      SEALED_RUNNER_SUBNET_ID: 'subnet-0a1b2c3d',
      SEALED_RUNNER_SECURITY_GROUP_ID: 'sg-0a1b2c3d',
      SEALED_RUNNER_ARTIFACTS_BUCKET: ECS.artifactsBucket,
      SEALED_RUNNER_ARTIFACTS_KEY_ARN: ECS.artifactsKmsKeyId,
      SEALED_RUNNER_SIGNING_KEY_ARN:
        'arn:aws:kms:eu-west-1:123456789012:key/abcd1234-12ab-34cd-56ef-1234567890ab',
    };
    const text = readFileSync(
      resolve(__dirname, '../../../app-config.production.yaml'),
      'utf8',
    ).replace(
      /\$\{(\w+)\}/g,
      (_: string, name: string) => values[name] ?? name,
    );
    const config = readSealedRunnerConfig(new ConfigReader(yaml.parse(text)));
    expect(config.runner.type).toBe('ecs');
    expect(config.runner.ecs?.taskDefinitions).toEqual({
      dev: { plan: 'sealed-runner-dev-plan', apply: 'sealed-runner-dev-apply' },
      stage: {
        plan: 'sealed-runner-stage-plan',
        apply: 'sealed-runner-stage-apply',
      },
      prod: {
        plan: 'sealed-runner-prod-plan',
        apply: 'sealed-runner-prod-apply',
      },
    });
    expect(config.jobSigning.kms?.keyId).toBe(
      values.SEALED_RUNNER_SIGNING_KEY_ARN,
    );
  });
});

describe('readSealedRunnerConfig: breakGlass', () => {
  const withBreakGlass = (breakGlass: unknown) =>
    readSealedRunnerConfig(
      new ConfigReader({
        sealedRunner: {
          repositories: ['https://git.example.com/acme/live.git'],
          environments: {
            prod: { applyBranches: ['main'], requiredApprovals: 1 },
          },
          ...(breakGlass === undefined ? {} : { breakGlass }),
        } as JsonObject,
      }),
    );

  it('defaults maxDurationMinutes to 240', () => {
    expect(withBreakGlass(undefined).breakGlass).toEqual({
      maxDurationMinutes: 240,
    });
    expect(withBreakGlass({}).breakGlass).toEqual({ maxDurationMinutes: 240 });
    expect(withBreakGlass({ maxDurationMinutes: 15 }).breakGlass).toEqual({
      maxDurationMinutes: 15,
    });
  });

  it.each([
    [{ maxDurationMinutes: 0 }],
    [{ maxDurationMinutes: 10081 }],
    [{ maxDurationMinutes: 1.5 }],
    [{ maxDurationMinutes: '60' }],
    [{ maxDuration: 60 }],
  ])('fails startup for %j, naming the key', breakGlass => {
    expect(() => withBreakGlass(breakGlass)).toThrow(
      /Invalid sealedRunner configuration:[\s\S]*breakGlass/,
    );
  });

  it('is set in the demo app-config.yaml', () => {
    const demo = yaml.parse(
      readFileSync(resolve(__dirname, '../../../app-config.yaml'), 'utf8'),
    );
    expect(demo.sealedRunner.breakGlass).toEqual({ maxDurationMinutes: 240 });
    expect(demo.sealedRunnerPolicy.breakGlassGroups).toEqual([
      'group:default/platform-team',
    ]);
  });
});

describe('readSealedRunnerConfig: a __proto__ key', () => {
  it('refuses it by name instead of letting the config reader drop it', () => {
    const data = JSON.parse(
      '{"sealedRunner":{"repositories":[],"environments":{"__proto__":{"applyBranches":["*"],"requiredApprovals":0},"dev":{"applyBranches":["*"],"requiredApprovals":0}}}}',
    );
    expect(() => readSealedRunnerConfig(new ConfigReader(data))).toThrow(
      /"__proto__" is not a valid name\n {2}→ at sealedRunner\.environments\.__proto__/,
    );
  });
});

describe('shapeOf', () => {
  const part = shapeOf(sealedRunnerConfigSchema);

  it('keeps the keys and kinds of value, not the rules on the values', () => {
    expect(
      part.safeParse({
        repositories: ['ext::sh -c touch% /tmp/x'],
        environments: {
          Bad_Env: {
            applyBranches: ['--upload-pack=x'],
            requiredApprovals: -1,
          },
        },
      }).success,
    ).toBe(true);
  });

  it.each([
    ['repositories as a string', { repositories: 'x', environments: {} }],
    [
      'applyBranches as a string',
      {
        repositories: [],
        environments: { dev: { applyBranches: 'main', requiredApprovals: 0 } },
      },
    ],
    [
      'requiredApprovals as a string',
      {
        repositories: [],
        environments: { dev: { applyBranches: ['*'], requiredApprovals: '1' } },
      },
    ],
    [
      'a missing requiredApprovals',
      { repositories: [], environments: { dev: { applyBranches: ['*'] } } },
    ],
    ['a missing environments', { repositories: [] }],
  ])('refuses %s', (_, value) => {
    expect(part.safeParse(value).success).toBe(false);
  });

  it('leaves keys with defaults optional', () => {
    expect(
      part.safeParse({
        repositories: [],
        environments: { dev: { applyBranches: ['*'], requiredApprovals: 0 } },
      }).success,
    ).toBe(true);
  });
});

describe('readSealedRunnerPart', () => {
  it('names the key of a wrong type, under sealedRunner', () => {
    expect(() =>
      readSealedRunnerPart(
        new ConfigReader({ sealedRunner: { repositories: 'x' } }),
        shapeOf(sealedRunnerConfigSchema),
      ),
    ).toThrow(/sealedRunner\.repositories/);
  });

  it('reads nothing without a sealedRunner section', () => {
    expect(
      readSealedRunnerPart(
        new ConfigReader({}),
        shapeOf(sealedRunnerConfigSchema),
      ),
    ).toBeUndefined();
  });
});
