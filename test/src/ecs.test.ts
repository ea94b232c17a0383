import {
  BackendProcess,
  createIsolatedRoot,
  GateClient,
  IsolatedRoot,
  isStatus,
  pushSlowBranch,
} from './index';
import { randomUUID } from 'node:crypto';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import {
  ARTIFACTS_BUCKET,
  ECS_CLUSTER,
  EcsEnvironment,
  TASK_ROLES,
  startEcsEnvironment,
  TASK_FAMILIES,
} from './harness/ecsEnvironment';

jest.setTimeout(240_000);

const PAYMENTS = 'component:default/payments';

/**
 * The sealed runner as an ECS Fargate task, end to end: the real backend
 * with `runner.type: ecs` and KMS job signing, the real AWS SDK clients,
 * and a local server speaking ECS, CloudWatch Logs, S3 and KMS whose tasks
 * are real runner processes.
 */
describe('the ECS runner, end to end', () => {
  let root: IsolatedRoot;
  let aws: EcsEnvironment;
  let backend: BackendProcess;
  let erin: GateClient;
  let pat: GateClient;

  const calls = (operation: string) =>
    aws.fake.calls.filter(c => c.operation === operation);

  beforeAll(async () => {
    root = await createIsolatedRoot();
    aws = await startEcsEnvironment(root);
    backend = await BackendProcess.start({
      root,
      config: aws.backendConfig,
      name: 'ecs',
    });
    erin = await GateClient.as(backend.baseUrl, 'guest');
    pat = await GateClient.as(backend.baseUrl, 'demo-approver');
    await erin.waitForTargets(PAYMENTS);
  });

  afterEach(() => aws.fake.clearFaults());

  afterAll(async () => {
    await backend?.stop();
    await aws?.stop();
    await root?.cleanup();
  });

  /** Plans payments/dev on a branch and waits for the run to end. */
  async function planDev(ref?: string) {
    const { status, body } = await erin.plan(PAYMENTS, 'dev', ref);
    expect(status).toBe(202);
    return erin.waitForRun(body.run.id);
  }

  describe('the demo flow', () => {
    let devPlanId: string;
    let prodPlanId: string;

    it('plans dev in a planner task, with only the job key as override', async () => {
      const before = calls('RunTask').length;
      const run = await planDev();
      expect(run.status).toBe('succeeded');
      expect(run.plan).toEqual({ add: 1, change: 0, destroy: 0 });
      expect(await erin.logs(run.id)).toContain(
        'Plan: 1 to add, 0 to change, 0 to destroy.',
      );
      expect(calls('RunTask')).toHaveLength(before + 1);

      const task = aws.fake
        .tasks()
        .find(t => t.startedBy === `sealed-runner/${run.id}`)!;
      expect(task.family).toBe(TASK_FAMILIES.dev.plan);
      expect(task.overrides).toEqual({
        containerOverrides: [
          {
            name: 'runner',
            environment: [
              {
                name: 'SEALED_RUNNER_JOB_KEY',
                value: `jobs/dev/${run.id}.json`,
              },
            ],
          },
        ],
      });
      expect(task.tags).toEqual(
        expect.arrayContaining([
          { key: 'sealed-runner.io/run-id', value: run.id },
        ]),
      );
      // The signed job and the plan are in the bucket, encrypted with KMS.
      const job = aws.fake.object(ARTIFACTS_BUCKET, `jobs/dev/${run.id}.json`)!;
      expect(job.sse).toBe('aws:kms');
      expect(JSON.parse(JSON.parse(job.body.toString()).payload).runId).toBe(
        run.id,
      );
      expect(
        aws.fake.object(ARTIFACTS_BUCKET, `plans/dev/${run.id}.tfplan`)?.sse,
      ).toBe('aws:kms');
      expect(
        aws.fake.object(ARTIFACTS_BUCKET, `seen-jobs/dev/${run.id}`),
      ).toBeDefined();
      // Every job was signed in KMS.
      expect(calls('Sign').length).toBeGreaterThanOrEqual(1);
      devPlanId = run.id;
    });

    it('applies dev in an applier task from the plan saved in S3', async () => {
      const { status, body } = await erin.request(
        'POST',
        `/runs/${devPlanId}/apply`,
      );
      expect(status).toBe(202);
      const run = await erin.waitForRun(body.run.id);
      expect(run.status).toBe('succeeded');
      expect(await erin.logs(run.id)).toContain(
        'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.',
      );
      expect(
        aws.fake.tasks().find(t => t.startedBy === `sealed-runner/${run.id}`)
          ?.family,
      ).toBe(TASK_FAMILIES.dev.apply);
    });

    it('plans prod; Pat approves; Erin applies it', async () => {
      const { body } = await erin.plan(PAYMENTS, 'prod');
      const plan = await erin.waitForRun(body.run.id);
      // The whole run on failure: its error says why.
      expect(plan).toMatchObject({ status: 'succeeded' });
      prodPlanId = plan.id;
      expect(
        (await erin.request('POST', `/runs/${prodPlanId}/apply`)).status,
      ).toBe(409);
      expect(
        (await pat.request('POST', `/runs/${prodPlanId}/approve`)).status,
      ).toBe(200);
      const applied = await erin.request('POST', `/runs/${prodPlanId}/apply`);
      expect(applied.status).toBe(202);
      const run = await erin.waitForRun(applied.body.run.id);
      expect(run).toMatchObject({ status: 'succeeded' });
      expect(await erin.logs(run.id)).toContain(
        'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.',
      );
    });
  });

  describe('a compromised backend', () => {
    /** A fresh job of `environment`, signed in KMS exactly as the gate signs it, left where the task reads it. */
    async function signedJobLike(
      runId: string,
      environment: 'dev' | 'prod',
      operation: 'plan' | 'apply' = 'plan',
    ) {
      const previous = aws.fake
        .tasks()
        .find(t => t.family === TASK_FAMILIES[environment].plan)!;
      const key = (previous.overrides as any).containerOverrides[0]
        .environment[0].value as string;
      const { payload } = JSON.parse(
        aws.fake.object(ARTIFACTS_BUCKET, key)!.body.toString(),
      );
      const job = {
        ...JSON.parse(payload),
        runId,
        issuedAt: new Date().toISOString(),
      };
      if (operation === 'apply') {
        // Refused before it is read, so the plan it names does not matter.
        Object.assign(job, {
          operation,
          plan: { runId: randomUUID(), sha256: '0'.repeat(64) },
        });
      }
      const newPayload = JSON.stringify(job);
      const kms = new KMSClient({
        endpoint: aws.fake.endpoint,
        region: aws.fake.region,
        credentials: aws.fake.credentials,
      });
      const { Signature } = await kms.send(
        new SignCommand({
          KeyId: 'alias/sealed-runner-jobs',
          Message: jobSigningMessage(newPayload),
          MessageType: 'RAW',
          SigningAlgorithm: 'ED25519_SHA_512',
        }),
      );
      const jobKey = `jobs/${environment}/${runId}.json`;
      aws.fake.putObject(
        ARTIFACTS_BUCKET,
        jobKey,
        JSON.stringify({
          payload: newPayload,
          signature: Buffer.from(Signature!).toString('base64'),
        }),
      );
      return jobKey;
    }

    /** Starts a task as a compromised backend could, and returns its events once it stopped. */
    async function runTaskAs(
      taskDefinition: string,
      jobKey: string,
      taskRoleArn?: string,
    ) {
      const ecs = new ECSClient({
        endpoint: aws.fake.endpoint,
        region: aws.fake.region,
        credentials: aws.fake.credentials,
      });
      const { tasks } = await ecs.send(
        new RunTaskCommand({
          cluster: ECS_CLUSTER,
          taskDefinition,
          launchType: 'FARGATE',
          networkConfiguration: {
            awsvpcConfiguration: { subnets: ['subnet-0a1b2c3d'] },
          },
          overrides: {
            ...(taskRoleArn ? { taskRoleArn } : {}),
            containerOverrides: [
              {
                name: 'runner',
                environment: [{ name: 'SEALED_RUNNER_JOB_KEY', value: jobKey }],
              },
            ],
          },
        }),
      );
      const taskArn = tasks![0].taskArn!;
      for (
        let i = 0;
        i < 300 && aws.fake.task(taskArn)?.lastStatus !== 'STOPPED';
        i++
      ) {
        await new Promise(r => setTimeout(r, 100));
      }
      const task = aws.fake.task(taskArn)!;
      const events = aws.fake
        .logEvents(task.logGroup, task.logStream)!
        .map(e => JSON.parse(e.message));
      return { task, events };
    }

    it('cannot run a plan job with the applier role by overriding the task role at RunTask', async () => {
      const jobKey = await signedJobLike(randomUUID(), 'prod');
      const { task, events } = await runTaskAs(
        TASK_FAMILIES.prod.plan,
        jobKey,
        TASK_ROLES.prod.apply,
      );
      expect(task.taskRoleArn).toBe(TASK_ROLES.prod.apply);
      expect(task.exitCode).toBe(2);
      expect(events.find(e => e.type === 'result')).toEqual({
        type: 'result',
        status: 'rejected',
        error: `a plan job of prod runs only with the role ${TASK_ROLES.prod.plan}, but this task holds ${TASK_ROLES.prod.apply} (was the task role overridden at RunTask, or the task started for another environment?)`,
      });
      // Refused before any git or Terraform command.
      expect(events.filter(e => e.type === 'phase')).toEqual([]);
    });

    it("cannot apply prod with dev's applier: neither by starting dev's task definition nor by overriding the role", async () => {
      const jobKey = await signedJobLike(randomUUID(), 'prod', 'apply');
      const devTask = await runTaskAs(TASK_FAMILIES.dev.apply, jobKey);
      expect(devTask.task.exitCode).toBe(2);
      expect(devTask.events.find(e => e.type === 'result')).toEqual({
        type: 'result',
        status: 'rejected',
        error: `${jobKey} is a job of prod, which this runner does not serve`,
      });
      const overridden = await runTaskAs(
        TASK_FAMILIES.prod.apply,
        jobKey,
        TASK_ROLES.dev.apply,
      );
      expect(overridden.task.exitCode).toBe(2);
      expect(overridden.events.find(e => e.type === 'result')).toEqual({
        type: 'result',
        status: 'rejected',
        error: `an apply job of prod runs only with the role ${TASK_ROLES.prod.apply}, but this task holds ${TASK_ROLES.dev.apply} (was the task role overridden at RunTask, or the task started for another environment?)`,
      });
      expect(
        [...devTask.events, ...overridden.events].filter(
          e => e.type === 'phase',
        ),
      ).toEqual([]);
    });
  });

  describe('faults', () => {
    it('retries a throttled RunTask and a 500, then runs', async () => {
      aws.fake.inject({ type: 'throttle', operation: 'RunTask', times: 1 });
      aws.fake.inject({ type: 'serverError', operation: 'RunTask', times: 1 });
      const before = calls('RunTask').length;
      const run = await planDev();
      expect(run.status).toBe('succeeded');
      expect(
        calls('RunTask')
          .slice(before)
          .map(c => c.status),
      ).toEqual([400, 500, 200]);
    });

    it('retries a capacity failure, then runs', async () => {
      aws.fake.inject({ type: 'capacity', times: 2 });
      const run = await planDev();
      expect(run.status).toBe('succeeded');
    });

    it('fails the run with the reason when capacity never comes, and frees the target', async () => {
      aws.fake.inject({ type: 'capacity', times: 3 });
      const run = await planDev();
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/after 3 attempts: Capacity is unavailable/);
      const next = await planDev();
      expect(next.status).toBe('succeeded');
    });

    it('fails a task that stops before starting with ECS’s reason', async () => {
      aws.fake.inject({ type: 'failToStart' });
      const run = await planDev();
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(
        /task failed to start.*CannotPullContainerError/,
      );
      expect((await planDev()).status).toBe('succeeded');
    });

    it('fails a task that dies mid-run (Spot interruption), keeping the lines it wrote', async () => {
      aws.fake.inject({
        type: 'dieMidRun',
        afterLines: 8,
        stopCode: 'SpotInterruption',
      });
      const run = await planDev();
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/Fargate Spot capacity was reclaimed/);
      expect(run.error).toMatch(/exit code 137/);
      expect((await erin.logs(run.id)).length).toBeGreaterThan(0);
      expect((await planDev()).status).toBe('succeeded');
    });

    it('does not mistake a task ECS does not describe yet for a lost one', async () => {
      aws.fake.inject({ type: 'describeLag', ms: 3000 });
      const before = aws.fake.calls.filter(
        c => c.operation === 'DescribeTasks',
      ).length;
      const run = await planDev();
      expect(run.status).toBe('succeeded');
      expect(
        aws.fake.calls.filter(c => c.operation === 'DescribeTasks').length -
          before,
      ).toBeGreaterThan(3);
    });

    it('waits for log events CloudWatch delivers after the task stopped', async () => {
      aws.fake.inject({ type: 'delayLogs', ms: 2500 });
      const run = await planDev();
      expect(run.status).toBe('succeeded');
      expect(run.plan).toEqual({ add: 0, change: 0, destroy: 0 });
      expect(
        (await erin.logs(run.id)).some(line => line.startsWith('No changes.')),
      ).toBe(true);
    });

    it('cancels with StopTask', async () => {
      await pushSlowBranch(root, 'slow-cancel', 2000);
      const { body } = await erin.plan(PAYMENTS, 'dev', 'slow-cancel');
      await erin.waitForRun(body.run.id, isStatus('running'));
      const before = calls('StopTask').length;
      expect(
        (await erin.request('POST', `/runs/${body.run.id}/cancel`)).status,
      ).toBe(200);
      const run = await erin.waitForRun(body.run.id);
      expect(run.status).toBe('cancelled');
      expect(calls('StopTask').length).toBe(before + 1);
    });

    it('carries a result longer than a CloudWatch event, and re-attaches by task ARN after a restart', async () => {
      await pushSlowBranch(root, 'slow-restart', 2000);
      const { body } = await erin.plan(PAYMENTS, 'dev', 'slow-restart');
      await erin.waitForRun(body.run.id, isStatus('running'));
      await backend.stop('SIGKILL');
      backend = await BackendProcess.start({
        root,
        config: aws.backendConfig,
        name: 'ecs-restarted',
      });
      erin = await GateClient.as(backend.baseUrl, 'guest');
      pat = await GateClient.as(backend.baseUrl, 'demo-approver');
      const run = await erin.waitForRun(body.run.id);
      expect(run.status).toBe('succeeded');
      expect(run.plan?.add).toBe(2000);
      expect(
        run.changes!.filter(change => change.actions.includes('create')),
      ).toHaveLength(2000);
      const logs = await erin.logs(run.id);
      expect(
        logs.filter(line => line.includes('Plan: 2000 to add')),
      ).toHaveLength(1);
    });
  });
});
