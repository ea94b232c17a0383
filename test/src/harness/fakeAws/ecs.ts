import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerExit, ContainerProcess } from './container';
import { FaultPlan, TaskFault } from './faults';
import { LogStore } from './logs';
import { AwsError, JsonOperations, WireInput } from './protocol';

/**
 * A Fargate task definition the fake can run: one essential container whose
 * command is a real process on this machine.
 *
 * @public
 */
export interface FakeTaskDefinition {
  /** Family name; RunTask may name it as `family`, `family:revision` or a full task-definition ARN. */
  family: string;
  /** The revision RunTask finds (default 1). */
  revision?: number;
  /** The essential container's name, e.g. `runner`. */
  containerName: string;
  /** argv; `[0]` is the executable, e.g. `[process.execPath, RUNNER_ENTRY_POINT]`. */
  command: string[];
  /** The container definition's environment (e.g. `SEALED_RUNNER_CONFIG`). */
  environment: Record<string, string>;
  /** `awslogs-group`. */
  logGroup: string;
  /** `awslogs-stream-prefix`; a task's stream is `${prefix}/${containerName}/${taskId}`. */
  logStreamPrefix: string;
  /** The process's working directory (default: a fresh directory per task under `workDir`). */
  cwd?: string;
  /** The task role; the credentials endpoint reports it as `RoleArn`. */
  taskRoleArn?: string;
}

/**
 * A task as the fake knows it; `FakeAws.tasks()` returns copies.
 *
 * @public
 */
export interface FakeTask {
  taskArn: string;
  /** The 32-hex-digit id at the end of the ARN. */
  taskId: string;
  family: string;
  /** PROVISIONING, PENDING, RUNNING, then STOPPED. */
  lastStatus: string;
  desiredStatus: string;
  startedBy?: string;
  tags: { key: string; value: string }[];
  /** `overrides` as RunTask sent it. */
  overrides: unknown;
  /** The role the task runs with: its definition's, or an accepted override. */
  taskRoleArn?: string;
  networkConfiguration: unknown;
  /** The process's whole environment. */
  env: Record<string, string>;
  exitCode?: number;
  stopCode?: string;
  stoppedReason?: string;
  /** The container process's pid (also its process group id), once started. */
  pid?: number;
  createdAt: Date;
  startedAt?: Date;
  stoppedAt?: Date;
  /** Where the awslogs driver writes the container's output. */
  logGroup: string;
  logStream: string;
}

/** Fargate's answer when it has no capacity for the task. */
const CAPACITY_UNAVAILABLE =
  'Capacity is unavailable at this time. Please try again later or in a different availability zone';
const DEFAULT_PULL_FAILURE =
  'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/sealed-runner:latest: not found';
const STOP_REASONS: Record<string, string> = {
  EssentialContainerExited: 'Essential container in task exited',
  SpotInterruption: 'Your Spot Task was interrupted.',
  TerminationNotice:
    'Task stopped because the underlying host received a termination notice.',
};
/** ECS's limit on the JSON of `overrides.containerOverrides`. */
const MAX_CONTAINER_OVERRIDES_CHARS = 8192;
/** ECS's documented alphabet for `startedBy`. */
const STARTED_BY = /^[A-Za-z0-9_/-]{1,128}$/;

function invalidParameter(message: string): AwsError {
  return new AwsError(400, 'InvalidParameterException', message);
}

interface TaskRecord extends Omit<FakeTask, 'env' | 'tags'> {
  env: Record<string, string>;
  tags: { key: string; value: string }[];
  definition: FakeTaskDefinition;
  taskDefinitionArn: string;
  containerStatus: string;
  containerReason?: string;
  stoppingAt?: Date;
  /** ECS bumps a task's version on every change of state. */
  version: number;
  /** When DescribeTasks starts to see the task (the describeLag fault). */
  describableAt: number;
  fault?: TaskFault;
  process?: ContainerProcess;
  timers: Set<NodeJS.Timeout>;
}

