import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RunnerConfigInput } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { RUNNER_ENTRY_POINT } from '@sealed-runner/runner';
import { FakeAws } from './fakeAws';
import { IsolatedRoot } from './isolatedRoot';

export const ECS_CLUSTER = 'sealed-runner';
/** The demo's environments and their apply branches. */
const ENVIRONMENTS = { dev: ['*'], prod: ['main'] } as const;
type Environment = keyof typeof ENVIRONMENTS;
/** One identity per environment and operation, as deploy/terraform names them. */
export const TASK_ROLES: Record<Environment, { plan: string; apply: string }> =
  {
    dev: {
      plan: 'arn:aws:iam::123456789012:role/sealed-runner-dev-planner',
      apply: 'arn:aws:iam::123456789012:role/sealed-runner-dev-applier',
    },
    prod: {
      plan: 'arn:aws:iam::123456789012:role/sealed-runner-prod-planner',
      apply: 'arn:aws:iam::123456789012:role/sealed-runner-prod-applier',
    },
  };
/** The task definition families, as deploy/terraform names them. */
export const TASK_FAMILIES: Record<
  Environment,
  { plan: string; apply: string }
> = {
  dev: { plan: 'sealed-runner-dev-plan', apply: 'sealed-runner-dev-apply' },
  prod: { plan: 'sealed-runner-prod-plan', apply: 'sealed-runner-prod-apply' },
};
export const ARTIFACTS_BUCKET = 'sealed-runner-artifacts';
const LOG_GROUP = '/sealed-runner/runner';

/**
 * The sealed runner on "AWS": a local ECS/CloudWatch Logs/S3/KMS server
 * whose tasks are real runner processes configured as deploy/terraform
 * configures the Fargate task definitions, and the backend config that
 * points `runner.type: ecs` and KMS job signing at it.
 */
export interface EcsEnvironment {
  fake: FakeAws;
  /** Deep-merge into the backend's config. */
  backendConfig: object;
  stop(): Promise<void>;
}

export async function startEcsEnvironment(
  root: IsolatedRoot,
  options: { provisioningDelayMs?: number; ecs?: object } = {},
): Promise<EcsEnvironment> {
  const dir = join(root.root, '.sealed-runner/ecs');
  await mkdir(dir, { recursive: true });
  // Keys must exist before the task definitions that name them, so the
  // fake starts with definitions filled in once the keys are known.
  const taskDefinitions: Parameters<
    typeof FakeAws.start
  >[0]['taskDefinitions'] = [];
  const fake = await FakeAws.start({
    workDir: join(dir, 'tasks'),
    cluster: ECS_CLUSTER,
    taskDefinitions,
    buckets: [ARTIFACTS_BUCKET],
    provisioningDelayMs: options.provisioningDelayMs ?? 200,
    stopTimeoutMs: 10_000,
    // As real ECS: a RunTask caller may override the task role. The
    // dispatcher never does (the tests check its overrides); the runner
    // refuses to run a job under the wrong role.
    acceptRoleOverrides: true,
  });
  const signingKey = fake.createSigningKey('alias/sealed-runner-jobs');
  const artifactsKey = fake.createEncryptionKey(
    'alias/sealed-runner-artifacts',
  );

  // Each task definition's runner serves exactly one environment, with
  // that environment's roles (deploy/terraform does the same).
  const runnerConfig = (environment: Environment): RunnerConfigInput => ({
    repositories: [
      root.demo.infrastructureLiveUrl,
      root.demo.serviceCatalogUrl,
    ],
    environments: {
      [environment]: { applyBranches: [...ENVIRONMENTS[environment]] },
    },
    // A Fargate task's disk dies with it: everything that must outlive the
    // task is in the bucket. Terraform state is the exception here — real
    // targets declare a remote backend; the demo's local state lives in a
    // directory the fake's tasks share, like a mounted volume.
    workDir: join(dir, 'work'),
    planDir: join(dir, 'unused-plans'),
    seenJobsDir: join(dir, 'unused-seen-jobs'),
    stateDir: join(dir, 'state'),
    providerMirrorDir: join(dir, 'provider-mirror'),
    terraformPath: '/usr/local/bin/terraform',
    jobPublicKey: signingKey.publicKeyPem,
    jobLifetimeSeconds: 300,
    timeoutSeconds: 600,
    taskRoles: { [environment]: TASK_ROLES[environment] },
    // The fake's tasks share one machine, so they keep the bubblewrap
    // sandbox (a Fargate task is its own machine and uses `uid`).
    sandbox: { type: 'bwrap' },
    artifacts: {
      bucket: ARTIFACTS_BUCKET,
      kmsKeyId: artifactsKey.keyArn,
      region: fake.region,
      endpoint: fake.endpoint,
    },
  });
  for (const environment of Object.keys(ENVIRONMENTS) as Environment[]) {
    for (const operation of ['plan', 'apply'] as const) {
      taskDefinitions.push({
        family: TASK_FAMILIES[environment][operation],
        taskRoleArn: TASK_ROLES[environment][operation],
        containerName: 'runner',
        command: [process.execPath, RUNNER_ENTRY_POINT],
        environment: {
          SEALED_RUNNER_CONFIG: JSON.stringify(runnerConfig(environment)),
        },
        logGroup: LOG_GROUP,
        logStreamPrefix: 'runner',
      });
    }
  }

  return {
    fake,
    backendConfig: {
      aws: { mainAccount: fake.credentials },
      sealedRunner: {
        jobSigning: {
          kms: {
            keyId: 'alias/sealed-runner-jobs',
            region: fake.region,
            endpoint: fake.endpoint,
          },
        },
        runner: {
          type: 'ecs',
          heartbeatTimeoutSeconds: 3,
          reconcileIntervalSeconds: 1,
          ecs: {
            region: fake.region,
            cluster: ECS_CLUSTER,
            taskDefinitions: TASK_FAMILIES,
            subnets: ['subnet-0a1b2c3d'],
            securityGroups: ['sg-0a1b2c3d'],
            logGroup: LOG_GROUP,
            artifactsBucket: ARTIFACTS_BUCKET,
            artifactsKmsKeyId: artifactsKey.keyArn,
            endpoint: fake.endpoint,
            startAttempts: 3,
            startBackoffMs: 100,
            logGraceSeconds: 5,
            ...options.ecs,
          },
        },
      },
    },
    stop: () => fake.stop(),
  };
}
