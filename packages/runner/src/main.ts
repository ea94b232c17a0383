import {
  MAX_JOB_BYTES,
  MAX_RESULT_ERROR_LENGTH,
  MAX_SIGNED_JOB_BYTES,
  quote,
  RunnerResult,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ArtifactStore, artifactStore } from './artifacts';
import {
  parseRunnerConfig,
  readJobPublicKey,
  RunnerConfig,
  RUNNER_CONFIG_ENV,
  RUNNER_ENVIRONMENT,
  RUNNER_JOB_KEY_ENV,
  securePrivateDirectory,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { EventSink, framedStdoutSink, note, stdoutSink } from './events';
import { verifyJobDocument } from './jobSignature';
import { Rejection } from './rejection';
import { runJob } from './runJob';
import { checkTaskRole } from './taskRole';

const EXIT_CODES: Record<RunnerResult['status'], number> = {
  succeeded: 0,
  failed: 1,
  rejected: 2,
  cancelled: 3,
};

/**
 * A longer reason (a job with a thousand invalid fields) would make the
 * result line unreadable to the backend, so it is cut here.
 */
function bounded(error: string): string {
  return error.length > MAX_RESULT_ERROR_LENGTH
    ? `${error.slice(0, MAX_RESULT_ERROR_LENGTH - 14)} …[truncated]`
    : error;
}

/** Names of environment variables outside {@link RUNNER_ENVIRONMENT}, bounded for the message. */
export function unexpectedEnvironment(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter(name => !RUNNER_ENVIRONMENT.has(name))
    .sort()
    .slice(0, 20)
    .map(name => quote(name, 64));
}

/** Reads at most `limit` bytes of stdin; more is reported as oversized. */
async function readStdin(limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      process.stdin.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A signed payload's operation and environment, if it has them (the job schema checks the rest). */
function headerOf(payload: string): {
  operation?: unknown;
  environment?: unknown;
} {
  try {
    return (
      (JSON.parse(payload) as {
        operation?: unknown;
        environment?: unknown;
      } | null) ?? {}
    );
  } catch {
    return {};
  }
}

const JOB_KEY =
  /^jobs\/([a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?)\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/;

/**
 * The job document: on stdin (local runner), or — on ECS, whose overrides
 * hold 8 KiB — from the artifacts bucket under the key the task was
 * started with. Either way it is only trusted once its signature verifies.
 */
async function readJob(
  key: string | undefined,
  config: RunnerConfig,
  store: ArtifactStore,
): Promise<string | undefined> {
  if (key === undefined) {
    return readStdin(MAX_SIGNED_JOB_BYTES);
  }
  if (!config.artifacts) {
    throw new Rejection(
      `${RUNNER_JOB_KEY_ENV} is set, but the runner has no artifacts bucket to read it from`,
    );
  }
  const environment = JOB_KEY.exec(key)?.[1];
  if (environment === undefined) {
    throw new Rejection(
      `${RUNNER_JOB_KEY_ENV} must be jobs/<environment>/<run id>.json, not ${JSON.stringify(
        key.slice(0, 100),
      )}`,
    );
  }
  if (!config.environments[environment]) {
    throw new Rejection(
      `${key} is a job of ${environment}, which this runner does not serve`,
    );
  }
  let bytes: Buffer | undefined;
  try {
    bytes = await store.read(key, MAX_SIGNED_JOB_BYTES);
  } catch (error) {
    if (/larger than/.test((error as Error).message)) {
      return undefined;
    }
    throw new Error(
      `could not read the job document ${key}: ${(error as Error).message}`,
    );
  }
  if (bytes === undefined) {
    throw new Rejection(`the job document ${key} does not exist`);
  }
  return bytes.toString('utf8');
}

/**
 * The runner's own directories: its user's alone. Runs and state stay
 * traversable (0711) for the sandbox user bubblewrap mounts them as;
 * saved plans and seen jobs are the runner's only.
 */
async function securePrivateDirectories(config: RunnerConfig) {
  const dirs = [
    { path: config.workDir, mode: 0o711, what: "the runner's work directory" },
    {
      path: config.stateDir,
      mode: 0o711,
      what: "the runner's state directory",
    },
  ];
  if (!config.artifacts) {
    dirs.push(
      {
        path: config.planDir,
        mode: 0o700,
        what: "the runner's saved-plan directory",
      },
      {
        path: config.seenJobsDir,
        mode: 0o700,
        what: "the runner's seen-jobs directory",
      },
    );
  }
  const warnings: string[] = [];
  for (const { path, ...options } of dirs) {
    const warning = await securePrivateDirectory(path, options);
    if (warning) {
      warnings.push(warning);
    }
  }
  return warnings;
}

/**
 * The sealed runner program: one job document on stdin, its own config in
 * the environment, JSON events on stdout. Takes no arguments.
 *
 * @public
 */
export async function runMain(): Promise<number> {
  let sink: EventSink = stdoutSink;
  // From the first instruction: a stop request (ECS StopTask, a cancel)
  // that arrives while the job is still being read ends in a `cancelled`
  // result, not in a process killed without a word.
  const controller = new AbortController();
  const cancel = () => controller.abort(new Error('cancelled'));
  process.once('SIGTERM', cancel);
  process.once('SIGINT', cancel);
  const finish = (result: Omit<RunnerResult, 'type'>) => {
    sink.emit({
      type: 'result',
      ...result,
      ...(result.error !== undefined ? { error: bounded(result.error) } : {}),
    });
    return EXIT_CODES[result.status];
  };
  if (process.argv.length > 2) {
    return finish({
      status: 'rejected',
      error: 'the runner takes no command-line arguments',
    });
  }
  const unexpected = unexpectedEnvironment(process.env);
  if (unexpected.length > 0) {
    return finish({
      status: 'rejected',
      error: `unexpected environment variables: ${unexpected.join(
        ', ',
      )} (the runner accepts only ${[...RUNNER_ENVIRONMENT]
        .sort()
        .join(', ')})`,
    });
  }
  // The AWS SDK warns on stderr about Node versions it will drop: noise in
  // every run's log. Set only now, after the environment was checked.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let config;
  try {
    config = parseRunnerConfig(process.env[RUNNER_CONFIG_ENV]);
  } catch (error) {
    return finish({
      status: 'failed',
      error: `runner configuration: ${(error as Error).message}`,
    });
  }
  if (config.artifacts) {
    sink = framedStdoutSink();
  }
  try {
    for (const warning of await securePrivateDirectories(config)) {
      note(sink, `WARNING: ${warning}`);
    }
  } catch (error) {
    return finish({
      status: 'failed',
      error: `runner directories: ${(error as Error).message}`,
    });
  }
  const store = artifactStore(config);
  let document: string | undefined;
  try {
    document = await readJob(process.env[RUNNER_JOB_KEY_ENV], config, store);
  } catch (error) {
    // A refused key is a check; an unreachable bucket is a failure.
    return finish({
      status: error instanceof Rejection ? 'rejected' : 'failed',
      error: (error as Error).message,
    });
  }
  if (document === undefined) {
    return finish({
      status: 'rejected',
      error: `job document is larger than ${MAX_JOB_BYTES} bytes`,
    });
  }
  let verified;
  try {
    verified = await verifyJobDocument(document, {
      publicKey: readJobPublicKey(config.jobPublicKey),
      lifetimeSeconds: config.jobLifetimeSeconds,
      serves: environment => config.environments[environment] !== undefined,
      markSeen: ({ runId, environment }) =>
        store.create(`seen-jobs/${environment}/${runId}`),
    });
  } catch (error) {
    return finish({
      status: 'failed',
      error: `could not record the job as run: ${(error as Error).message}`,
    });
  }
  if (!verified.ok) {
    return finish({ status: 'rejected', error: verified.reason });
  }
  const raw = verified.payload;
  const roleProblem = await checkTaskRole(headerOf(raw), config, process.env);
  if (roleProblem) {
    return finish({ status: 'rejected', error: roleProblem });
  }
  if (controller.signal.aborted) {
    return finish({
      status: 'cancelled',
      error: 'cancelled before the job started',
    });
  }

  const timer = setTimeout(
    () => controller.abort(new Error('timeout')),
    config.timeoutSeconds * 1000,
  );
  const outcome = await runJob(raw, {
    config,
    sink,
    signal: controller.signal,
  });
  clearTimeout(timer);
  return finish(outcome);
}
