import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkRepositoryAllowed,
  checkRepositoryUrl,
  gitEnvironment,
  gitGlobalConfig,
  isApplyBranch,
  jobSchema,
  MAX_JOB_BYTES,
  parseModuleSource,
  RUN_PHASES,
  RunnerResult,
  SealedRunnerJob,
  SYSTEM_PATH,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';
import {
  resolveBranch,
  RunnerConfig,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { EventSink, note } from './events';
import { checkoutCommit, GitExecutor, remoteExecutor } from './git';
import {
  addInstalledModules,
  inspect,
  InspectionContext,
  loadModuleGraph,
  readRegularFile,
  rootBackends,
} from './inspection';
import { Rejection } from './rejection';
import { createSandbox, Sandbox, SANDBOX_ROOT, SandboxMount } from './sandbox';
import { readBoundPlan, savePlan } from './savedPlans';
import { summarisePlan, writeCliConfig, writeLocalBackend } from './terraform';

type Outcome = Omit<RunnerResult, 'type'>;
type RunPhase = (typeof RUN_PHASES)[number];

/** A plan file over this is not one Terraform wrote for a single folder. */
const MAX_PLAN_BYTES = 1024 * 1024 * 1024;

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
    AWS_TASK_VARIABLES.flatMap(name =>
      env[name] !== undefined ? [[name, env[name]!]] : [],
    ),
  );
}

/** One state file per target: repository, environment and folder. */
export function stateFilePath(
  config: RunnerConfig,
  job: SealedRunnerJob,
): string {
  return join(stateDirOf(config, job), 'terraform.tfstate');
}

function stateDirOf(config: RunnerConfig, job: SealedRunnerJob): string {
  const key = createHash('sha256')
    .update(`${job.repository}\n${job.environment}\n${job.path}`)
    .digest('hex')
    .slice(0, 32);
  return join(config.stateDir, key);
}

/**
 * Parses and re-validates a job document against the runner's own policy.
 * The runner trusts nothing the backend decided: repository allowlist,
 * environment, apply branch and every field's shape are checked again.
 */
export function validateJob(
  raw: string,
  config: RunnerConfig,
): SealedRunnerJob {
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
    throw new Rejection(
      `job document is invalid: ${z.prettifyError(parsed.error)}`,
    );
  }
  const job = parsed.data;
  const allowed = checkRepositoryAllowed(job.repository, config.repositories);
  if (!allowed.ok) {
    throw new Rejection(allowed.reason);
  }
  const environment = config.environments[job.environment];
  if (!environment) {
    throw new Rejection(
      `environment "${job.environment}" is not configured in the runner`,
    );
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
      `branch "${job.ref}" may not be applied to ${
        job.environment
      } (apply branches: ${environment.applyBranches.join(', ')})`,
    );
  }
  return job;
}

