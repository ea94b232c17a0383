import { mkdir } from 'node:fs/promises';
import {
  checkBranchName,
  checkCommitSha,
  checkRepositoryUrl,
  checkTagName,
  GIT_HARDENING_OPTIONS as HARDENING,
  gitEnvironment,
  SYSTEM_PATH,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { EventSink } from './events';
import { CommandResult, runCommand } from './process';

/**
 * Runs one git command: the backend runs git directly; the runner runs it
 * in its sandbox. `cwd` is `'repository'` for the checkout being made.
 *
 * @public
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

/** @public */
export interface GitOptions {
  gitPath?: string;
  /** HOME for git; a directory the caller owns. */
  home: string;
  /** PATH for git itself (it runs its own helpers such as ssh). */
  path?: string;
  signal?: AbortSignal;
  /** `GIT_CONFIG_GLOBAL` (default `/dev/null`: none). */
  globalConfig?: string;
  /** How git runs (default: directly, as this process). */
  run?: GitExecutor;
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

function assertChecked(result: { ok: boolean; reason?: string }): void {
  if (!result.ok) {
    throw new Error(result.reason);
  }
}

/** The output of a hardened `git ls-remote` of a checked repository. */
async function lsRemote(
  repository: string,
  args: string[],
  refs: string[],
  options: GitOptions,
  what: string,
): Promise<string> {
  const run = options.run ?? directExecutor(options);
  const result = await run(
    [
      ...HARDENING,
      'ls-remote',
      ...args,
      '--end-of-options',
      repository,
      ...refs,
    ],
    {
      cwd: 'home',
      env: gitEnvironment(
        options.home,
        [repository],
        options.path ?? SYSTEM_PATH,
        options.globalConfig,
      ),
      signal: options.signal ?? new AbortController().signal,
      captureStdout: true,
    },
  );
  if (result.code !== 0) {
    throw new Error(`${what} of ${repository} failed (exit ${result.code})`);
  }
  return result.stdout;
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
  const stdout = await lsRemote(
    repository,
    ['--symref'],
    refs,
    options,
    'git ls-remote',
  );
  let name = branch;
  for (const line of stdout.split('\n')) {
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
 * The commit each tag of a repository points at (annotated tags peeled to
 * their commit), with the same hardened `git ls-remote`.
 *
 * @public
 */
export async function resolveTags(
  repository: string,
  options: GitOptions,
): Promise<Map<string, string>> {
  assertChecked(checkRepositoryUrl(repository));
  const stdout = await lsRemote(
    repository,
    ['--tags'],
    [],
    options,
    'git ls-remote --tags',
  );
  const direct = new Map<string, string>();
  const peeled = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^([0-9a-f]{40})\trefs\/tags\/(\S+?)(\^\{\})?$/.exec(line);
    if (match && checkTagName(match[2]).ok) {
      (match[3] ? peeled : direct).set(match[2], match[1]);
    }
  }
  return new Map(
    [...direct].map(([tag, sha]) => [tag, peeled.get(tag) ?? sha]),
  );
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
