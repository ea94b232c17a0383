import {
  ClientException,
  ClusterNotFoundException,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  RunTaskCommand,
  RunTaskCommandInput,
  ServerException,
  StopTaskCommand,
  Task,
} from '@aws-sdk/client-ecs';
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  GetLogEventsCommandOutput,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchBucket,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  GetPublicKeyCommand,
  InvalidKeyUsageException,
  KMSClient,
  KMSInternalException,
  NotFoundException,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FakeAws, FakeTaskDefinition } from './index';

jest.setTimeout(60_000);

const CLUSTER = 'sealed-runner';
const BUCKET = 'sealed-runner-artifacts';
const LOG_GROUP = '/ecs/sealed-runner';
const SUBNETS = {
  awsvpcConfiguration: {
    subnets: ['subnet-0abc'],
    assignPublicIp: 'DISABLED' as const,
  },
};

/** A task definition whose container runs `node -e script`. */
function nodeTask(
  family: string,
  script: string,
  environment: Record<string, string> = {},
): FakeTaskDefinition {
  return {
    family,
    containerName: 'runner',
    command: [process.execPath, '-e', script],
    environment,
    logGroup: LOG_GROUP,
    logStreamPrefix: 'sealed-runner',
  };
}

const TASKS: FakeTaskDefinition[] = [
  nodeTask(
    'echo',
    `
    console.log('first line');
    console.log('greeting=' + process.env.GREETING);
    console.error('a line on stderr');
    console.log('env=' + JSON.stringify(Object.keys(process.env).sort()));
    console.log('stdin bytes=' + require('fs').readFileSync(0).length);
    console.log('cwd is home=' + (process.cwd() === process.env.HOME));
    setTimeout(() => { process.stdout.write('partial last line'); process.exitCode = 3; }, 1000);
    `,
    { SEALED_RUNNER_CONFIG: '{"mode":"test"}' },
  ),
  nodeTask(
    'counter',
    `let i = 0; const t = setInterval(() => { console.log('line ' + ++i); if (i === 50) clearInterval(t); }, 20);`,
  ),
  nodeTask(
    'stubborn',
    `process.on('SIGTERM', () => console.log('SIGTERM ignored')); console.log('ready'); setInterval(() => {}, 1000);`,
  ),
  nodeTask('quick', `console.log('done')`),
  nodeTask(
    'chatty',
    `for (let i = 0; i < 6; i++) console.log('a'.repeat(200000)); console.log('b'.repeat(600000));`,
  ),
  nodeTask(
    'uploader',
    `
    const { S3Client, PutObjectCommand } = require(process.env.S3_CLIENT);
    const s3 = new S3Client({ endpoint: process.env.FAKE_ENDPOINT, forcePathStyle: true });
    s3.send(new PutObjectCommand({
      Bucket: '${BUCKET}', Key: 'from-task.txt', Body: 'written by the task',
      ServerSideEncryption: 'aws:kms', SSEKMSKeyId: process.env.KMS_KEY,
    })).then(() => console.log('uploaded'), e => { console.error(e.name + ': ' + e.message); process.exitCode = 1; });
    `,
    { S3_CLIENT: require.resolve('@aws-sdk/client-s3') },
  ),
];

function runRequest(
  family: string,
  extra: Partial<RunTaskCommandInput> = {},
): RunTaskCommandInput {
  return {
    cluster: CLUSTER,
    taskDefinition: family,
    launchType: 'FARGATE',
    networkConfiguration: SUBNETS,
    ...extra,
  };
}

async function describe1(ecs: ECSClient, taskArn: string): Promise<Task> {
  const { tasks } = await ecs.send(
    new DescribeTasksCommand({
      cluster: CLUSTER,
      tasks: [taskArn],
      include: ['TAGS'],
    }),
  );
  return tasks![0];
}

/** Polls DescribeTasks until the task reaches `status`; returns every lastStatus seen. */
async function waitForStatus(
  ecs: ECSClient,
  taskArn: string,
  status: string,
): Promise<{ task: Task; seen: string[] }> {
  const seen: string[] = [];
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const task = await describe1(ecs, taskArn);
    if (seen[seen.length - 1] !== task.lastStatus) seen.push(task.lastStatus!);
    if (task.lastStatus === status) return { task, seen };
    await new Promise(r => setTimeout(r, 20));
  }
  throw new Error(
    `task ${taskArn} never reached ${status}; saw ${seen.join(' → ')}`,
  );
}

