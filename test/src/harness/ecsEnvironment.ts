import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNNER_ENTRY_POINT, RunnerConfigInput } from '@sealed-runner/runner';
import { FakeAws } from './fakeAws';
import { IsolatedRoot } from './isolatedRoot';

export const ECS_CLUSTER = 'sealed-runner';
export const PLANNER_ROLE = 'arn:aws:iam::123456789012:role/sealed-runner-planner';
export const APPLIER_ROLE = 'arn:aws:iam::123456789012:role/sealed-runner-applier';
/** The task definition families, as deploy/terraform names them. */
export const TASK_FAMILIES = { plan: 'sealed-runner-plan', apply: 'sealed-runner-apply' } as const;
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
  const taskDefinitions: Parameters<typeof FakeAws.start>[0]['taskDefinitions'] = [];
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
  const artifactsKey = fake.createEncryptionKey('alias/sealed-runner-artifacts');

  const runnerConfig = (applyBranches: Record<string, string[]>): RunnerConfigInput => ({
    repositories: [root.demo.infrastructureLiveUrl, root.demo.serviceCatalogUrl],
    environments: Object.fromEntries(
      Object.entries(applyBranches).map(([env, branches]) => [env, { applyBranches: branches }]),
    ),
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
    taskRoles: { plan: PLANNER_ROLE, apply: APPLIER_ROLE },
    artifacts: {
      bucket: ARTIFACTS_BUCKET,
      kmsKeyId: artifactsKey.keyArn,
      region: fake.region,
      endpoint: fake.endpoint,
    },
  });
  const environments = { dev: ['*'], prod: ['main'] };
  for (const operation of ['plan', 'apply'] as const) {
    taskDefinitions.push({
      family: TASK_FAMILIES[operation],
      taskRoleArn: operation === 'plan' ? PLANNER_ROLE : APPLIER_ROLE,
      containerName: 'runner',
      command: [process.execPath, RUNNER_ENTRY_POINT],
      environment: { SEALED_RUNNER_CONFIG: JSON.stringify(runnerConfig(environments)) },
      logGroup: LOG_GROUP,
      logStreamPrefix: 'runner',
    });
  }

  return {
    fake,
    backendConfig: {
      aws: { mainAccount: fake.credentials },
      sealedRunner: {
        jobSigning: {
          kms: { keyId: 'alias/sealed-runner-jobs', region: fake.region, endpoint: fake.endpoint },
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