export interface FakeEcsOptions {
  region: string;
  accountId: string;
  cluster: string;
  taskDefinitions: FakeTaskDefinition[];
  workDir: string;
  stopTimeoutMs: number;
  provisioningDelayMs: number;
  logs: LogStore;
  faults: FaultPlan;
  /** The URIs the ECS agent hands a task: its role's credentials and its metadata. */
  containerUris(taskId: string): { credentials: string; metadata: string };
  /** Accept `overrides.taskRoleArn`/`executionRoleArn`, as real ECS does. */
  acceptRoleOverrides: boolean;
}

/** ECS on Fargate, one cluster: RunTask, DescribeTasks, StopTask over real processes. */
export class FakeEcs {
  private readonly records = new Map<string, TaskRecord>();
  private readonly clientTokens = new Map<string, string>();
  private readonly clusterArn: string;

  constructor(private readonly options: FakeEcsOptions) {
    this.clusterArn = `arn:aws:ecs:${options.region}:${options.accountId}:cluster/${options.cluster}`;
    for (const definition of options.taskDefinitions) {
      options.logs.createGroup(definition.logGroup);
    }
  }

  readonly operations: JsonOperations = {
    RunTask: input => this.runTask(input),
    DescribeTasks: input => this.describeTasks(input),
    StopTask: input => this.stopTask(input),
  };

  tasks(): FakeTask[] {
    return [...this.records.values()].map(snapshot);
  }

  task(arnOrId: string): FakeTask | undefined {
    const record = this.find(arnOrId);
    return record && snapshot(record);
  }

  /** The task metadata endpoint (v4): the container's document, or the task's at `/task`. */
  metadata(taskId: string, path: string): unknown {
    const record = this.records.get(taskId);
    if (!record) return undefined;
    const container = {
      DockerId: `${record.taskId}-${record.definition.containerName}`,
      Name: record.definition.containerName,
      DesiredStatus: record.desiredStatus,
      KnownStatus: record.containerStatus,
      Type: 'NORMAL',
      LogDriver: 'awslogs',
      LogOptions: {
        'awslogs-group': record.logGroup,
        'awslogs-region': this.options.region,
        'awslogs-stream': record.logStream,
      },
      Labels: {
        'com.amazonaws.ecs.cluster': this.clusterArn,
        'com.amazonaws.ecs.container-name': record.definition.containerName,
        'com.amazonaws.ecs.task-arn': record.taskArn,
        'com.amazonaws.ecs.task-definition-family': record.family,
        'com.amazonaws.ecs.task-definition-version': String(
          record.definition.revision ?? 1,
        ),
      },
    };
    if (path === '') return container;
    if (path === '/task') {
      return {
        Cluster: this.clusterArn,
        TaskARN: record.taskArn,
        Family: record.family,
        Revision: String(record.definition.revision ?? 1),
        DesiredStatus: record.desiredStatus,
        KnownStatus: record.lastStatus,
        LaunchType: 'FARGATE',
        AvailabilityZone: `${this.options.region}a`,
        Containers: [container],
      };
    }
    return undefined;
  }

  /** Kills every task's processes and waits for them (FakeAws.stop). */
  async shutdown(): Promise<void> {
    const running: Promise<void>[] = [];
    for (const record of this.records.values()) {
      this.clearTimers(record);
      if (record.process) {
        record.process.signal('SIGKILL');
        running.push(record.process.finished);
      }
    }
    await Promise.all(running);
  }

  // --- RunTask ---------------------------------------------------------------

