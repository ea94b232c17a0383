import { mkdir } from 'node:fs/promises';
import {
  checkBranchName,
  checkCommitSha,
  checkRepositoryUrl,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { EventSink } from './events';
import { runCommand } from './process';

/**
 * Options that make git ignore everything but what we pass: no hooks, no
 * fsmonitor, no redirects, no submodules, and symlinks checked out as plain
 * files so nothing in a checkout can point outside it.
 */
const HARDENING = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'core.symlinks=false',
  '-c', 'http.followRedirects=false',
  '-c', 'submodule.recurse=false',
  '-c', 'protocol.version=2',
  '-c', 'credential.helper=',
];

/** Transport names as GIT_ALLOW_PROTOCOL spells them. */
export function gitProtocolsFor(urls: readonly string[]): string {
  const protocols = new Set<string>();
  for (const url of urls) {
    const repo = checkRepositoryUrl(url);
    if (repo.ok) {
      protocols.add(repo.value.transport);
    }
  }
  return [...protocols].sort().join(':');
}

/**
 * The environment for git (and for Terraform's own git module downloads):
 * no system or global config, no prompts, and only the transports of the
 * given URLs. `ext::`, `fd::` and everything else stay disabled.
 */
export function gitEnvironment(
  home: string,
  urls: readonly string[],
  path: string,
): Record<string, string> {
  return {
    PATH: path,
    HOME: home,
    LANG: 'C.UTF-8',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_ALLOW_PROTOCOL: gitProtocolsFor(urls) || 'none',
    GIT_PROTOCOL_FROM_USER: '0',
  };
}

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
