import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  checkRepositoryAllowed,
  isApplyBranch,
  jobSchema,
  MAX_JOB_BYTES,
  parseModuleSource,
  RUN_PHASES,
  RunnerResult,
  SealedRunnerJob,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';
import { RunnerConfig } from './config';
import { EventSink, note } from './events';
import { gitEnvironment } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { checkoutCommit, resolveBranch } from './git';
import { checkModuleSources } from './moduleSourceCheck';
import { checkPlanPolicy } from './planPolicyCheck';
import { runCommand, sweepSession } from './process';
import { Rejection } from './rejection';
import { readBoundPlan, savePlan } from './savedPlans';
import { summarisePlan, writeCliConfig, writeLocalBackend } from './terraform';

type Outcome = Omit<RunnerResult, 'type'>;
type RunPhase = (typeof RUN_PHASES)[number];

const RUNNER_PATH = '/usr/local/bin:/usr/bin:/bin';

function moduleRepositories(job: SealedRunnerJob): string[] {
  return job.modules.flatMap(m => {
    const source = parseModuleSource(m.source);
    return source.ok ? [source.value.repository] : [];
  });
}

/** The variables ECS sets for the task role and region, where set. */
const AWS_TASK_VARIABLES = [
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
];

function awsTaskEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    AWS_TASK_VARIABLES.flatMap(name => (env[name] !== undefined ? [[name, env[name]!]] : [])),
  );
}

/** One state file per target: repository, environment and folder. */
export function stateFilePath(config: RunnerConfig, job: SealedRunnerJob): string {
  const key = createHash('sha256')
    .update(`${job.repository}\n${job.environment}\n${job.path}`)
    .digest('hex')
    .slice(0, 32);
  return join(config.stateDir, key, 'terraform.tfstate');
}

/**
 * Parses and re-validates a job document against the runner's own policy.
 * The runner trusts nothing the backend decided: repository allowlist,
 * environment, apply branch and every field's shape are checked again.
 */
export function validateJob(raw: string, config: RunnerConfig): SealedRunnerJob {
  if (Buffer.byteLength(raw) > MAX_JOB_BYTES) {
    throw new Rejection(`job document is larger than ${MAX_JOB_BYTES} bytes`);
  }
  let document: unknown;
  try {
    document = JSON.parse(raw);
  } catch {
    throw new Rejection('job document is not valid JSON');
  }
  const parsed = jobSchema.safeParse(document);
  if (!parsed.success) {
    throw new Rejection(`job document is invalid: ${z.prettifyError(parsed.error)}`);
  }
  const job = parsed.data;
  const allowed = checkRepositoryAllowed(job.repository, config.repositories);
  if (!allowed.ok) {
    throw new Rejection(allowed.reason);
  }
  const environment = config.environments[job.environment];
  if (!environment) {
    throw new Rejection(`environment "${job.environment}" is not configured in the runner`);
  }
  // A break-glass grant (signed by the gate, like the rest of the job) is
  // honoured only until its session expires; an expired one is refused
  // whatever the branch, so a job that waited too long cannot use it.
  if (job.breakGlass && !(Date.parse(job.breakGlass.expiresAt) > Date.now())) {
    throw new Rejection(
      `the break-glass grant of session ${job.breakGlass.sessionId} expired at ${job.breakGlass.expiresAt}`,
    );
  }
  if (
    job.operation === 'apply' &&
    !isApplyBranch(environment.applyBranches, job.ref) &&
    !job.breakGlass
  ) {
    throw new Rejection(
      `branch "${job.ref}" may not be applied to ${job.environment} (apply branches: ${environment.applyBranches.join(', ')})`,
    );
  }
  return job;
}