/** Reads a stream from its head, page by page, as a poller would: until the token stops changing. */
async function readLog(
  logs: CloudWatchLogsClient,
  stream: string,
  limit?: number,
) {
  const pages: GetLogEventsCommandOutput[] = [];
  let nextToken: string | undefined;
  for (;;) {
    const page = await logs.send(
      new GetLogEventsCommand({
        logGroupName: LOG_GROUP,
        logStreamName: stream,
        startFromHead: true,
        nextToken,
        limit,
      }),
    );
    pages.push(page);
    if (page.nextForwardToken === nextToken) break;
    nextToken = page.nextForwardToken;
  }
  return {
    pages,
    messages: pages.flatMap(p => p.events!.map(e => e.message!)),
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    if (condition()) return;
    await new Promise(r => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The name and HTTP status of what a promise rejects with. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status?: number; message: string; error: unknown }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return {
      name: e.name,
      status: e.$metadata?.httpStatusCode,
      message: e.message,
      error,
    };
  }
  throw new Error('expected the call to fail');
}

describe('FakeAws', () => {
  let workDir: string;
  let aws: FakeAws;
  let ecs: ECSClient;
  let logs: CloudWatchLogsClient;
  let s3: S3Client;
  let kms: KMSClient;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'fake-aws-'));
    aws = await FakeAws.start({
      workDir,
      cluster: CLUSTER,
      taskDefinitions: TASKS,
      buckets: [BUCKET],
    });
    const config = {
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: aws.credentials,
      maxAttempts: 1,
    };
    ecs = new ECSClient(config);
    logs = new CloudWatchLogsClient(config);
    s3 = new S3Client({ ...config, forcePathStyle: true });
    kms = new KMSClient(config);
  });

  afterAll(async () => {
    for (const client of [ecs, logs, s3, kms]) client?.destroy();
    await aws?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  afterEach(() => aws.clearFaults());

  describe('ECS tasks are real processes', () => {
    it('runs the command with only the container environment, and logs its lines in order', async () => {
      process.env.FAKE_AWS_CANARY = 'must not leak into tasks';
      try {
        const run = await ecs.send(
          new RunTaskCommand(
            runRequest('echo', {
              overrides: {
                containerOverrides: [
                  {
                    name: 'runner',
                    environment: [
                      { name: 'GREETING', value: 'hello from the override' },
                    ],
                  },
                ],
              },
              startedBy: 'sealed-runner/run-1',
              tags: [{ key: 'run', value: '1' }],
            }),
          ),
        );
        expect(run.failures).toEqual([]);
        const started = run.tasks![0];
        expect(started.taskArn).toMatch(
          new RegExp(
            `^arn:aws:ecs:us-east-1:123456789012:task/${CLUSTER}/[0-9a-f]{32}$`,
          ),
        );
        expect(started.taskDefinitionArn).toBe(
          'arn:aws:ecs:us-east-1:123456789012:task-definition/echo:1',
        );
        expect(started.lastStatus).toBe('PROVISIONING');
        expect(started.desiredStatus).toBe('RUNNING');
        // JSON 1.1 timestamps are epoch seconds on the wire; the SDK gives Dates.
        expect(started.createdAt).toBeInstanceOf(Date);

        const { task, seen } = await waitForStatus(
          ecs,
          started.taskArn!,
          'STOPPED',
        );
        expect(seen).toContain('RUNNING');
        expect(seen.indexOf('RUNNING')).toBeLessThan(seen.indexOf('STOPPED'));
        expect(task).toMatchObject({
          desiredStatus: 'STOPPED',
          stopCode: 'EssentialContainerExited',
          stoppedReason: 'Essential container in task exited',
          startedBy: 'sealed-runner/run-1',
          tags: [{ key: 'run', value: '1' }],
          containers: [{ name: 'runner', lastStatus: 'STOPPED', exitCode: 3 }],
        });
        expect(task.startedAt!.getTime()).toBeGreaterThanOrEqual(
          task.createdAt!.getTime(),
        );
        expect(task.stoppedAt!.getTime()).toBeGreaterThan(
          task.startedAt!.getTime(),
        );

        const taskId = started.taskArn!.split('/').pop()!;
        const stream = `sealed-runner/runner/${taskId}`;
        expect(aws.task(taskId)!.logStream).toBe(stream);
        const { pages, messages } = await readLog(logs, stream, 2);
        const stdout = messages.filter(m => m !== 'a line on stderr');
        const env = [
          'AWS_CONTAINER_CREDENTIALS_FULL_URI',
          'AWS_DEFAULT_REGION',
          'AWS_EXECUTION_ENV',
          'AWS_REGION',
          'ECS_CONTAINER_METADATA_URI_V4',
          'GREETING',
          'HOME',
          'HOSTNAME',
          'PATH',
          'SEALED_RUNNER_CONFIG',
        ];
        expect(stdout).toEqual([
          'first line',
          'greeting=hello from the override',
          `env=${JSON.stringify(env)}`,
          'stdin bytes=0',
          'cwd is home=true',
          'partial last line',
        ]);
        expect(messages).toContain('a line on stderr');
        expect(aws.task(taskId)!.env).toMatchObject({
          AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
          AWS_REGION: 'us-east-1',
          PATH: '/usr/local/bin:/usr/bin:/bin',
          AWS_CONTAINER_CREDENTIALS_FULL_URI:
            aws.containerCredentialsUri(taskId),
        });
        expect(aws.task(taskId)!.env.FAKE_AWS_CANARY).toBeUndefined();

        // The task metadata endpoint (v4) the agent points the task at.
        const metadata = await fetch(
          `${aws.task(taskId)!.env.ECS_CONTAINER_METADATA_URI_V4}/task`,
        );
        expect(await metadata.json()).toMatchObject({
          Cluster: `arn:aws:ecs:us-east-1:123456789012:cluster/${CLUSTER}`,
          TaskARN: started.taskArn,
          Family: 'echo',
          Containers: [{ Name: 'runner' }],
        });

        // Paging: 7 events, 2 per page, then the end answers the same token.
        expect(pages.map(p => p.events!.length)).toEqual([2, 2, 2, 1, 0]);
        expect(pages[0]).toMatchObject({
          nextBackwardToken: 'b/0',
          nextForwardToken: 'f/2',
        });
        expect(pages[4].nextForwardToken).toBe(pages[3].nextForwardToken);
        expect(pages[0].events![0]).toEqual({
          timestamp: expect.any(Number),
          ingestionTime: expect.any(Number),
          message: 'first line',
        });

        // Without startFromHead CloudWatch answers from the end of the stream.
        const tail = await logs.send(
          new GetLogEventsCommand({
            logGroupName: LOG_GROUP,
            logStreamName: stream,
            limit: 1,
          }),
        );
        expect(tail.events!.map(e => e.message)).toEqual(['partial last line']);
        const before = await logs.send(
          new GetLogEventsCommand({
            logGroupName: LOG_GROUP,
            logStreamName: stream,
            limit: 2,
            nextToken: tail.nextBackwardToken,
          }),
        );
        expect(before.events!.map(e => e.message)).toEqual(
          messages.slice(4, 6),
        );
      } finally {
        delete process.env.FAKE_AWS_CANARY;
      }
    });

    it('answers a retried RunTask with the same clientToken with the same task, starting one process', async () => {
      const request = runRequest('quick', { clientToken: 'job-0001' });
      const before = aws.tasks().length;
      const first = await ecs.send(new RunTaskCommand(request));
      const second = await ecs.send(new RunTaskCommand(request));
      expect(second.tasks![0].taskArn).toBe(first.tasks![0].taskArn);
      expect(aws.tasks()).toHaveLength(before + 1);
      await waitForStatus(ecs, first.tasks![0].taskArn!, 'STOPPED');
    });

    it.each([
      [
        'a command override',
        {
          overrides: {
            containerOverrides: [
              { name: 'runner', command: ['sh', '-c', 'id'] },
            ],
          },
        },
        InvalidParameterException,
        /command is refused/,
      ],
      [
        'an environmentFiles override',
        {
          overrides: {
            containerOverrides: [
              {
                name: 'runner',
                environmentFiles: [
                  { type: 's3' as const, value: 'arn:aws:s3:::b/x.env' },
                ],
              },
            ],
          },
        },
        InvalidParameterException,
        /environmentFiles is refused/,
      ],
      [
        'a taskRoleArn override',
        { overrides: { taskRoleArn: 'arn:aws:iam::123456789012:role/admin' } },
        InvalidParameterException,
        /taskRoleArn is refused/,
      ],
      [
        'an override for another container',
        {
          overrides: {
            containerOverrides: [{ name: 'sidecar', environment: [] }],
          },
        },
        InvalidParameterException,
        /not a container/,
      ],
      [
        '9 KiB of override environment',
        {
          overrides: {
            containerOverrides: [
              {
                name: 'runner',
                environment: [{ name: 'JOB', value: 'x'.repeat(9 * 1024) }],
              },
            ],
          },
        },
        InvalidParameterException,
        /^Container Overrides length must be at most 8192$/,
      ],
      [
        'another cluster',
        { cluster: 'default' },
        ClusterNotFoundException,
        /Cluster not found/,
      ],
      [
        'the EC2 launch type',
        { launchType: 'EC2' as const },
        InvalidParameterException,
        /FARGATE/,
      ],
      [
        'no subnets',
        { networkConfiguration: { awsvpcConfiguration: { subnets: [] } } },
        InvalidParameterException,
        /subnets can not be empty/,
      ],
      [
        'an unknown task definition',
        { taskDefinition: 'echo:7' },
        ClientException,
        /Unable to describe task definition/,
      ],
      [
        'a startedBy ECS would refuse',
        { startedBy: 'run:1' },
        InvalidParameterException,
        /startedBy/,
      ],
    ])(
      'refuses %s like ECS, with the SDK exception class',
      async (_, extra, exception, message) => {
        const before = aws.tasks().length;
        const refused = await failure(
          ecs.send(new RunTaskCommand(runRequest('echo', extra))),
        );
        expect(refused.error).toBeInstanceOf(exception);
        expect(refused.status).toBe(400);
        expect(refused.message).toMatch(message);
        expect(aws.tasks()).toHaveLength(before);
      },
    );

    it('names task definitions by family, family:revision and ARN', async () => {
      for (const taskDefinition of [
        'quick:1',
        'arn:aws:ecs:us-east-1:123456789012:task-definition/quick:1',
      ]) {
        const run = await ecs.send(
          new RunTaskCommand(runRequest('quick', { taskDefinition })),
        );
        expect(run.tasks![0].taskDefinitionArn).toBe(
          'arn:aws:ecs:us-east-1:123456789012:task-definition/quick:1',
        );
        await waitForStatus(ecs, run.tasks![0].taskArn!, 'STOPPED');
      }
    });

    it('reports unknown tasks as MISSING failures', async () => {
      const unknown = `arn:aws:ecs:us-east-1:123456789012:task/${CLUSTER}/${'0'.repeat(
        32,
      )}`;
      const answer = await ecs.send(
        new DescribeTasksCommand({ cluster: CLUSTER, tasks: [unknown] }),
      );
      expect(answer).toMatchObject({
        tasks: [],
        failures: [{ arn: unknown, reason: 'MISSING' }],
      });
    });

    it('pages GetLogEvents at 1 MB and splits lines over 256 KiB as the awslogs driver does', async () => {
      const { tasks } = await ecs.send(
        new RunTaskCommand(runRequest('chatty')),
      );
      const { task } = await waitForStatus(ecs, tasks![0].taskArn!, 'STOPPED');
      const { pages, messages } = await readLog(
        logs,
        aws.task(task.taskArn!)!.logStream,
      );
      // 26 bytes of overhead per event: five 200 kB events fit in 1 MB, six do not.
      expect(pages.map(p => p.events!.length)).toEqual([5, 4, 0]);
      expect(messages.map(m => m.length)).toEqual([
        ...Array(6).fill(200_000),
        262_118,
        262_118,
        75_764,
      ]);
    });

    it('serves the container credentials to the task, whose own SDK calls are signed with them', async () => {
      const key = aws.createEncryptionKey('alias/task-artifacts');
      const run = await ecs.send(
        new RunTaskCommand(
          runRequest('uploader', {
            overrides: {
              containerOverrides: [
                {
                  name: 'runner',
                  environment: [
                    { name: 'FAKE_ENDPOINT', value: aws.endpoint },
                    { name: 'KMS_KEY', value: 'alias/task-artifacts' },
                  ],
                },
              ],
            },
          }),
        ),
      );
      const { task } = await waitForStatus(
        ecs,
        run.tasks![0].taskArn!,
        'STOPPED',
      );
      const stream = aws.task(task.taskArn!)!.logStream;
      // On Node 20 the SDK also warns on stderr that it will need Node 22.
      const { messages } = await readLog(logs, stream);
      expect(messages).toContain('uploaded');
      expect(messages.filter(m => /Error|Exception/.test(m))).toEqual([]);
      expect(task.containers![0].exitCode).toBe(0);
      expect(aws.object(BUCKET, 'from-task.txt')).toMatchObject({
        body: Buffer.from('written by the task'),
        sse: 'aws:kms',
        kmsKeyId: key.keyArn,
      });
    });
  });

  describe('faults', () => {
    it('throttles: ThrottlingException with one attempt, success after two with the default retry', async () => {
      const { tasks } = await ecs.send(new RunTaskCommand(runRequest('quick')));
      const taskArn = tasks![0].taskArn!;

      aws.inject({ type: 'throttle', operation: 'DescribeTasks', times: 1 });
      const throttled = await failure(describe1(ecs, taskArn));
      expect(throttled).toMatchObject({
        name: 'ThrottlingException',
        status: 400,
      });

      const retrying = new ECSClient({
        endpoint: aws.endpoint,
        region: aws.region,
        credentials: aws.credentials,
      });
      try {
        aws.inject({ type: 'throttle', operation: 'DescribeTasks', times: 2 });
        const since = Date.now();
        const answer = await retrying.send(
          new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }),
        );
        expect(answer.tasks![0].taskArn).toBe(taskArn);
        const attempts = aws.calls.filter(
          c => c.operation === 'DescribeTasks' && c.at >= since,
        );
        expect(attempts.map(c => c.status)).toEqual([400, 400, 200]);
      } finally {
        retrying.destroy();
      }
      await waitForStatus(ecs, taskArn, 'STOPPED');
    });

    it('throttles S3 with 503 SlowDown', async () => {
      aws.inject({ type: 'throttle', operation: 'GetObject', times: 1 });
      const slow = await failure(
        s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'any' })),
      );
      expect(slow).toMatchObject({ name: 'SlowDown', status: 503 });
    });

    it("answers server errors with each service's 500", async () => {
      aws.inject({ type: 'serverError', operation: 'RunTask', times: 1 });
      const ecsError = await failure(
        ecs.send(new RunTaskCommand(runRequest('quick'))),
      );
      expect(ecsError.error).toBeInstanceOf(ServerException);
      expect(ecsError.status).toBe(500);

      const { keyId } = aws.createSigningKey();
      aws.inject({ type: 'serverError', operation: 'Sign', times: 1 });
      const kmsError = await failure(
        kms.send(
          new SignCommand({
            KeyId: keyId,
            Message: Buffer.from('x'),
            MessageType: 'RAW',
            SigningAlgorithm: 'ED25519_SHA_512',
          }),
        ),
      );
      expect(kmsError.error).toBeInstanceOf(KMSInternalException);

      aws.inject({ type: 'serverError', operation: 'PutObject', times: 1 });
      const s3Error = await failure(
        s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'x',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
          }),
        ),
      );
      expect(s3Error).toMatchObject({ name: 'InternalError', status: 500 });
    });

    it('answers a RunTask without capacity with failures[] and no task', async () => {
      aws.inject({ type: 'capacity', times: 1 });
      const before = aws.tasks().length;
      const answer = await ecs.send(new RunTaskCommand(runRequest('quick')));
      expect(answer.tasks).toEqual([]);
      expect(answer.failures).toEqual([
        {
          reason:
            'Capacity is unavailable at this time. Please try again later or in a different availability zone',
        },
      ]);
      expect(aws.tasks()).toHaveLength(before);
    });

    it('fails a task to start: STOPPED with TaskFailedToStart, no process, no log stream', async () => {
      aws.inject({ type: 'failToStart' });
      const { tasks } = await ecs.send(new RunTaskCommand(runRequest('echo')));
      const { task } = await waitForStatus(ecs, tasks![0].taskArn!, 'STOPPED');
      expect(task.stopCode).toBe('TaskFailedToStart');
      expect(task.stoppedReason).toMatch(
        /^CannotPullContainerError: pull image manifest has been retried 5 time\(s\)/,
      );
      expect(task.containers![0].exitCode).toBeUndefined();
      expect(aws.task(task.taskArn!)!.pid).toBeUndefined();
      const missing = await failure(
        logs.send(
          new GetLogEventsCommand({
            logGroupName: LOG_GROUP,
            logStreamName: aws.task(task.taskArn!)!.logStream,
          }),
        ),
      );
      expect(missing.error).toBeInstanceOf(ResourceNotFoundException);
      expect(missing.message).toBe('The specified log stream does not exist.');
    });

    it('kills a task mid-run: a Spot interruption after 3 lines', async () => {
      aws.inject({
        type: 'dieMidRun',
        afterLines: 3,
        stopCode: 'SpotInterruption',
      });
      const { tasks } = await ecs.send(
        new RunTaskCommand(runRequest('counter')),
      );
      const { task } = await waitForStatus(ecs, tasks![0].taskArn!, 'STOPPED');
      expect(task).toMatchObject({
        stopCode: 'SpotInterruption',
        stoppedReason: 'Your Spot Task was interrupted.',
        containers: [{ exitCode: 137 }],
      });
      const { messages } = await readLog(
        logs,
        aws.task(task.taskArn!)!.logStream,
      );
      expect(messages).toEqual(['line 1', 'line 2', 'line 3']);
    });

    it('hides a new task from DescribeTasks for a while (describeLag), as ECS eventual consistency does', async () => {
      aws.inject({ type: 'describeLag', ms: 1000 });
      const { tasks } = await ecs.send(new RunTaskCommand(runRequest('quick')));
      const taskArn = tasks![0].taskArn!;
      const early = await ecs.send(
        new DescribeTasksCommand({ cluster: CLUSTER, tasks: [taskArn] }),
      );
      expect(early).toMatchObject({
        tasks: [],
        failures: [{ arn: taskArn, reason: 'MISSING' }],
      });
      await new Promise(r => setTimeout(r, 1100));
      await waitForStatus(ecs, taskArn, 'STOPPED');
    });

    it('delays log events as CloudWatch ingestion does', async () => {
      aws.inject({ type: 'delayLogs', ms: 1500 });
      const { tasks } = await ecs.send(
        new RunTaskCommand(runRequest('stubborn')),
      );
      const fake = aws.task(tasks![0].taskArn!)!;
      await until(
        () => (aws.logEvents(LOG_GROUP, fake.logStream) ?? []).length > 0,
        'the line to be written',
      );

      const early = await logs.send(
        new GetLogEventsCommand({
          logGroupName: LOG_GROUP,
          logStreamName: fake.logStream,
          startFromHead: true,
        }),
      );
      expect(early.events).toEqual([]);
      expect(early.nextForwardToken).toBe('f/0');

      await new Promise(r => setTimeout(r, 1600));
      const later = await logs.send(
        new GetLogEventsCommand({
          logGroupName: LOG_GROUP,
          logStreamName: fake.logStream,
          nextToken: early.nextForwardToken,
        }),
      );
      expect(later.events!.map(e => e.message)).toEqual(['ready']);
      expect(
        later.events![0].ingestionTime! - later.events![0].timestamp!,
      ).toBe(1500);
      await ecs.send(
        new StopTaskCommand({ cluster: CLUSTER, task: fake.taskArn }),
      );
    });
  });

  describe('CloudWatch Logs errors', () => {
    it('refuses unknown groups and streams, and malformed tokens', async () => {
      const noGroup = await failure(
        logs.send(
          new GetLogEventsCommand({
            logGroupName: '/nope',
            logStreamName: 's',
          }),
        ),
      );
      expect(noGroup.error).toBeInstanceOf(ResourceNotFoundException);
      const noStream = await failure(
        logs.send(
          new GetLogEventsCommand({
            logGroupName: LOG_GROUP,
            logStreamName: 's',
          }),
        ),
      );
      expect(noStream.message).toBe('The specified log stream does not exist.');

      const { tasks } = await ecs.send(new RunTaskCommand(runRequest('quick')));
      const { task } = await waitForStatus(ecs, tasks![0].taskArn!, 'STOPPED');
      const badToken = await failure(
        logs.send(
          new GetLogEventsCommand({
            logGroupName: LOG_GROUP,
            logStreamName: aws.task(task.taskArn!)!.logStream,
            nextToken: 'garbage',
          }),
        ),
      );
      expect(badToken).toMatchObject({
        name: 'InvalidParameterException',
        status: 400,
      });
    });
  });

  describe('S3', () => {
    it('stores and returns an SSE-KMS object with its headers', async () => {
      const key = aws.createEncryptionKey('alias/artifacts');
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'jobs/one.json',
          Body: '{"job":1}',
          ContentType: 'application/json',
          Metadata: { run: 'one' },
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: 'alias/artifacts',
        }),
      );
      const md5 = createHash('md5').update('{"job":1}').digest('hex');
      expect(put).toMatchObject({
        ETag: `"${md5}"`,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: key.keyArn,
      });

      const got = await s3.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: 'jobs/one.json' }),
      );
      expect(await got.Body!.transformToString()).toBe('{"job":1}');
      expect(got).toMatchObject({
        ETag: `"${md5}"`,
        ContentLength: 9,
        ContentType: 'application/json',
        Metadata: { run: 'one' },
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: key.keyArn,
      });
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'jobs/one.json' }),
      );
      expect(head).toMatchObject({
        ContentLength: 9,
        ServerSideEncryption: 'aws:kms',
      });
      expect(aws.object(BUCKET, 'jobs/one.json')).toMatchObject({
        sse: 'aws:kms',
        kmsKeyId: key.keyArn,
        metadata: { run: 'one' },
      });

      await s3.send(
        new DeleteObjectCommand({ Bucket: BUCKET, Key: 'jobs/one.json' }),
      );
      expect(aws.object(BUCKET, 'jobs/one.json')).toBeUndefined();
    });

    it('refuses what the bucket policy and S3 refuse', async () => {
      const plain = await failure(
        s3.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: 'plain', Body: 'x' }),
        ),
      );
      expect(plain).toMatchObject({ name: 'AccessDenied', status: 403 });
      const aes = await failure(
        s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'plain',
            Body: 'x',
            ServerSideEncryption: 'AES256',
          }),
        ),
      );
      expect(aes).toMatchObject({ name: 'AccessDenied', status: 403 });
      const unknownKey = await failure(
        s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'k',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: 'alias/none',
          }),
        ),
      );
      expect(unknownKey).toMatchObject({
        name: 'KMS.NotFoundException',
        status: 400,
      });
      expect(aws.object(BUCKET, 'plain')).toBeUndefined();

      aws.putObject(BUCKET, 'jobs/taken.json', 'first');
      const taken = await failure(
        s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'jobs/taken.json',
            Body: 'second',
            IfNoneMatch: '*',
            ServerSideEncryption: 'aws:kms',
          }),
        ),
      );
      expect(taken).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      expect(aws.object(BUCKET, 'jobs/taken.json')!.body.toString()).toBe(
        'first',
      );

      const badChecksum = await failure(
        s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: 'k',
            Body: 'x',
            ChecksumCRC32: 'AAAAAA==',
            ServerSideEncryption: 'aws:kms',
          }),
        ),
      );
      expect(badChecksum).toMatchObject({ name: 'BadDigest', status: 400 });

      expect(
        (
          await failure(
            s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'nope' })),
          )
        ).error,
      ).toBeInstanceOf(NoSuchKey);
      expect(
        (
          await failure(
            s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'nope' })),
          )
        ).error,
      ).toBeInstanceOf(NotFound);
      expect(
        (
          await failure(
            s3.send(new GetObjectCommand({ Bucket: 'other', Key: 'x' })),
          )
        ).error,
      ).toBeInstanceOf(NoSuchBucket);
    });

    it.each([
      ['a Buffer (x-amz-checksum-crc32 header)', (data: Buffer) => data],
      [
        'a stream (aws-chunked with a CRC32 trailer)',
        (data: Buffer) =>
          Readable.from([data.subarray(0, 300_000), data.subarray(300_000)]),
      ],
    ])(
      'round-trips 1 MiB sent as %s, with the default checksums',
      async (_, body) => {
        const data = randomBytes(1024 * 1024);
        const key = `big/${randomBytes(4).toString('hex')}`;
        await s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: key,
            Body: body(data),
            ContentLength: data.length,
            ServerSideEncryption: 'aws:kms',
          }),
        );
        expect(aws.object(BUCKET, key)!.body.equals(data)).toBe(true);
        // The SDK asks for the stored checksum and verifies the body against it.
        const got = await s3.send(
          new GetObjectCommand({ Bucket: BUCKET, Key: key }),
        );
        expect(got.ChecksumCRC32).toEqual(expect.any(String));
        expect(
          Buffer.from(await got.Body!.transformToByteArray()).equals(data),
        ).toBe(true);
      },
    );
  });

  describe('KMS', () => {
    it('signs with Ed25519; the GetPublicKey key verifies the signature', async () => {
      const { keyId, keyArn, publicKeyPem } =
        aws.createSigningKey('alias/job-signing');
      const message = Buffer.from('{"job":"plan payments/dev"}');
      const signed = await kms.send(
        new SignCommand({
          KeyId: 'alias/job-signing',
          Message: message,
          MessageType: 'RAW',
          SigningAlgorithm: 'ED25519_SHA_512',
        }),
      );
      expect(signed).toMatchObject({
        KeyId: keyArn,
        SigningAlgorithm: 'ED25519_SHA_512',
      });

      const publicKey = await kms.send(
        new GetPublicKeyCommand({ KeyId: keyId }),
      );
      expect(publicKey).toMatchObject({
        KeySpec: 'ECC_NIST_EDWARDS25519',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
      });
      const key = createPublicKey({
        key: Buffer.from(publicKey.PublicKey!),
        format: 'der',
        type: 'spki',
      });
      expect(key.export({ type: 'spki', format: 'pem' })).toBe(publicKeyPem);
      expect(verify(null, message, key, Buffer.from(signed.Signature!))).toBe(
        true,
      );
      expect(
        verify(
          null,
          Buffer.from('altered'),
          key,
          Buffer.from(signed.Signature!),
        ),
      ).toBe(false);

      const verified = await kms.send(
        new VerifyCommand({
          KeyId: keyArn,
          Message: message,
          Signature: signed.Signature,
          SigningAlgorithm: 'ED25519_SHA_512',
        }),
      );
      expect(verified.SignatureValid).toBe(true);
    });

    it('refuses oversized messages, unknown keys and the wrong algorithm', async () => {
      const { keyId } = aws.createSigningKey();
      const sign = (
        input: Partial<ConstructorParameters<typeof SignCommand>[0]>,
      ) =>
        failure(
          kms.send(
            new SignCommand({
              KeyId: keyId,
              Message: Buffer.from('m'),
              SigningAlgorithm: 'ED25519_SHA_512',
              ...input,
            }),
          ),
        );
      expect(await sign({ Message: Buffer.alloc(4097) })).toMatchObject({
        name: 'ValidationException',
        status: 400,
      });
      expect((await sign({ KeyId: 'alias/none' })).error).toBeInstanceOf(
        NotFoundException,
      );
      expect(
        (await sign({ SigningAlgorithm: 'ECDSA_SHA_256' })).error,
      ).toBeInstanceOf(InvalidKeyUsageException);
      expect(
        (await sign({ KeyId: aws.createEncryptionKey().keyId })).error,
      ).toBeInstanceOf(InvalidKeyUsageException);
    });
  });

  describe('authentication', () => {
    it('refuses unsigned requests with 403 in each wire shape', async () => {
      const ecsAnswer = await fetch(aws.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeTasks',
        },
        body: JSON.stringify({ cluster: CLUSTER, tasks: ['x'] }),
      });
      expect(ecsAnswer.status).toBe(403);
      expect(await ecsAnswer.json()).toMatchObject({
        __type: 'MissingAuthenticationTokenException',
      });

      const s3Answer = await fetch(`${aws.endpoint}/${BUCKET}/anything`);
      expect(s3Answer.status).toBe(403);
      expect(await s3Answer.text()).toContain('<Code>AccessDenied</Code>');
      expect(aws.calls.slice(-2).map(c => [c.service, c.status])).toEqual([
        ['ecs', 403],
        ['s3', 403],
      ]);
    });

    it('refuses another access key, a wrong secret, another region and a session token it did not issue', async () => {
      const client = (
        credentials: {
          accessKeyId: string;
          secretAccessKey: string;
          sessionToken?: string;
        },
        region = aws.region,
      ) =>
        new ECSClient({
          endpoint: aws.endpoint,
          region,
          credentials,
          maxAttempts: 1,
        });
      const attempts = [
        [
          client({
            accessKeyId: 'AKIAOTHER',
            secretAccessKey: aws.credentials.secretAccessKey,
          }),
          'UnrecognizedClientException',
        ],
        [
          client({ ...aws.credentials, secretAccessKey: 'wrong' }),
          'InvalidSignatureException',
        ],
        [client(aws.credentials, 'eu-west-1'), 'InvalidSignatureException'],
        [
          client({ ...aws.credentials, sessionToken: 'not-issued' }),
          'UnrecognizedClientException',
        ],
      ] as const;
      for (const [other, name] of attempts) {
        const refused = await failure(
          other.send(
            new DescribeTasksCommand({ cluster: CLUSTER, tasks: ['x'] }),
          ),
        );
        expect(refused).toMatchObject({ name, status: 403 });
        other.destroy();
      }
      const otherS3 = new S3Client({
        endpoint: aws.endpoint,
        region: aws.region,
        credentials: { ...aws.credentials, secretAccessKey: 'wrong' },
        forcePathStyle: true,
        maxAttempts: 1,
      });
      const refused = await failure(
        otherS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'x' })),
      );
      expect(refused).toMatchObject({
        name: 'SignatureDoesNotMatch',
        status: 403,
      });
      otherS3.destroy();
    });
  });
});

