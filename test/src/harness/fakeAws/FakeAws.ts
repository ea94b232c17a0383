import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import {
  createServer,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import { FakeEcs, FakeTask, FakeTaskDefinition } from './ecs';
import { FakeAwsFault, FaultPlan } from './faults';
import { FakeKms } from './kms';
import { LogStore } from './logs';
import {
  AuthFailure,
  AwsError,
  FakeAwsService,
  header,
  JSON_TARGETS,
  jsonErrorResponse,
  JsonOperations,
  jsonResponse,
  SigningIdentity,
  verifySigV4,
  WireInput,
  WireRequest,
  WireResponse,
} from './protocol';
import { FakeS3, FakeS3Object, s3ErrorResponse, s3Operation } from './s3';

/** @public */
export interface FakeAwsOptions {
  /** Where tasks' working directories go. */
  workDir: string;
  /** Default `us-east-1`. Requests signed for another region are refused. */
  region?: string;
  /** Default `123456789012`. */
  accountId?: string;
  /** The only cluster that exists (its name). */
  cluster: string;
  /**
   * The task definitions RunTask can run. The array is read at each
   * RunTask, so definitions pushed to it after start (once the KMS keys
   * they name exist) are found.
   */
  taskDefinitions: FakeTaskDefinition[];
  /** The buckets that exist. */
  buckets: string[];
  /**
   * Default true: PutObject without `x-amz-server-side-encryption: aws:kms`
   * is denied (403 AccessDenied), as the artifacts bucket's policy denies it.
   */
  requireKmsEncryption?: boolean;
  /** SIGTERM-to-SIGKILL grace after StopTask (ECS's stopTimeout); default 30000. */
  stopTimeoutMs?: number;
  /** Time a task spends PROVISIONING and PENDING before its process starts; default 50. */
  provisioningDelayMs?: number;
  /**
   * Default false: RunTask refuses `overrides.taskRoleArn` and
   * `executionRoleArn`, so a dispatcher that sends them fails its tests.
   * True accepts them as real ECS does — to test what a compromised caller
   * could do with them.
   */
  acceptRoleOverrides?: boolean;
}

/** One request the fake answered. @public */
export interface FakeAwsCall {
  service: FakeAwsService;
  /** The API operation (`RunTask`, `GetLogEvents`, `PutObject`, `Sign`…). */
  operation: string;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** The HTTP status answered. */
  status: number;
}

/** The biggest request body the fake reads (S3 PutObject in tests is far below). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** How long credentials from the container credentials endpoint claim to be valid. */
const CREDENTIALS_LIFETIME_MS = 6 * 60 * 60 * 1000;

const JSON_ERRORS: Record<
  Exclude<FakeAwsService, 's3'>,
  { validation: string; server: string }
> = {
  ecs: { validation: 'InvalidParameterException', server: 'ServerException' },
  logs: {
    validation: 'InvalidParameterException',
    server: 'ServiceUnavailableException',
  },
  kms: { validation: 'ValidationException', server: 'KMSInternalException' },
};

/**
 * One local HTTP server that speaks ECS, CloudWatch Logs and KMS (AWS JSON
 * 1.1) and S3 (REST-XML, path-style) to the real AWS SDK v3 clients, with
 * fault injection. ECS tasks are real processes; their output becomes
 * CloudWatch log events.
 *
 * Point a client at it with
 * `new ECSClient({ endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials })`
 * (`forcePathStyle: true` for S3). Every request must be SigV4-signed with
 * {@link FakeAws.credentials}; a task's own SDK calls get them from the
 * container credentials endpoint, as on Fargate.
 *
 * @public
 */
export class FakeAws {
  /** Starts the server on a random loopback port. Call {@link FakeAws.stop} when done. */
  static async start(options: FakeAwsOptions): Promise<FakeAws> {
    const names = options.taskDefinitions.map(
      d => `${d.family}:${d.revision ?? 1}`,
    );
    const duplicate = names.find((name, i) => names.indexOf(name) !== i);
    if (duplicate) {
      throw new Error(`FakeAws: task definition ${duplicate} is defined twice`);
    }
    await mkdir(options.workDir, { recursive: true });
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new FakeAws(server, options);
  }

  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly region: string;
  /** The only credentials the fake accepts (random per instance). */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Every AWS request answered, in order: for asserting retries and what was (not) called. */
  readonly calls: FakeAwsCall[] = [];

  private readonly faults = new FaultPlan();
  private readonly logs = new LogStore(() => this.faults.logDelayMs);
  private readonly kms: FakeKms;
  private readonly s3: FakeS3;
  private readonly ecs: FakeEcs;
  private readonly identity: SigningIdentity;
  private readonly accountId: string;
  /** Session token → task id, handed out by the container credentials endpoint. */
  private readonly sessionTokens = new Map<string, string>();
  private stopping?: Promise<void>;

  private constructor(
    private readonly server: Server,
    options: FakeAwsOptions,
  ) {
    const { port } = server.address() as { port: number };
    this.endpoint = `http://127.0.0.1:${port}`;
    this.region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '123456789012';
    this.accountId = accountId;
    this.credentials = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
    };
    this.identity = {
      ...this.credentials,
      region: this.region,
      isSessionToken: token => this.sessionTokens.has(token),
    };
    this.kms = new FakeKms(this.region, accountId);
    this.s3 = new FakeS3(options.buckets, {
      requireKmsEncryption: options.requireKmsEncryption ?? true,
      kms: this.kms,
      region: this.region,
      accountId,
    });
    this.ecs = new FakeEcs({
      region: this.region,
      accountId,
      cluster: options.cluster,
      taskDefinitions: options.taskDefinitions,
      workDir: options.workDir,
      stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
      provisioningDelayMs: options.provisioningDelayMs ?? 50,
      logs: this.logs,
      faults: this.faults,
      containerUris: taskId => ({
        credentials: this.containerCredentialsUri(taskId),
        metadata: `${this.endpoint}/_fake/metadata/${taskId}`,
      }),
      acceptRoleOverrides: options.acceptRoleOverrides ?? false,
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    });
  }

  /** Arms a fault; see {@link FakeAwsFault}. */
  inject(fault: FakeAwsFault): void {
    this.faults.inject(fault);
  }

  /** Disarms every fault not yet met, and ends any `delayLogs`. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Every task RunTask started, oldest first (copies). */
  tasks(): FakeTask[] {
    return this.ecs.tasks();
  }

  /** A task by ARN or id (a copy). */
  task(arnOrId: string): FakeTask | undefined {
    return this.ecs.task(arnOrId);
  }

  /** A task's log events, ingested or not yet (`undefined` if its stream does not exist). */
  logEvents(
    group: string,
    stream: string,
  ): { timestamp: number; message: string }[] | undefined {
    return this.logs
      .events(group, stream)
      ?.map(({ timestamp, message }) => ({ timestamp, message }));
  }

  /** An Ed25519 KMS key (ECC_NIST_EDWARDS25519, SIGN_VERIFY). */
  createSigningKey(alias?: string): {
    keyId: string;
    keyArn: string;
    publicKeyPem: string;
  } {
    return this.kms.createSigningKey(alias);
  }

  /** A symmetric KMS key, usable as an SSE-KMS key id (id, ARN or alias). */
  createEncryptionKey(alias?: string): { keyId: string; keyArn: string } {
    return this.kms.createEncryptionKey(alias);
  }

  /** An S3 object as stored (a copy), or undefined. */
  object(bucket: string, key: string): FakeS3Object | undefined {
    return this.s3.object(bucket, key);
  }

  /** Stores an S3 object directly, past the bucket policy (test setup). */
  putObject(bucket: string, key: string, body: Buffer | string): void {
    this.s3.putObject(bucket, key, body);
  }

  /**
   * The task's `AWS_CONTAINER_CREDENTIALS_FULL_URI`: serves the fake's
   * access key with a session token, which the SDK's default credential
   * chain picks up inside the task.
   */
  containerCredentialsUri(taskId: string): string {
    return `${this.endpoint}/_fake/credentials/${taskId}`;
  }

  /** SIGKILLs every task's processes, waits for them, closes the server. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.ecs.shutdown();
      const closed = new Promise<void>(resolve =>
        this.server.close(() => resolve()),
      );
      // Keep-alive sockets of SDK clients would hold close() open.
      this.server.closeAllConnections();
      await closed;
    })();
    return this.stopping;
  }

  // --- Request handling ----------------------------------------------------------

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const at = Date.now();
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      res.destroy();
      return;
    }
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const request: WireRequest = {
      method: req.method ?? 'GET',
      rawPath: query < 0 ? url : url.slice(0, query),
      rawQuery: query < 0 ? '' : url.slice(query + 1),
      headers: req.headers,
      body,
    };
    let response: WireResponse;
    if (request.rawPath.startsWith('/_fake/')) {
      response = this.containerEndpoint(request);
    } else {
      const target = header(request, 'x-amz-target');
      const answered = target
        ? this.jsonRequest(request, target)
        : this.s3Request(request);
      response = answered.response;
      if (answered.service) {
        this.calls.push({
          service: answered.service,
          operation: answered.operation,
          at,
          status: response.status,
        });
      }
    }
    const headers: Record<string, string> = {
      'x-amzn-requestid': randomUUID(),
      ...response.headers,
    };
    if (response.body !== undefined) {
      headers['content-length'] = String(Buffer.byteLength(response.body));
    } else {
      headers['content-length'] ??= '0';
    }
    res.writeHead(response.status, headers);
    res.end(request.method === 'HEAD' ? undefined : response.body);
  }

  /** ECS, CloudWatch Logs and KMS: AWS JSON 1.1, the operation named by X-Amz-Target. */
  private jsonRequest(
    request: WireRequest,
    target: string,
  ): { service?: FakeAwsService; operation: string; response: WireResponse } {
    const dot = target.lastIndexOf('.');
    const service = JSON_TARGETS[target.slice(0, dot)];
    const operation = target.slice(dot + 1);
    if (!service) {
      const error = new AwsError(
        400,
        'UnknownOperationException',
        `The fake does not speak ${target}.`,
      );
      return { operation, response: jsonErrorResponse(error) };
    }
    const operations: JsonOperations = {
      ecs: this.ecs.operations,
      logs: this.logs.operations,
      kms: this.kms.operations,
    }[service];
    const errors = JSON_ERRORS[service];
    try {
      const authFailure = verifySigV4(request, service, this.identity);
      if (authFailure) throw jsonAuthError(authFailure);
      const fault = this.faults.takeRequestFault(operation);
      if (fault === 'throttle') {
        throw new AwsError(400, 'ThrottlingException', 'Rate exceeded');
      }
      if (fault === 'serverError') {
        throw new AwsError(
          500,
          errors.server,
          'We encountered an internal error. Please try again. (injected)',
        );
      }
      const handler = operations[operation];
      if (!handler) {
        throw new AwsError(
          400,
          'UnknownOperationException',
          `The fake ${service} does not implement ${operation}.`,
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(request.body.toString('utf8') || '{}');
      } catch {
        throw new AwsError(
          400,
          'SerializationException',
          'The request body is not JSON.',
        );
      }
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        Array.isArray(parsed)
      ) {
        throw new AwsError(
          400,
          'SerializationException',
          'The request body is not a JSON object.',
        );
      }
      const input = new WireInput(
        parsed as Record<string, unknown>,
        message => new AwsError(400, errors.validation, message),
      );
      return { service, operation, response: jsonResponse(handler(input)) };
    } catch (error) {
      const answer =
        error instanceof AwsError
          ? error
          : new AwsError(
              500,
              errors.server,
              `The fake failed: ${(error as Error).stack ?? error}`,
            );
      return { service, operation, response: jsonErrorResponse(answer) };
    }
  }

  private s3Request(request: WireRequest): {
    service: FakeAwsService;
    operation: string;
    response: WireResponse;
  } {
    const operation = s3Operation(request);
    try {
      const authFailure = verifySigV4(request, 's3', this.identity);
      if (authFailure) throw s3AuthError(authFailure);
      const fault = this.faults.takeRequestFault(operation);
      if (fault === 'throttle') {
        throw new AwsError(503, 'SlowDown', 'Please reduce your request rate.');
      }
      if (fault === 'serverError') {
        throw new AwsError(
          500,
          'InternalError',
          'We encountered an internal error. Please try again.',
        );
      }
      return { service: 's3', operation, response: this.s3.handle(request) };
    } catch (error) {
      const answer =
        error instanceof AwsError
          ? error
          : new AwsError(
              500,
              'InternalError',
              `The fake failed: ${(error as Error).stack ?? error}`,
            );
      return {
        service: 's3',
        operation,
        response: s3ErrorResponse(answer, request),
      };
    }
  }

  /**
   * What the ECS agent serves a task: its role's credentials (unsigned, as
   * on Fargate) and the task metadata endpoint v4.
   */
  private containerEndpoint(request: WireRequest): WireResponse {
    const credentials = /^\/_fake\/credentials\/([0-9a-f]{32})$/.exec(
      request.rawPath,
    );
    if (credentials && this.ecs.task(credentials[1])) {
      const taskId = credentials[1];
      let token = [...this.sessionTokens].find(([, id]) => id === taskId)?.[0];
      if (!token) {
        token = `FakeSessionToken/${taskId}/${randomBytes(24).toString(
          'base64',
        )}`;
        this.sessionTokens.set(token, taskId);
      }
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          AccessKeyId: this.credentials.accessKeyId,
          SecretAccessKey: this.credentials.secretAccessKey,
          Token: token,
          Expiration: new Date(
            Date.now() + CREDENTIALS_LIFETIME_MS,
          ).toISOString(),
          RoleArn:
            this.ecs.task(taskId)?.taskRoleArn ??
            `arn:aws:iam::${this.accountId}:role/fake-task-role`,
        }),
      };
    }
    const metadata = /^\/_fake\/metadata\/([0-9a-f]{32})(\/task)?$/.exec(
      request.rawPath,
    );
    const document =
      metadata && this.ecs.metadata(metadata[1], metadata[2] ?? '');
    if (document) {
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(document),
      };
    }
    return {
      status: 404,
      headers: { 'content-type': 'text/plain' },
      body: 'Not found',
    };
  }
}

/** JSON services answer a refused signature 403 with these names. */
function jsonAuthError(failure: AuthFailure): AwsError {
  switch (failure.reason) {
    case 'missing':
      return new AwsError(
        403,
        'MissingAuthenticationTokenException',
        failure.detail,
      );
    case 'unknownAccessKey':
    case 'invalidToken':
      return new AwsError(
        403,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    default:
      return new AwsError(403, 'InvalidSignatureException', failure.detail);
  }
}

/** S3's names (and, for a malformed scope, status) for a refused signature. */
function s3AuthError(failure: AuthFailure): AwsError {
  switch (failure.reason) {
    case 'missing':
      return new AwsError(403, 'AccessDenied', 'Access Denied');
    case 'unknownAccessKey':
      return new AwsError(
        403,
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      );
    case 'invalidToken':
      return new AwsError(
        400,
        'InvalidToken',
        'The provided token is malformed or otherwise invalid.',
      );
    case 'wrongScope':
      return new AwsError(400, 'AuthorizationHeaderMalformed', failure.detail);
    case 'expired':
      return new AwsError(403, 'RequestTimeTooSkewed', failure.detail);
    default:
      return new AwsError(403, 'SignatureDoesNotMatch', failure.detail);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
