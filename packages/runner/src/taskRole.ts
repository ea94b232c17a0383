import { quote } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

/** ECS's credentials endpoint for a RELATIVE_URI (Fargate and the EC2 agent). */
const ECS_CREDENTIALS_HOST = 'http://169.254.170.2';
const TIMEOUT_MS = 5_000;

/**
 * The IAM role this task holds, as the ECS agent reports it with the
 * task's credentials (`RoleArn`). Read from the agent, not from STS, so no
 * network beyond the task's own metadata endpoint is needed.
 */
export async function readTaskRoleArn(env: NodeJS.ProcessEnv): Promise<string> {
  const url =
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI ??
    (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
      ? `${ECS_CREDENTIALS_HOST}${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}`
      : undefined);
  if (!url) {
    throw new Error('no ECS task credentials endpoint in the environment');
  }
  const token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  const response = await fetch(url, {
    headers: token ? { Authorization: token } : {},
    redirect: 'error',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) {
    throw new Error(`the ECS credentials endpoint answered ${response.status}`);
  }
  const { RoleArn: roleArn } = (await response.json()) as { RoleArn?: unknown };
  if (typeof roleArn !== 'string') {
    throw new Error('the ECS credentials endpoint named no RoleArn');
  }
  return roleArn;
}

/**
 * Refuses a job this task's role is not for: one identity per environment
 * and operation, so a plan job of prod must run with prod's planner role
 * and an apply job of dev with dev's applier role — never with a role of
 * another environment. Undefined when it may run; otherwise the reason.
 */
export async function checkTaskRole(
  job: { operation?: unknown; environment?: unknown },
  config: RunnerConfig,
  env: NodeJS.ProcessEnv,
  readRole: typeof readTaskRoleArn = readTaskRoleArn,
): Promise<string | undefined> {
  if (!config.taskRoles) {
    // Without taskRoles this is not an ECS runner.
    return undefined;
  }
  const { operation, environment } = job;
  const roles =
    typeof environment === 'string' &&
    Object.hasOwn(config.taskRoles, environment)
      ? config.taskRoles[environment]
      : undefined;
  if (!roles) {
    return `this runner serves only ${Object.keys(config.taskRoles).join(
      ', ',
    )}, not ${quote(String(environment), 64)}`;
  }
  if (operation !== 'plan' && operation !== 'apply') {
    // Refused by the job schema.
    return undefined;
  }
  let roleArn: string;
  try {
    roleArn = await readRole(env);
  } catch (error) {
    return `could not read this task's IAM role: ${(error as Error).message}`;
  }
  const expected = roles[operation];
  if (roleArn !== expected) {
    return `${
      operation === 'apply' ? 'an' : 'a'
    } ${operation} job of ${environment} runs only with the role ${expected}, but this task holds ${roleArn.slice(
      0,
      600,
    )} (was the task role overridden at RunTask, or the task started for another environment?)`;
  }
  return undefined;
}