  private runTask(input: WireInput) {
    this.cluster(input);
    const count = input.number('count') ?? 1;
    if (count !== 1) {
      throw invalidParameter(
        `The fake runs one task per RunTask; count must be 1 (got ${count}).`,
      );
    }
    const launchType = input.string('launchType');
    if (launchType !== 'FARGATE') {
      throw invalidParameter(
        `launchType must be FARGATE (got ${
          launchType ?? 'none'
        }): the cluster has no container instances.`,
      );
    }
    const subnets = input
      .object('networkConfiguration')
      ?.object('awsvpcConfiguration')
      ?.array('subnets');
    if (!subnets) {
      throw invalidParameter(
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
      );
    }
    if (subnets.length === 0) {
      throw invalidParameter('subnets can not be empty.');
    }
    const definition = this.taskDefinition(
      input.requiredString('taskDefinition'),
    );
    const overrideEnvironment = this.containerOverrides(input, definition);
    const startedBy = input.string('startedBy');
    if (startedBy !== undefined && !STARTED_BY.test(startedBy)) {
      throw invalidParameter(
        'startedBy: up to 128 letters (uppercase and lowercase), numbers, hyphens (-), forward slash (/), and underscores (_) are allowed.',
      );
    }
    const tags = this.tags(input);
    const clientToken = input.string('clientToken');
    if (
      clientToken !== undefined &&
      (clientToken.length === 0 || clientToken.length > 64)
    ) {
      throw invalidParameter('clientToken must be 1 to 64 ASCII characters.');
    }

    // A retry with the same clientToken returns the task the first call
    // started, and starts nothing. The SDK fills clientToken with a fresh
    // UUID per command (an idempotency-token member) and keeps it across
    // its own retries; a dispatcher that retries by sending a new command
    // must pass its own token to get the same protection.
    const known = clientToken && this.clientTokens.get(clientToken);
    if (known) {
      return {
        tasks: [this.describe(this.records.get(known)!, true)],
        failures: [],
      };
    }
    if (this.options.faults.takeCapacityFailure()) {
      return { tasks: [], failures: [{ reason: CAPACITY_UNAVAILABLE }] };
    }

    const record = this.createTask(definition, {
      startedBy,
      tags,
      overrides: input.raw('overrides') ?? { containerOverrides: [] },
      networkConfiguration: input.raw('networkConfiguration'),
      overrideEnvironment,
      taskRoleArn:
        input.object('overrides')?.string('taskRoleArn') ??
        definition.taskRoleArn,
    });
    if (clientToken) this.clientTokens.set(clientToken, record.taskId);
    return { tasks: [this.describe(record, true)], failures: [] };
  }

  private cluster(input: WireInput): void {
    // ECS uses the cluster named "default" when the request names none.
    const cluster = input.string('cluster') ?? 'default';
    if (cluster !== this.options.cluster && cluster !== this.clusterArn) {
      throw new AwsError(400, 'ClusterNotFoundException', 'Cluster not found.');
    }
  }

  private taskDefinition(reference: string): FakeTaskDefinition {
    let [family, revision]: (string | undefined)[] = reference.split(':');
    const arn =
      /^arn:aws:ecs:([^:]+):(\d{12}):task-definition\/([^:]+):(\d+)$/.exec(
        reference,
      );
    if (arn) {
      const here =
        arn[1] === this.options.region && arn[2] === this.options.accountId;
      [family, revision] = here ? [arn[3], arn[4]] : [];
    }
    const definition = this.options.taskDefinitions.find(
      d =>
        d.family === family &&
        (revision === undefined || Number(revision) === (d.revision ?? 1)),
    );
    if (!definition) {
      throw new AwsError(
        400,
        'ClientException',
        'Unable to describe task definition.',
      );
    }
    return definition;
  }

  /**
   * The override environment, after ECS's 8 KiB limit. Beyond ECS, the fake
   * refuses every override but the container's environment: the sealed
   * runner's command, resources and roles are fixed by its task definition,
   * and a dispatcher that tried to change them is a bug these tests catch.
   */
  private containerOverrides(
    input: WireInput,
    definition: FakeTaskDefinition,
  ): Record<string, string> {
    const overrides = input.object('overrides');
    if (!overrides) return {};
    for (const role of ['taskRoleArn', 'executionRoleArn']) {
      if (overrides.has(role) && !this.options.acceptRoleOverrides) {
        throw invalidParameter(
          `overrides.${role} is refused: the runner's roles are fixed by its task definition.`,
        );
      }
    }
    const containerOverrides = overrides.array('containerOverrides') ?? [];
    if (
      JSON.stringify(containerOverrides).length > MAX_CONTAINER_OVERRIDES_CHARS
    ) {
      throw invalidParameter(
        `Container Overrides length must be at most ${MAX_CONTAINER_OVERRIDES_CHARS}`,
      );
    }
    const environment: Record<string, string> = {};
    for (const entry of containerOverrides) {
      const override = overrides.wrap(entry, 'containerOverrides');
      const name = override.string('name');
      if (name !== definition.containerName) {
        throw invalidParameter(
          `Override for container named ${name} is not a container in the TaskDefinition.`,
        );
      }
      for (const key of Object.keys(override.value)) {
        if (key !== 'name' && key !== 'environment' && override.has(key)) {
          throw invalidParameter(
            `containerOverrides.${key} is refused: the runner's command, resources and environment files are fixed by its task definition.`,
          );
        }
      }
      for (const variable of override.array('environment') ?? []) {
        const pair = override.wrap(variable, 'environment');
        environment[pair.requiredString('name')] = pair.string('value') ?? '';
      }
    }
    return environment;
  }

