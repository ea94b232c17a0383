import { join } from 'node:path';
import {
  RunnerConfig,
  runnerConfigSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { z } from 'zod';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/** What the local dispatcher needs from app-config. */
export interface LocalRunnerOptions {
  directory: string;
  terraformPath?: string;
  providerMirror?: string;
  sandbox?: false | { bwrapPath?: string; uid?: number; gid?: number };
  repositories: string[];
  environments: SealedRunnerConfig['environments'];
  timeoutSeconds: number;
  /** The gate's job signing public key (PEM). */
  jobPublicKey: string;
  jobLifetimeSeconds: number;
}

export function localDispatcherConfig(
  config: SealedRunnerConfig,
  jobPublicKey: string,
): LocalRunnerOptions {
  const local = config.runner.local;
  if (!local) {
    throw new Error(
      'sealedRunner.runner.local.directory must be set for the local runner (sealedRunner.runner.type: local)',
    );
  }
  return {
    ...local,
    repositories: config.repositories,
    environments: config.environments,
    timeoutSeconds: config.runner.timeoutSeconds,
    jobPublicKey,
    jobLifetimeSeconds: config.jobSigning.lifetimeSeconds,
  };
}

/**
 * The runner's own policy for the embedded default. Backend and runner are
 * one OS user here; git and Terraform run in the runner's bubblewrap
 * sandbox (as another, unprivileged user when the backend is root), and the
 * runner re-checks every job against this copy of the rules.
 */
export function localRunnerConfig(input: LocalRunnerOptions): RunnerConfig {
  const parsed = runnerConfigSchema.safeParse({
    repositories: input.repositories,
    environments: Object.fromEntries(
      Object.entries(input.environments).map(([name, env]) => [
        name,
        { applyBranches: env.applyBranches, planPolicy: env.planPolicy },
      ]),
    ),
    workDir: join(input.directory, 'work'),
    planDir: join(input.directory, 'plans'),
    stateDir: join(input.directory, 'state'),
    providerMirrorDir:
      input.providerMirror ?? join(input.directory, 'provider-mirror'),
    terraformPath: input.terraformPath ?? 'terraform',
    timeoutSeconds: input.timeoutSeconds,
    jobPublicKey: input.jobPublicKey,
    jobLifetimeSeconds: input.jobLifetimeSeconds,
    seenJobsDir: join(input.directory, 'seen-jobs'),
    sandbox:
      input.sandbox === false ? false : { type: 'bwrap', ...input.sandbox },
  });
  if (!parsed.success) {
    throw new Error(
      `Invalid local runner configuration:\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