/** The warning a job run under a break-glass grant writes into its log. */
export function breakGlassWarning(
  job: SealedRunnerJob,
  config: RunnerConfig,
): string | undefined {
  if (!job.breakGlass) {
    return undefined;
  }
  const { sessionId, openedBy, expiresAt } = job.breakGlass;
  const applyBranches =
    config.environments[job.environment]?.applyBranches ?? [];
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

/** A directory of the run: where it is here, and how commands mount it. */
interface RunDir {
  host: string;
  mount(writable?: boolean): SandboxMount;
  /** As commands see it. */
  inside: string;
}

/**
 * The directories of one run, each mounted into a command only where that
 * command needs it: the checkout and Terraform's data directory are
 * writable while git and `terraform init` (which run no code of the
 * target's) fill them, and read-only from the first command that can run
 * such code on; plan output goes to a folder of its own, which the runner
 * reads once the plan's processes are gone; the plan Terraform applies or
 * shows is the runner's copy, read-only.
 */
async function runLayout(sandbox: Sandbox, runDir: string, stateDir: string) {
  const dir = async (
    name: string,
    options: { host?: string; sandboxWrites?: boolean; file?: boolean } = {},
  ): Promise<RunDir> => {
    const host = options.host ?? join(runDir, name);
    if (!options.file) {
      await mkdir(host, { recursive: true });
    }
    if (options.sandboxWrites) {
      await sandbox.prepareWritable(host);
    }
    const target = `${SANDBOX_ROOT}/${name}`;
    return {
      host,
      inside: sandbox.pathOf({ source: host, target }),
      mount: (writable = false) => ({ source: host, target, writable }),
    };
  };
  return {
    checkout: await dir('checkout', { sandboxWrites: true }),
    data: await dir('terraform-data', { sandboxWrites: true }),
    out: await dir('out', { sandboxWrites: true }),
    plan: await dir('plan'),
    home: await dir('home'),
    tmp: await dir('tmp', { sandboxWrites: true }),
    gitConfig: await dir('gitconfig', { file: true }),
    cliConfig: await dir('terraform.rc', { file: true }),
    // This one target's state, outside every checkout.
    state: await dir('state', { host: stateDir, sandboxWrites: true }),
  };
}

/** `file://` repositories: mounted read-only where commands read them. */
function localRepositoryMounts(urls: readonly string[]): SandboxMount[] {
  return [
    ...new Set(
      urls.flatMap(url => {
        const repo = checkRepositoryUrl(url);
        return repo.ok && repo.value.transport === 'file'
          ? [url.slice('file://'.length)]
          : [];
      }),
    ),
  ].map(path => ({ source: path, target: path }));
}

const needsNetwork = (urls: readonly string[]) =>
  urls.some(url => {
    const repo = checkRepositoryUrl(url);
    return !repo.ok || repo.value.transport !== 'file';
  });

/**
 * Runs one job end to end and returns its outcome. Never throws: every
 * failure becomes a `failed` or `rejected` outcome with a reason.
 */
export async function runJob(
  rawJob: string,
  options: RunJobOptions,
): Promise<Outcome> {
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
    const environment = config.environments[job.environment]!;
    const policy = environment.planPolicy;
    note(
      sink,
      `${job.operation} of ${job.path} at ${job.ref}@${job.commitSha.slice(
        0,
        12,
      )} for ${job.environment}`,
    );
    const warning = breakGlassWarning(job, config);
    if (warning) {
      note(sink, warning);
    }
    const sandbox = createSandbox(config.sandbox);
    note(
      sink,
      sandbox.isolated
        ? `git and Terraform run ${sandbox.description}`
        : `WARNING: ${sandbox.description}`,
    );

    const planBytes = job.plan ? await readBoundPlan(config, job) : undefined;

    // Traversable, not listable, by the sandbox user: bubblewrap mounts a
    // run's own folders from here as that user.
    for (const dir of [config.workDir, config.stateDir]) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o711);
    }
    runDir = await mkdtemp(join(config.workDir, `run-${job.runId}-`));
    await chmod(runDir, 0o711);
    const stateDir = stateDirOf(config, job);
    const layout = await runLayout(sandbox, runDir, stateDir);

    enter('checkout');
    const liveMounts = localRepositoryMounts([job.repository]);
    await writeFile(
      layout.gitConfig.host,
      gitGlobalConfig(liveMounts.map(m => m.target)),
      { mode: 0o644 },
    );
    const git: GitExecutor = (args, { cwd, env, ...rest }) =>
      sandbox.run(
        {
          file: config.gitPath,
          args,
          cwd: cwd === 'home' ? layout.home.inside : layout.checkout.inside,
          env: {
            ...env,
            TMPDIR: sandbox.privateTmp ? '/tmp' : layout.tmp.inside,
          },
          mounts: [
            layout.home.mount(),
            layout.gitConfig.mount(),
            ...(sandbox.privateTmp ? [] : [layout.tmp.mount(true)]),
            ...liveMounts,
            ...(cwd === 'repository' ? [layout.checkout.mount(true)] : []),
          ],
          network: needsNetwork([job.repository]),
        },
        rest,
      );
    const gitOptions = {
      gitPath: config.gitPath,
      home: layout.home.inside,
      path: SYSTEM_PATH,
      signal,
      globalConfig: layout.gitConfig.inside,
      run: git,
    };
    // The branch must still point at the commit: a plan or apply is of
    // exactly the reviewed head, never an arbitrary fetchable commit.
    const head = await resolveBranch(job.repository, job.ref, {
      ...gitOptions,
      run: remoteExecutor(git),
    });
    if (!head) {
      throw new Rejection(
        `branch "${job.ref}" does not exist in ${job.repository}`,
      );
    }
    if (head.commitSha !== job.commitSha) {
      throw new Rejection(
        `branch "${job.ref}" moved to ${head.commitSha} since ${job.commitSha} was requested`,
      );
    }
    await checkoutCommit(job.repository, job.commitSha, layout.checkout.host, {
      ...gitOptions,
      sink,
      signal,
    });
    note(sink, `checked out ${job.commitSha}`);

    enter('module-check');
    // Load once, then judge: everything in the target and the local
    // modules it calls that could reach outside Terraform's own evaluation
    // is refused unless this environment allows it by name — before any of
    // it reaches `terraform init`.
    const context: InspectionContext = {
      environment: job.environment,
      policy,
      modules: job.modules,
    };
    const loaded = await loadModuleGraph({
      checkoutDir: layout.checkout.host,
      folder: job.path,
    });
    if (!loaded.ok) {
      throw new Rejection(loaded.reason);
    }
    const graph = loaded.value;
    const judge = () => {
      const result = inspect(graph, context);
      if (!result.ok) {
        for (const finding of result.findings.slice(1, 20)) {
          note(sink, `also refused: ${finding}`);
        }
        throw new Rejection(result.reason);
      }
      return result;
    };
    const before = judge();
    note(
      sink,
      `module sources vetted: ${
        before.moduleSources
          .map(m => `${m.source} (${m.commitSha.slice(0, 12)})`)
          .join(', ') || 'none'
      }`,
    );

    const folderDir = join(layout.checkout.host, job.path);
    const ownBackend = rootBackends(graph).length > 0;
    if (!ownBackend) {
      // The runner keeps this target's state, outside every checkout.
      await writeLocalBackend(
        folderDir,
        `${layout.state.inside}/terraform.tfstate`,
      );
    }
    const moduleRepositories = before.moduleSources.flatMap(m => {
      const source = parseModuleSource(m.source);
      return source.ok ? [source.value.repository] : [];
    });
    const moduleMounts = localRepositoryMounts(moduleRepositories);
    await writeFile(
      layout.gitConfig.host,
      gitGlobalConfig([...liveMounts, ...moduleMounts].map(m => m.target)),
      { mode: 0o644 },
    );
    const providerMirror =
      config.providerMirrorDir ?? join(config.workDir, 'provider-mirror');
    await mkdir(providerMirror, { recursive: true });
    const mirrorMount: SandboxMount = {
      source: providerMirror,
      target: `${SANDBOX_ROOT}/providers`,
    };
    await writeCliConfig(layout.cliConfig.host, sandbox.pathOf(mirrorMount));

    const env = {
      // Terraform downloads catalog modules with git: allow exactly their transports.
      ...gitEnvironment(
        layout.home.inside,
        moduleRepositories,
        SYSTEM_PATH,
        layout.gitConfig.inside,
      ),
      TMPDIR: sandbox.privateTmp ? '/tmp' : layout.tmp.inside,
      // Terraform's data directory lives outside the checkout: a committed
      // `.terraform/modules` would otherwise count as already installed, and
      // plan would run that code instead of the vetted module.
      TF_DATA_DIR: layout.data.inside,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      TF_CLI_CONFIG_FILE: layout.cliConfig.inside,
      // On ECS the task role's credentials reach the AWS provider and the
      // s3 backend through the container credentials endpoint; nothing else
      // of the runner's environment does.
      ...awsTaskEnvironment(process.env),
    };
    const cwd = sandbox.pathOf({
      source: folderDir,
      target: `${layout.checkout.mount().target}/${job.path}`,
    });
    const terraform = async (
      args: string[],
      run: { mounts: SandboxMount[]; network: boolean; capture?: boolean },
    ) => {
      if (signal.aborted) {
        throw new Error('aborted');
      }
      const result = await sandbox.run(
        {
          file: config.terraformPath,
          args,
          cwd,
          env,
          network: run.network,
          mounts: [
            layout.home.mount(),
            layout.gitConfig.mount(),
            layout.cliConfig.mount(),
            ...(sandbox.privateTmp ? [] : [layout.tmp.mount(true)]),
            mirrorMount,
            ...run.mounts,
          ],
        },
        { signal, sink, captureStdout: run.capture },
      );
      if (signal.aborted) {
        throw new Error('aborted');
      }
      if (result.code !== 0) {
        throw new Error(`terraform ${args[0]} failed (exit ${result.code})`);
      }
      return result.stdout;
    };
    const state = (writable: boolean) =>
      ownBackend ? [] : [layout.state.mount(writable)];

    enter('init');
    // init runs none of the target's code: it downloads the vetted modules
    // and providers from the runner's mirror, and writes the lock file.
    await terraform(['init', '-input=false', '-no-color'], {
      mounts: [
        layout.checkout.mount(true),
        layout.data.mount(true),
        ...state(true),
        ...moduleMounts,
      ],
      network: policy.allowNetwork || needsNetwork(moduleRepositories),
    });
    // From here on the target's code may run: it gets nothing to write
    // but its plan output and its own target's state.
    await sandbox.seal(layout.checkout.host);
    await sandbox.seal(layout.data.host);

    enter('code-check');
    const installed = await addInstalledModules(graph, {
      terraformDataDir: layout.data.host,
      mapping: {
        prefixes: [
          { inside: layout.data.inside, outside: layout.data.host },
          { inside: layout.checkout.inside, outside: layout.checkout.host },
        ],
      },
    });
    if (!installed.ok) {
      throw new Rejection(installed.reason);
    }
    const inspected = judge();
    note(
      sink,
      `plan policy of ${job.environment}: ${
        inspected.folders
      } module folder(s) inspected; providers: ${
        inspected.providers.join(', ') || 'built-in terraform only'
      }`,
    );

    const read = [layout.checkout.mount(), layout.data.mount()];
    const base = {
      commitSha: job.commitSha,
      moduleSources: inspected.moduleSources.map(m => m.source),
    };
    if (job.operation === 'plan') {
      enter('plan');
      // The gate holds this target's lock: Terraform's own state lock is
      // not needed, so a plan never writes state.
      await terraform(
        [
          'plan',
          '-input=false',
          '-no-color',
          '-lock=false',
          `-out=${layout.out.inside}/plan.tfplan`,
        ],
        {
          mounts: [...read, layout.out.mount(true), ...state(false)],
          network: policy.allowNetwork,
        },
      );
      // Every process of the plan is gone: the runner alone takes the file
      // Terraform wrote (never through a symlink), stores it, and shows
      // exactly the bytes it stored.
      const written = await readRegularFile(
        join(layout.out.host, 'plan.tfplan'),
        MAX_PLAN_BYTES,
      );
      if (!written?.ok) {
        throw new Error(
          `terraform plan left no plan file${
            written ? `: it ${written.reason}` : ''
          }`,
        );
      }
      const planSha256 = await savePlan(config, job, written.value);
      await writeFile(join(layout.plan.host, 'plan.tfplan'), written.value, {
        mode: 0o644,
      });
      const { plan, changes } = summarisePlan(
        await terraform(
          ['show', '-json', `${layout.plan.inside}/plan.tfplan`],
          {
            mounts: [...read, layout.plan.mount()],
            network: false,
            capture: true,
          },
        ),
      );
      return { status: 'succeeded', ...base, plan, changes, planSha256 };
    }

    enter('apply');
    await writeFile(join(layout.plan.host, 'plan.tfplan'), planBytes!, {
      mode: 0o644,
    });
    await terraform(
      [
        'apply',
        '-input=false',
        '-no-color',
        '-lock-timeout=60s',
        `${layout.plan.inside}/plan.tfplan`,
      ],
      {
        mounts: [...read, layout.plan.mount(), ...state(true)],
        network: policy.allowNetwork,
      },
    );
    return { status: 'succeeded', ...base };
  } catch (error) {
    if (signal.aborted) {
      const reason =
        signal.reason instanceof Error ? signal.reason.message : 'cancelled';
      return reason === 'timeout'
        ? {
            status: 'failed',
            error: `timed out after ${config.timeoutSeconds} s during ${phase}`,
          }
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