  private tags(input: WireInput): { key: string; value: string }[] {
    const tags = (input.array('tags') ?? []).map(tag => {
      const pair = input.wrap(tag, 'tags');
      return {
        key: pair.requiredString('key'),
        value: pair.string('value') ?? '',
      };
    });
    if (tags.length > 50) {
      throw invalidParameter('A resource can have at most 50 tags.');
    }
    for (const { key, value } of tags) {
      if (key.length > 128 || value.length > 256) {
        throw invalidParameter(
          `Tag ${key}: keys are at most 128 characters, values at most 256.`,
        );
      }
      if (key.toLowerCase().startsWith('aws:')) {
        throw invalidParameter(
          `Tag keys with the aws: prefix are reserved (${key}).`,
        );
      }
    }
    return tags;
  }

  // --- A task's life -----------------------------------------------------------

  private createTask(
    definition: FakeTaskDefinition,
    request: {
      startedBy?: string;
      tags: { key: string; value: string }[];
      overrides: unknown;
      networkConfiguration: unknown;
      overrideEnvironment: Record<string, string>;
      taskRoleArn?: string;
    },
  ): TaskRecord {
    const { region, accountId, cluster } = this.options;
    const taskId = randomBytes(16).toString('hex');
    const cwd = definition.cwd ?? join(this.options.workDir, 'tasks', taskId);
    mkdirSync(cwd, { recursive: true });
    const uris = this.options.containerUris(taskId);
    this.options.logs.createGroup(definition.logGroup);
    const record: TaskRecord = {
      taskArn: `arn:aws:ecs:${region}:${accountId}:task/${cluster}/${taskId}`,
      taskId,
      family: definition.family,
      definition,
      taskRoleArn: request.taskRoleArn,
      taskDefinitionArn: `arn:aws:ecs:${region}:${accountId}:task-definition/${
        definition.family
      }:${definition.revision ?? 1}`,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      containerStatus: 'PENDING',
      startedBy: request.startedBy,
      tags: request.tags,
      overrides: request.overrides,
      networkConfiguration: request.networkConfiguration,
      // The image's defaults (PATH, HOME), then the container definition's
      // and the override's environment, then what the ECS agent sets: the
      // agent's variables win. Nothing of this process's environment.
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: cwd,
        HOSTNAME: hostname(taskId, region),
        ...definition.environment,
        ...request.overrideEnvironment,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
        ECS_CONTAINER_METADATA_URI_V4: uris.metadata,
        // Fargate sets AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
        // 169.254.170.2); the FULL_URI form reaches the fake on loopback,
        // which the SDK's container credential provider accepts over http.
        AWS_CONTAINER_CREDENTIALS_FULL_URI: uris.credentials,
      },
      createdAt: new Date(),
      logGroup: definition.logGroup,
      logStream: `${definition.logStreamPrefix}/${definition.containerName}/${taskId}`,
      version: 1,
      fault: this.options.faults.takeTaskFault(),
      describableAt: Date.now() + this.options.faults.describeLagMs,
      timers: new Set(),
    };
    this.records.set(taskId, record);