describe('FakeAws StopTask and stop()', () => {
  let workDir: string;
  let aws: FakeAws;
  let ecs: ECSClient;
  let logs: CloudWatchLogsClient;

  beforeEach(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'fake-aws-stop-'));
    aws = await FakeAws.start({
      workDir,
      cluster: CLUSTER,
      taskDefinitions: TASKS,
      buckets: [],
      stopTimeoutMs: 700,
    });
    const config = {
      endpoint: aws.endpoint,
      region: aws.region,
      credentials: aws.credentials,
      maxAttempts: 1,
    };
    ecs = new ECSClient(config);
    logs = new CloudWatchLogsClient(config);
  });

  afterEach(async () => {
    ecs.destroy();
    logs.destroy();
    await aws.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('sends SIGTERM, then SIGKILL after the stop timeout', async () => {
    const { tasks } = await ecs.send(
      new RunTaskCommand(runRequest('stubborn')),
    );
    const fake = aws.task(tasks![0].taskArn!)!;
    await until(
      () => (aws.logEvents(LOG_GROUP, fake.logStream) ?? []).length > 0,
      'the task to be ready',
    );

    const { task: stopping } = await ecs.send(
      new StopTaskCommand({
        cluster: CLUSTER,
        task: fake.taskArn,
        reason: 'Cancelled by erin',
      }),
    );
    expect(stopping).toMatchObject({
      lastStatus: 'RUNNING',
      desiredStatus: 'STOPPED',
    });
    const { task } = await waitForStatus(ecs, fake.taskArn, 'STOPPED');
    expect(task).toMatchObject({
      stopCode: 'UserInitiated',
      stoppedReason: 'Cancelled by erin',
      containers: [{ exitCode: 137 }],
    });
    expect(
      task.stoppedAt!.getTime() - task.stoppingAt!.getTime(),
    ).toBeGreaterThanOrEqual(650);
    const { messages } = await readLog(logs, fake.logStream);
    expect(messages).toEqual(['ready', 'SIGTERM ignored']);
    expect(isGone(aws.task(fake.taskArn)!.pid!)).toBe(true);
  });

  it('stops a task still provisioning without starting it', async () => {
    const { tasks } = await ecs.send(
      new RunTaskCommand(runRequest('stubborn')),
    );
    await ecs.send(
      new StopTaskCommand({ cluster: CLUSTER, task: tasks![0].taskArn }),
    );
    const { task } = await waitForStatus(ecs, tasks![0].taskArn!, 'STOPPED');
    expect(task.stopCode).toBe('UserInitiated');
    await new Promise(r => setTimeout(r, 100));
    expect(aws.task(task.taskArn!)!.pid).toBeUndefined();
  });

  it('stop() kills running tasks and closes the server', async () => {
    const { tasks } = await ecs.send(
      new RunTaskCommand(runRequest('stubborn')),
    );
    await waitForStatus(ecs, tasks![0].taskArn!, 'RUNNING');
    const { pid } = aws.task(tasks![0].taskArn!)!;
    await aws.stop();
    expect(isGone(pid!)).toBe(true);
    await expect(fetch(aws.endpoint)).rejects.toThrow();
  });
});
