import { mkdir } from 'node:fs/promises';
import {
  checkBranchName,
  checkCommitSha,
  checkRepositoryUrl,
  GIT_HARDENING_OPTIONS as HARDENING,
  gitEnvironment,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { EventSink } from './events';
import { runCommand } from './process';


/** @public */
export interface GitOptions {
  gitPath?: string;
  /** HOME for git; a directory the caller owns. */
  home: string;
  /** PATH for git itself (it runs its own helpers such as ssh). */
  path?: string;
  signal?: AbortSignal;
}

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

function assertChecked(result: { ok: boolean; reason?: string }): void {
  if (!result.ok) {
    throw new Error(result.reason);
  }
}

/**
 * Resolves a branch of a repository to its head commit with
 * `git ls-remote`, or `undefined` if the branch does not exist. Without a
 * branch, resolves the repository's default branch (`HEAD`).
 *
 * @public
 */
export async function resolveBranch(
  repository: string,
  branch: string | undefined,
  options: GitOptions,
): Promise<{ branch: string; commitSha: string } | undefined> {
  assertChecked(checkRepositoryUrl(repository));
  if (branch !== undefined) {
    assertChecked(checkBranchName(branch));
  }
  const refs = branch === undefined ? ['HEAD'] : [`refs/heads/${branch}`];
  const result = await runCommand(
    options.gitPath ?? 'git',
    [...HARDENING, 'ls-remote', '--symref', '--end-of-options', repository, ...refs],
    {
      cwd: options.home,
      env: gitEnvironment(options.home, [repository], options.path ?? DEFAULT_PATH),
      signal: options.signal ?? new AbortController().signal,
      captureStdout: true,
    },
  );
  if (result.code !== 0) {
    throw new Error(`git ls-remote of ${repository} failed (exit ${result.code})`);
  }
  let name = branch;
  for (const line of result.stdout.split('\n')) {
    const symref = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
    if (symref) {
      name = symref[1];
      continue;
    }
    const [sha, ref] = line.split('\t');
    if (ref === refs[0] && checkCommitSha(sha).ok && name !== undefined) {
      assertChecked(checkBranchName(name));
      return { branch: name, commitSha: sha };
    }
  }
  return undefined;
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
  assertChecked(checkRepositoryUrl(repository));
  assertChecked(checkCommitSha(commitSha));
  await mkdir(dir, { recursive: true });
  const git = options.gitPath ?? 'git';
  const commandOptions = {
    cwd: dir,
    env: gitEnvironment(options.home, [repository], options.path ?? DEFAULT_PATH),
    signal: options.signal,
    sink: options.sink,
  };
  const steps: string[][] = [
    ['init', '--quiet', '--template=', '.'],
    [
      'fetch', '--quiet', '--depth=1', '--no-tags', '--no-recurse-submodules',
      '--end-of-options', repository, commitSha,
    ],
    ['checkout', '--quiet', '--detach', '--force', commitSha],
  ];
  for (const step of steps) {
    const result = await runCommand(git, [...HARDENING, ...step], commandOptions);
    if (result.code !== 0) {
      throw new Error(`git ${step[0]} failed (exit ${result.code})`);
    }
  }
  const head = await runCommand(git, [...HARDENING, 'rev-parse', 'HEAD'], {
    ...commandOptions,
    sink: undefined,
    captureStdout: true,
  });
  if (head.stdout.trim() !== commitSha) {
    throw new Error(`checked out ${head.stdout.trim()} instead of ${commitSha}`);
  }
}