    const delay = this.options.provisioningDelayMs;
    this.after(record, delay / 2, () =>
      this.update(record, { lastStatus: 'PENDING' }),
    );
    this.after(record, delay, () => {
      if (record.fault?.type === 'failToStart') {
        this.stopped(record, {
          startError: record.fault.stoppedReason ?? DEFAULT_PULL_FAILURE,
        });
      } else {
        this.startContainer(record);
      }
    });
    return record;
  }

  private startContainer(record: TaskRecord): void {
    const { definition } = record;
    const dieMidRun =
      record.fault?.type === 'dieMidRun' ? record.fault : undefined;
    // The awslogs driver creates the stream when the container starts.
    this.options.logs.createStream(record.logGroup, record.logStream);
    record.process = new ContainerProcess({
      command: definition.command,
      cwd: definition.cwd ?? record.env.HOME,
      env: record.env,
      onLogLine: line =>
        this.options.logs.append(record.logGroup, record.logStream, line),
      onStart: pid =>
        this.update(record, {
          lastStatus: 'RUNNING',
          containerStatus: 'RUNNING',
          pid,
          startedAt: new Date(),
        }),
      onExit: exit => this.stopped(record, exit),
      killAfterStdoutLines: dieMidRun?.afterLines,
      onKilledMidRun: () => {
        const stopCode = dieMidRun?.stopCode ?? 'SpotInterruption';
        this.update(record, {
          desiredStatus: 'STOPPED',
          stopCode,
          stoppedReason: STOP_REASONS[stopCode],
          stoppingAt: new Date(),
        });
      },
    });
  }

  private stopped(record: TaskRecord, exit: ContainerExit): void {
    this.clearTimers(record);
    const now = new Date();
    if ('startError' in exit) {
      this.update(record, {
        stopCode: 'TaskFailedToStart',
        stoppedReason: exit.startError,
        containerReason: exit.startError,
      });
    } else {
      record.exitCode = exit.exitCode;
      if (!record.stopCode) {
        this.update(record, {
          stopCode: 'EssentialContainerExited',
          stoppedReason: STOP_REASONS.EssentialContainerExited,
        });
      }
    }
    this.update(record, {
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      containerStatus: 'STOPPED',
      stoppingAt: record.stoppingAt ?? now,
      stoppedAt: now,
    });
  }

  // --- DescribeTasks, StopTask ---------------------------------------------------

  private describeTasks(input: WireInput) {
    this.cluster(input);
    const references = input.array('tasks') ?? [];
    if (references.length === 0) {
      throw invalidParameter('Tasks cannot be empty.');
    }
    if (references.length > 100) {
      throw invalidParameter('Tasks cannot have more than 100 elements.');
    }
    const withTags = (input.array('include') ?? []).includes('TAGS');
    const tasks = [];
    const failures = [];
    for (const reference of references) {
      const record =
        typeof reference === 'string' ? this.find(reference) : undefined;
      // Right after RunTask, ECS may not know the task yet (describeLag).
      if (record && Date.now() >= record.describableAt) {
        tasks.push(this.describe(record, withTags));
      } else {
        failures.push({
          arn: this.taskArn(String(reference)),
          reason: 'MISSING',
        });
      }
    }
    return { tasks, failures };
  }

  /**
   * StopTask: desiredStatus STOPPED at once; SIGTERM to the container and
   * SIGKILL after the stop timeout, as `docker stop` does. The answer shows
   * the task as it was (still RUNNING); STOPPED comes with the process's exit.
   */
  private stopTask(input: WireInput) {
    this.cluster(input);
    const record = this.find(input.requiredString('task'));
    if (!record) throw invalidParameter('The referenced task was not found.');
    if (record.desiredStatus !== 'STOPPED') {
      this.update(record, {
        desiredStatus: 'STOPPED',
        stopCode: 'UserInitiated',
        stoppedReason: input.string('reason'),
        stoppingAt: new Date(),
      });
      const answer = this.describe(record, false);
      if (record.process?.running) {
        record.process.signal('SIGTERM');
        this.after(record, this.options.stopTimeoutMs, () =>
          record.process?.signal('SIGKILL'),
        );
      } else if (!record.process) {
        // Still provisioning: nothing to signal, and the task never starts.
        this.clearTimers(record);
        this.update(record, {
          lastStatus: 'STOPPED',
          containerStatus: 'STOPPED',
          stoppedAt: new Date(),
        });
      }
      return { task: answer };
    }
    return { task: this.describe(record, false) };
  }

  // --- Helpers ---------------------------------------------------------------------

  private find(arnOrId: string): TaskRecord | undefined {
    const id = arnOrId.startsWith('arn:') ? arnOrId.split('/').pop()! : arnOrId;
    const record = this.records.get(id);
    return record && (arnOrId === id || arnOrId === record.taskArn)
      ? record
      : undefined;
  }

  private taskArn(reference: string): string {
    if (reference.startsWith('arn:')) return reference;
    return `arn:aws:ecs:${this.options.region}:${this.options.accountId}:task/${this.options.cluster}/${reference}`;
  }

  private update(record: TaskRecord, changes: Partial<TaskRecord>): void {
    Object.assign(record, changes);
    record.version += 1;
  }

  private after(record: TaskRecord, ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      record.timers.delete(timer);
      action();
    }, ms);
    record.timers.add(timer);
  }

  private clearTimers(record: TaskRecord): void {
    for (const timer of record.timers) clearTimeout(timer);
    record.timers.clear();
  }

  /**
   * The task as ECS's JSON has it. Timestamps are epoch *seconds* with a
   * fraction (JSON 1.1's timestamp format); the SDK turns them into Dates.
   */
  private describe(record: TaskRecord, withTags: boolean) {
    const { definition } = record;
    return {
      taskArn: record.taskArn,
      clusterArn: this.clusterArn,
      taskDefinitionArn: record.taskDefinitionArn,
      group: `family:${record.family}`,
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      platformFamily: 'Linux',
      availabilityZone: `${this.options.region}a`,
      lastStatus: record.lastStatus,
      desiredStatus: record.desiredStatus,
      version: record.version,
      startedBy: record.startedBy,
      overrides: record.overrides,
      containers: [
        {
          containerArn: `arn:aws:ecs:${this.options.region}:${this.options.accountId}:container/${this.options.cluster}/${record.taskId}/${definition.containerName}`,
          taskArn: record.taskArn,
          name: definition.containerName,
          lastStatus: record.containerStatus,
          exitCode: record.exitCode,
          reason: record.containerReason,
        },
      ],
      stopCode: record.stopCode,
      stoppedReason: record.stoppedReason,
      createdAt: epochSeconds(record.createdAt),
      startedAt: epochSeconds(record.startedAt),
      stoppingAt: epochSeconds(record.stoppingAt),
      stoppedAt: epochSeconds(record.stoppedAt),
      tags: withTags ? record.tags : undefined,
    };
  }
}

function epochSeconds(date: Date | undefined): number | undefined {
  return date && date.getTime() / 1000;
}

/** Fargate's hostname: the task ENI's private DNS name. */
function hostname(taskId: string, region: string): string {
  const [a, b] = [
    parseInt(taskId.slice(0, 2), 16),
    parseInt(taskId.slice(2, 4), 16),
  ];
  const domain =
    region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
  return `ip-10-0-${a}-${b}.${domain}`;
}

function snapshot(record: TaskRecord): FakeTask {
  return {
    taskArn: record.taskArn,
    taskId: record.taskId,
    family: record.family,
    lastStatus: record.lastStatus,
    desiredStatus: record.desiredStatus,
    startedBy: record.startedBy,
    tags: record.tags.map(tag => ({ ...tag })),
    overrides: structuredClone(record.overrides),
    taskRoleArn: record.taskRoleArn,
    networkConfiguration: structuredClone(record.networkConfiguration),
    env: { ...record.env },
    exitCode: record.exitCode,
    stopCode: record.stopCode,
    stoppedReason: record.stoppedReason,
    pid: record.pid,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    stoppedAt: record.stoppedAt,
    logGroup: record.logGroup,
    logStream: record.logStream,
  };
}
