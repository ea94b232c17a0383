import { execFile } from 'node:child_process';
import { GIT_HARDENING_OPTIONS, gitEnvironment } from '../git';
import { SYSTEM_PATH } from '../commands';
import {
  checkBranchName,
  checkCommitSha,
  checkRepositoryUrl,
  checkTagName,
  valueOf,
} from '../validation';

/** More than any real repository's refs; a remote that sends more is refused. */
const MAX_LS_REMOTE_BYTES = 64 * 1024 * 1024;

/**
 * Runs one `git` command with exactly the given environment and returns its
 * exit code and standard output: the gate runs git directly; the runner
 * runs it in its sandbox.
 *
 * @public
 */
export type GitRemoteExecutor = (
  args: string[],
  options: { env: Record<string, string>; signal: AbortSignal },
) => Promise<{ code: number | null; stdout: string }>;

/**
 * How {@link resolveBranch} and {@link resolveTags} run git.
 *
 * @public
 */
export interface GitRemoteOptions {
  /** The git program (default `git`, looked up on `path`). */
  gitPath?: string;
  /** HOME for git; a directory the caller owns. */
  home: string;
  /** PATH for git itself (it runs its own helpers such as ssh); default {@link SYSTEM_PATH}. */
  path?: string;
  signal?: AbortSignal;
  /** `GIT_CONFIG_GLOBAL` (default `/dev/null`: none). */
  globalConfig?: string;
  /** How git runs (default: directly, as this process, in `home`). */
  run?: GitRemoteExecutor;
}

function directExecutor(options: GitRemoteOptions): GitRemoteExecutor {
  return (args, { env, signal }) =>
    new Promise((resolve, reject) => {
      execFile(
        options.gitPath ?? 'git',
        args,
        {
          cwd: options.home,
          env,
          signal,
          shell: false,
          encoding: 'utf8',
          maxBuffer: MAX_LS_REMOTE_BYTES,
        },
        (error, stdout) => {
          if (!error) {
            resolve({ code: 0, stdout });
          } else if (typeof error.code === 'number') {
            resolve({ code: error.code, stdout });
          } else if (error.signal) {
            resolve({ code: null, stdout });
          } else {
            // Not started, aborted, or more output than any remote sends.
            reject(error);
          }
        },
      );
    });
}

/** The output of a hardened `git ls-remote` of a checked repository. */
async function lsRemote(
  repository: string,
  args: string[],
  refs: string[],
  options: GitRemoteOptions,
  what: string,
): Promise<string> {
  const run = options.run ?? directExecutor(options);
  const result = await run(
    [
      ...GIT_HARDENING_OPTIONS,
      'ls-remote',
      ...args,
      '--end-of-options',
      repository,
      ...refs,
    ],
    {
      env: gitEnvironment(
        options.home,
        [repository],
        options.path ?? SYSTEM_PATH,
        options.globalConfig,
      ),
      signal: options.signal ?? new AbortController().signal,
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
 * branch, resolves the repository's default branch (`HEAD`). The gate uses
 * it to pin a run to a commit; the runner, to check the branch still points
 * there.
 *
 * @public
 */
export async function resolveBranch(
  repository: string,
  branch: string | undefined,
  options: GitRemoteOptions,
): Promise<{ branch: string; commitSha: string } | undefined> {
  valueOf(checkRepositoryUrl(repository));
  if (branch !== undefined) {
    valueOf(checkBranchName(branch));
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
      valueOf(checkBranchName(name));
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
  options: GitRemoteOptions,
): Promise<Map<string, string>> {
  valueOf(checkRepositoryUrl(repository));
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
