/**
 * The environment a runner is started with, and the only one it accepts:
 * the names the dispatchers set and the runner checks.
 */

/** Name of the environment variable that carries the runner config (JSON). @public */
export const RUNNER_CONFIG_ENV = 'SEALED_RUNNER_CONFIG';

/**
 * Name of the environment variable that names the job document's key in
 * the artifacts bucket (`jobs/<runId>.json`), when the job does not come on
 * stdin.
 *
 * @public
 */
export const RUNNER_JOB_KEY_ENV = 'SEALED_RUNNER_JOB_KEY';

/**
 * The environment the runner accepts: its config, the basics a process
 * needs, and what a container runtime (ECS Fargate) sets. Anything else —
 * `GIT_*`, `TF_*`, `NODE_OPTIONS`, `LD_PRELOAD`, proxies — could change what
 * git or Terraform do, so a job started with it is refused before anything
 * runs. (The container entry point scrubs the environment too; this is the
 * tripwire if something upstream does not.)
 *
 * @public
 */
export const RUNNER_ENVIRONMENT: ReadonlySet<string> = new Set([
  RUNNER_CONFIG_ENV,
  'PATH',
  'HOME',
  'LANG',
  'TMPDIR',
  'HOSTNAME',
  // Where the job document waits in the artifacts bucket (the ECS runner,
  // whose job is too large for ECS's 8 KiB overrides).
  RUNNER_JOB_KEY_ENV,
  // Set by ECS Fargate for the task role and metadata.
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_REGION',
  'ECS_AGENT_URI',
  'ECS_CONTAINER_METADATA_URI',
  'ECS_CONTAINER_METADATA_URI_V4',
]);
