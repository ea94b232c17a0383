import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeTasksCommand,
  ECSClient,
  RunTaskCommand,
  StopTaskCommand,
  Task,
} from '@aws-sdk/client-ecs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsCredentialProvider } from '@backstage/integration-aws-node';
import { LoggerService } from '@backstage/backend-plugin-api';
import { JsonObject } from '@backstage/types';
import {
  SealedRunnerJob,
  sleep,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  DispatchPoll,
  RunDispatcher,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  assembleFrames,
  PendingFrames,
  RUNNER_JOB_KEY_ENV,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { z } from 'zod';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/** @public */
export type EcsRunnerOptions = NonNullable<SealedRunnerConfig['runner']['ecs']>;

const handleSchema = z.strictObject({
  type: z.literal('ecs'),
  taskArn: z.string().startsWith('arn:'),
  logStream: z.string().min(1),
});

type EcsHandle = z.infer<typeof handleSchema>;

const cursorSchema = z.strictObject({
  /** CloudWatch's nextForwardToken. */
  token: z.string().optional(),
  /** The result line has been read: nothing more will come. */
  result: z.boolean().optional(),
  /** When the task was first seen stopped (ms), for the log grace period. */
  stoppedSeenAt: z.number().optional(),
  /** When DescribeTasks first answered MISSING for the task (ms). */
  missingSince: z.number().optional(),
  pending: z
    .strictObject({
      id: z.number(),
      parts: z.number(),
      data: z.array(z.string()),
    })
    .optional(),
});

type EcsCursor = z.infer<typeof cursorSchema>;

/** Fargate's own words for why a task stopped, made readable. */
function stopDetail(task: Task): string {
  const container = task.containers?.[0];
  const parts = [
    task.stopCode === 'SpotInterruption'
      ? 'the Fargate Spot capacity was reclaimed'
      : undefined,
    task.stopCode === 'TaskFailedToStart'
      ? 'the task failed to start'
      : undefined,
    task.stoppedReason,
    container?.reason,
    container?.exitCode !== undefined
      ? `exit code ${container.exitCode}`
      : undefined,
    task.stopCode ? `stop code ${task.stopCode}` : undefined,
  ].filter(Boolean);
  return `ECS task ${task.taskArn?.split('/').pop()}: ${parts.join('; ')}`;
}

/**
 * Errors worth another RunTask: the request was refused before a task
 * could start (throttling, capacity) or ECS failed (5xx). A client error —
 * a wrong task definition, a denied role — fails the run at once.
 */
function isRetryable(error: unknown): boolean {
  const e = error as { $retryable?: unknown; $fault?: string; name?: string };
  return (
    Boolean(e.$retryable) ||
    e.$fault === 'server' ||
    /Throttl|RequestLimitExceeded|TooManyRequests/.test(e.name ?? '')
  );
}

/** Throttled or refused: certainly no task started, so a new idempotency token is safe. */
function certainlyNotStarted(error: unknown): boolean {
  return (error as { $fault?: string }).$fault === 'client';
}

/** The task definition of a job's environment and operation; never another environment's. */
function taskDefinitionFor(
  config: EcsRunnerOptions,
  job: SealedRunnerJob,
): string {
  const definitions = config.taskDefinitions[job.environment];
  if (!definitions) {
    throw new Error(
      `sealedRunner.runner.ecs.taskDefinitions has no task definitions for ${job.environment}`,
    );
  }
  return definitions[job.operation];
}

const RESULT_LINE = /^\{"type":"result"/;

/**
 * ECS is eventually consistent: DescribeTasks may answer MISSING for a task
 * RunTask has just started. Only a task missing this long is lost.
 */
const MISSING_GRACE_MS = 60_000;

/**
 * The sealed runner as an ECS Fargate task. The backend may only start the
 * planner or applier task definition on one cluster, read the task's log
 * stream, and stop it (see deploy/terraform): the job travels as a signed
 * document in the artifacts bucket, named by the one environment override.
 */
export class EcsDispatcher implements RunDispatcher {
  private readonly ecs: ECSClient;
  private readonly ecsStart: ECSClient;
  private readonly logs: CloudWatchLogsClient;
  private readonly s3: S3Client;

  constructor(
    private readonly options: {
      config: EcsRunnerOptions;
      credentials?: AwsCredentialProvider['sdkCredentialProvider'];
      logger: LoggerService;
      /** For tests: the backoff's random source and sleep. */
      random?: () => number;
      sleep?: (ms: number) => Promise<void>;
    },
  ) {
    const { region, endpoint } = options.config;
    const common = {
      region,
      credentials: options.credentials,
      ...(endpoint ? { endpoint } : {}),
    };
    // RunTask is retried here, with our own bound and idempotency tokens;
    // the other calls keep the SDK's standard retries.
    this.ecsStart = new ECSClient({ ...common, maxAttempts: 1 });
    this.ecs = new ECSClient(common);
    this.logs = new CloudWatchLogsClient(common);
    this.s3 = new S3Client({
      ...common,
      ...(endpoint ? { forcePathStyle: true } : {}),
    });
  }

  async dispatch(job: SealedRunnerJob, document: string): Promise<JsonObject> {
    // Before anything is written: an environment without its own task
    // definitions never borrows another's.
    taskDefinitionFor(this.options.config, job);
    const { config } = this.options;
    const jobKey = `jobs/${job.environment}/${job.runId}.json`;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: config.artifactsBucket,
        Key: jobKey,
        Body: document,
        ContentType: 'application/json',
        // A run's job is written once: nothing replaces a job a task may be reading.
        IfNoneMatch: '*',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: config.artifactsKmsKeyId,
      }),
    );
    const task = await this.runTask(job, jobKey);
    const taskId = task.taskArn!.split('/').pop()!;
    const handle: EcsHandle = {
      type: 'ecs',
      taskArn: task.taskArn!,
      logStream: `${config.logStreamPrefix}/${config.containerName}/${taskId}`,
    };
    return handle;
  }

  /** RunTask with jittered exponential backoff, within `startAttempts`. */
  private async runTask(job: SealedRunnerJob, jobKey: string): Promise<Task> {
    const { config, logger } = this.options;
    const random = this.options.random ?? Math.random;
    const wait = this.options.sleep ?? sleep;
    // Same token after an ambiguous failure (a 5xx may have started the
    // task: ECS then returns that task instead of a second one); a new one
    // once ECS has said for certain that nothing started.
    let token = 0;
    let lastReason = '';
    for (let attempt = 1; attempt <= config.startAttempts; attempt++) {
      if (attempt > 1) {
        // Full jitter: spreads replicas and runs that hit the same limit.
        const ceiling = config.startBackoffMs * 2 ** (attempt - 2);
        await wait(Math.round(random() * ceiling));
      }
      try {
        const response = await this.ecsStart.send(
          new RunTaskCommand({
            cluster: config.cluster,
            // One identity per environment: each environment's planner and
            // applier are task definitions (and roles) of their own.
            taskDefinition: taskDefinitionFor(config, job),
            launchType: 'FARGATE',
            count: 1,
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: config.subnets,
                securityGroups:
                  config.securityGroups.length > 0
                    ? config.securityGroups
                    : undefined,
                assignPublicIp: config.assignPublicIp ? 'ENABLED' : 'DISABLED',
              },
            },
            overrides: {
              containerOverrides: [
                {
                  name: config.containerName,
                  environment: [{ name: RUNNER_JOB_KEY_ENV, value: jobKey }],
                },
              ],
            },
            enableExecuteCommand: false,
            startedBy: `sealed-runner/${job.runId}`,
            tags: [
              { key: 'sealed-runner.io/run-id', value: job.runId },
              { key: 'sealed-runner.io/operation', value: job.operation },
              { key: 'sealed-runner.io/environment', value: job.environment },
            ],
            clientToken: `${job.runId.replace(/-/g, '')}-${token}`,
          }),
        );
        const task = response.tasks?.[0];
        if (task?.taskArn) {
          return task;
        }
        lastReason =
          (response.failures ?? [])
            .map(f => [f.reason, f.detail].filter(Boolean).join(': '))
            .join('; ') || 'RunTask started no task';
        token++;
      } catch (error) {
        if (!isRetryable(error)) {
          throw new Error(
            `ECS refused to start the runner: ${(error as Error).name}: ${
              (error as Error).message
            }`,
          );
        }
        lastReason = `${(error as Error).name}: ${(error as Error).message}`;
        if (certainlyNotStarted(error)) {
          token++;
        }
      }
      logger.warn(
        `RunTask for run ${job.runId} failed (attempt ${attempt} of ${config.startAttempts}): ${lastReason}`,
      );
    }
    throw new Error(
      `ECS could not start the runner after ${config.startAttempts} attempts: ${lastReason}`,
    );
  }

  async poll(
    rawHandle: JsonObject,
    rawCursor: string | undefined,
  ): Promise<DispatchPoll> {
    const handle = handleSchema.parse(rawHandle);
    const cursor: EcsCursor = rawCursor
      ? cursorSchema.parse(JSON.parse(rawCursor))
      : {};
    const { config } = this.options;

    // The task's state first: if it had stopped, the logs read next are as
    // complete as CloudWatch has them.
    const described = await this.ecs.send(
      new DescribeTasksCommand({
        cluster: config.cluster,
        tasks: [handle.taskArn],
      }),
    );
    const task = described.tasks?.[0];

    let raw: string[] = [];
    let token = cursor.token;
    try {
      const events = await this.logs.send(
        new GetLogEventsCommand({
          logGroupName: config.logGroup,
          logStreamName: handle.logStream,
          nextToken: cursor.token,
          startFromHead: true,
        }),
      );
      raw = (events.events ?? []).map(e => e.message ?? '');
      token = events.nextForwardToken ?? token;
    } catch (error) {
      // The stream appears with the task's first line.
      if (!(error instanceof ResourceNotFoundException)) {
        throw error;
      }
    }
    const assembled = assembleFrames(
      raw,
      cursor.pending as PendingFrames | undefined,
    );
    const next: EcsCursor = {
      token,
      result:
        cursor.result || assembled.lines.some(line => RESULT_LINE.test(line)),
      stoppedSeenAt: cursor.stoppedSeenAt,
      pending: assembled.pending,
    };

    if (!task) {
      // Not yet visible, or forgotten by ECS (stopped tasks are kept for
      // about an hour): the logs are all there is.
      next.missingSince = cursor.missingSince ?? Date.now();
      return Date.now() - next.missingSince < MISSING_GRACE_MS
        ? this.finishPoll(assembled.lines, next, 'running')
        : this.finishPoll(
            assembled.lines,
            next,
            'lost',
            `ECS does not know task ${handle.taskArn}`,
          );
    }
    if (task.lastStatus !== 'STOPPED') {
      return this.finishPoll(assembled.lines, next, 'running');
    }
    // Stopped. CloudWatch may still deliver the last lines: keep reading
    // until the result arrives, or the grace period passes in silence.
    next.stoppedSeenAt ??= Date.now();
    const waiting =
      !next.result &&
      (raw.length > 0 ||
        Date.now() - next.stoppedSeenAt < config.logGraceSeconds * 1000);
    return this.finishPoll(
      assembled.lines,
      next,
      waiting ? 'running' : 'exited',
      stopDetail(task),
    );
  }

  private finishPoll(
    lines: string[],
    cursor: EcsCursor,
    state: DispatchPoll['state'],
    detail?: string,
  ): DispatchPoll {
    return {
      lines,
      cursor: JSON.stringify(cursor),
      state,
      ...(state !== 'running' && detail ? { detail } : {}),
    };
  }

  async cancel(rawHandle: JsonObject): Promise<void> {
    const handle = handleSchema.parse(rawHandle);
    // ECS sends SIGTERM, which the runner turns into a graceful Terraform
    // interrupt, then SIGKILL after the task definition's stopTimeout.
    await this.ecs.send(
      new StopTaskCommand({
        cluster: this.options.config.cluster,
        task: handle.taskArn,
        reason: 'Cancelled in Sealed Runner',
      }),
    );
  }

  async release(): Promise<void> {
    // Nothing to free: the task is gone, its log stream expires with the
    // group's retention (the backend keeps its own copy of every line),
    // and the job document with the bucket's lifecycle rule.
  }
}