/** The warning a job run under a break-glass grant writes into its log. */
export function breakGlassWarning(job: SealedRunnerJob, config: RunnerConfig): string | undefined {
  if (!job.breakGlass) {
    return undefined;
  }
  const { sessionId, openedBy, expiresAt } = job.breakGlass;
  const applyBranches = config.environments[job.environment]?.applyBranches ?? [];
  return isApplyBranch(applyBranches, job.ref)
    ? `WARNING: break-glass session ${sessionId} opened by ${openedBy} (until ${expiresAt}): applying without the usual approvals`
    : `WARNING: break-glass session ${sessionId} opened by ${openedBy}: applying ${job.ref}, which is not an apply branch of ${job.environment}`;
}

export interface RunJobOptions {
  config: RunnerConfig;
  sink: EventSink;
  /** Aborted on cancel (SIGTERM) or timeout. */
  signal: AbortSignal;
}

/**
 * Runs one job end to end and returns its outcome. Never throws: every
 * failure becomes a `failed` or `rejected` outcome with a reason.
 */
export async function runJob(rawJob: string, options: RunJobOptions): Promise<Outcome> {
  const { config, sink, signal } = options;
  let runDir: string | undefined;
  let phase: RunPhase = 'validate';
  const enter = (next: RunPhase) => {
    phase = next;
    sink.emit({ type: 'phase', phase: next });
  };
  try {
    enter('validate');
    const job = validateJob(rawJob, config);
    note(sink, `${job.operation} of ${job.path} at ${job.ref}@${job.commitSha.slice(0, 12)} for ${job.environment}`);
    const warning = breakGlassWarning(job, config);
    if (warning) {
      note(sink, warning);
    }

    const planBytes = job.plan ? await readBoundPlan(config, job) : undefined;

    await mkdir(config.workDir, { recursive: true });
    runDir = await mkdtemp(join(config.workDir, `run-${job.runId}-`));
    const checkout = join(runDir, 'checkout');

    enter('checkout');
    const gitOptions = { gitPath: config.gitPath, home: runDir, path: RUNNER_PATH, signal };
    // The branch must still point at the commit: a plan or apply is of
    // exactly the reviewed head, never an arbitrary fetchable commit.
    const head = await resolveBranch(job.repository, job.ref, gitOptions);
    if (!head) {
      throw new Rejection(`branch "${job.ref}" does not exist in ${job.repository}`);
    }
    if (head.commitSha !== job.commitSha) {
      throw new Rejection(
        `branch "${job.ref}" moved to ${head.commitSha} since ${job.commitSha} was requested`,
      );
    }
    await checkoutCommit(job.repository, job.commitSha, checkout, { ...gitOptions, sink, signal });
    note(sink, `checked out ${job.commitSha}`);

    enter('module-check');
    const check = await checkModuleSources(checkout, job.path, job.modules);
    if (!check.ok) {
      throw new Rejection(check.reason);
    }
    note(sink, `module sources vetted: ${check.moduleSources.join(', ') || 'none'}`);
    // Plan runs code. What the checkout holds is inspected before init, so
    // a refused construct never reaches Terraform; what init downloaded is
    // inspected again before plan or apply.
    const policyCheck = async (terraformDataDir?: string) => {
      const result = await checkPlanPolicy({
        checkoutDir: checkout,
        folder: job.path,
        environment: job.environment,
        policy: config.environments[job.environment]!.planPolicy,
        modules: job.modules,
        terraformDataDir,
      });
      if (!result.ok) {
        for (const finding of result.findings.slice(1, 20)) {
          note(sink, `also refused: ${finding}`);
        }
        throw new Rejection(result.reason);
      }
      return result;
    };
    await policyCheck();
    const folderDir = join(checkout, job.path);
    // A backend decides where state is read and written: a `local` path or
    // an `http` address of the code's choosing could overwrite another
    // target's state, so only the environment's backend types pass.
    const allowedBackends: readonly string[] = config.environments[job.environment]!.planPolicy.backends;
    for (const backend of check.rootBackends) {
      if (!allowedBackends.includes(backend.type)) {
        throw new Rejection(
          `${backend.file}: terraform ${backend.type === 'cloud' ? 'cloud block' : `backend "${backend.type}"`} is not allowed in ${job.environment} (planPolicy.backends: ${allowedBackends.join(', ') || 'none; the runner keeps the state'})`,
        );
      }
    }
    if (check.rootBackends.length === 0) {
      const stateFile = stateFilePath(config, job);
      await mkdir(dirname(stateFile), { recursive: true });
      await writeLocalBackend(folderDir, stateFile);
    }

    const dataDir = join(runDir, 'terraform-data');
    const env = {
      // Terraform downloads catalog modules with git: allow exactly their transports.
      ...gitEnvironment(runDir, moduleRepositories(job), RUNNER_PATH),
      // Terraform's data directory lives outside the checkout: a committed
      // `.terraform/modules` would otherwise count as already installed, and
      // plan would run that code instead of the vetted module.
      TF_DATA_DIR: dataDir,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      // On ECS the task role's credentials reach the AWS provider and the
      // s3 backend through the container credentials endpoint; nothing else
      // of the runner's environment does.
      ...awsTaskEnvironment(process.env),
      TF_CLI_CONFIG_FILE: await writeCliConfig(
        runDir,
        config.providerMirrorDir ?? join(config.workDir, 'provider-mirror'),
      ),
    };
    const terraform = async (args: string[], capture = false) => {
      if (signal.aborted) {
        throw new Error('aborted');
      }
      const result = await runCommand(config.terraformPath, args, {
        cwd: folderDir, env, signal, sink, captureStdout: capture,
      });
      // Provisioners can start processes that outlive Terraform.
      await sweepSession();
      if (signal.aborted) {
        throw new Error('aborted');
      }
      if (result.code !== 0) {
        throw new Error(`terraform ${args[0]} failed (exit ${result.code})`);
      }
      return result.stdout;
    };

    enter('init');
    await terraform(['init', '-input=false', '-no-color']);

    enter('code-check');
    const inspected = await policyCheck(dataDir);
    note(
      sink,
      `plan policy of ${job.environment}: ${inspected.folders} module folder(s) inspected; providers: ${
        inspected.providers.join(', ') || 'built-in terraform only'
      }`,
    );

    const base = { commitSha: job.commitSha, moduleSources: check.moduleSources };
    if (job.operation === 'plan') {
      enter('plan');
      const localPlan = join(runDir, 'plan.tfplan');
      await terraform(['plan', '-input=false', '-no-color', '-lock-timeout=60s', `-out=${localPlan}`]);
      const { plan, changes } = summarisePlan(await terraform(['show', '-json', localPlan], true));
      const planSha256 = await savePlan(config, job, await readFile(localPlan));
      return { status: 'succeeded', ...base, plan, changes, planSha256 };
    }

    enter('apply');
    const localPlan = join(runDir, 'plan.tfplan');
    await writeFile(localPlan, planBytes!, { mode: 0o600 });
    await terraform(['apply', '-input=false', '-no-color', '-lock-timeout=60s', localPlan]);
    return { status: 'succeeded', ...base };
  } catch (error) {
    if (signal.aborted) {
      const reason = signal.reason instanceof Error ? signal.reason.message : 'cancelled';
      return reason === 'timeout'
        ? { status: 'failed', error: `timed out after ${config.timeoutSeconds} s during ${phase}` }
        : { status: 'cancelled', error: `cancelled during ${phase}` };
    }
    if (error instanceof Rejection) {
      note(sink, `rejected: ${error.message}`);
      return { status: 'rejected', error: error.message };
    }
    const message = error instanceof Error ? error.message : String(error);
    note(sink, `failed during ${phase}: ${message}`);
    return { status: 'failed', error: `${phase} failed: ${message}` };
  } finally {
    if (runDir) {
      await rm(runDir, { recursive: true, force: true });
    }
  }
}
