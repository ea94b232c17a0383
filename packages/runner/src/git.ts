import { mkdir } from 'node:fs/promises';
import {
  checkCommitSha,
  checkRepositoryUrl,
  GIT_HARDENING_OPTIONS as HARDENING,
  gitEnvironment,
  SYSTEM_PATH,
  valueOf,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  GitRemoteExecutor,
  GitRemoteOptions,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { EventSink } from './events';
import { CommandResult, runCommand } from './process';

/**
 * Runs one git command of a checkout: directly (the tests), or in the
 * runner's sandbox. `cwd` is `'repository'` for the checkout being made.
 */
export type GitExecutor = (
  args: string[],
  options: {
    cwd: 'home' | 'repository';
    env: Record<string, string>;
    signal: AbortSignal;
    sink?: EventSink;
    captureStdout?: boolean;
  },
) => Promise<CommandResult>;

/** The options of {@link resolveBranch}, with a checkout's executor. */
export interface GitOptions extends Omit<GitRemoteOptions, 'run'> {
  /** How git runs (default: directly, as this process). */
  run?: GitExecutor;
}

/** The same executor for `git ls-remote`, which runs in HOME and is read, not logged. */
export function remoteExecutor(run: GitExecutor): GitRemoteExecutor {
  return (args, options) =>
    run(args, { ...options, cwd: 'home', captureStdout: true });
}

function directExecutor(
  options: GitOptions,
  repositoryDir?: string,
): GitExecutor {
  return (args, { cwd, ...rest }) =>
    runCommand(options.gitPath ?? 'git', args, {
      ...rest,
      cwd: cwd === 'home' ? options.home : repositoryDir!,
    });
}

/**
 * Fetches exactly one commit (shallow) into a fresh repository at `dir` and
 * checks it out detached.
 */
export async function checkoutCommit(
  repository: string,
  commitSha: string,
  dir: string,
  options: GitOptions & { sink: EventSink; signal: AbortSignal },
): Promise<void> {
  valueOf(checkRepositoryUrl(repository));
  valueOf(checkCommitSha(commitSha));
  await mkdir(dir, { recursive: true });
  const run = options.run ?? directExecutor(options, dir);
  const commandOptions = {
    cwd: 'repository' as const,
    env: gitEnvironment(
      options.home,
      [repository],
      options.path ?? SYSTEM_PATH,
      options.globalConfig,
    ),
    signal: options.signal,
    sink: options.sink,
  };
  const steps: string[][] = [
    ['init', '--quiet', '--template=', '.'],
    [
      'fetch',
      '--quiet',
      '--depth=1',
      '--no-tags',
      '--no-recurse-submodules',
      '--end-of-options',
      repository,
      commitSha,
    ],
    ['checkout', '--quiet', '--detach', '--force', commitSha],
  ];
  for (const step of steps) {
    const result = await run([...HARDENING, ...step], commandOptions);
    if (result.code !== 0) {
      throw new Error(`git ${step[0]} failed (exit ${result.code})`);
    }
  }
  const head = await run([...HARDENING, 'rev-parse', 'HEAD'], {
    ...commandOptions,
    sink: undefined,
    captureStdout: true,
  });
  if (head.stdout.trim() !== commitSha) {
    throw new Error(
      `checked out ${head.stdout.trim()} instead of ${commitSha}`,
    );
  }
}
