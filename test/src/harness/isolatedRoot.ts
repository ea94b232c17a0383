import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DemoWorkspace, fixtureGit, prepareDemo } from '@sealed-runner/demo';

/** The repository checkout the tests run from. */
export const REPO_ROOT = dirname(
  dirname(require.resolve('@sealed-runner/e2e-tests/package.json')),
);

/**
 * A throwaway copy of the repository's runtime layout: the real
 * app-config.yaml and demo org, its own demo workspace, database and runner
 * state. A backend started with `cwd: <root>/packages/backend` resolves the
 * app-config's relative paths into it, exactly as `yarn start` does in the
 * checkout.
 */
export interface IsolatedRoot {
  root: string;
  demo: DemoWorkspace;
  /** The runner's directory (work, plans, state, runs). */
  runnerDir: string;
  cleanup(): Promise<void>;
}

export async function createIsolatedRoot(): Promise<IsolatedRoot> {
  const root = await mkdtemp(join(tmpdir(), 'sealed-runner-e2e-'));
  // The sandbox user reaches the runner's folders through it (never lists it).
  await chmod(root, 0o711);
  await mkdir(join(root, 'packages/backend'), { recursive: true });
  await mkdir(join(root, 'examples'), { recursive: true });
  await copyFile(
    join(REPO_ROOT, 'app-config.yaml'),
    join(root, 'app-config.yaml'),
  );
  await copyFile(
    join(REPO_ROOT, 'examples/org.yaml'),
    join(root, 'examples/org.yaml'),
  );
  // Backstage locates the monorepo root from the working directory.
  await writeFile(
    join(root, 'package.json'),
    JSON.stringify({
      name: 'e2e-root',
      private: true,
      workspaces: ['packages/*'],
    }),
  );
  await writeFile(
    join(root, 'packages/backend/package.json'),
    JSON.stringify({ name: 'backend', private: true }),
  );
  const demo = await prepareDemo(root);
  return {
    root,
    demo,
    runnerDir: join(root, '.sealed-runner/runner'),
    // SEALED_RUNNER_E2E_KEEP=1 keeps the root (logs, database, runner state) for debugging.
    cleanup: async () => {
      if (!process.env.SEALED_RUNNER_E2E_KEEP) {
        // A runner may still be deleting its own work directory.
        await rm(root, {
          recursive: true,
          force: true,
          maxRetries: 10,
          retryDelay: 200,
        });
      }
    },
  };
}

/**
 * Pushes a branch to the demo infrastructure-live repository whose
 * payments/dev folder adds `count` built-in resources: a real plan that
 * takes seconds, for tests that need a run in flight.
 */
export async function pushSlowBranch(
  root: IsolatedRoot,
  branch: string,
  count: number,
): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'sealed-runner-e2e-branch-'));
  const git = (...args: string[]) => fixtureGit(work, ...args);
  try {
    git('clone', '--quiet', root.demo.infrastructureLiveUrl, '.');
    git('checkout', '--quiet', '-b', branch);
    await writeFile(
      join(work, 'live/dev/payments/load.tf'),
      `resource "terraform_data" "load" {\n  count = ${count}\n  input = count.index\n}\n`,
    );
    git('add', '--all');
    git('commit', '--quiet', '--message', `add ${count} resources`);
    git('push', '--quiet', 'origin', branch);
    return git('rev-parse', 'HEAD');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Pushes a branch of a demo repository (infrastructure-live by default)
 * made from `main` plus `files` (paths relative to the repository), as a
 * commit on a feature branch would; returns its head commit.
 */
export async function pushBranch(
  repositoryUrl: string,
  branch: string,
  files: Record<string, string>,
  options: { from?: string; force?: boolean } = {},
): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'sealed-runner-e2e-branch-'));
  const git = (...args: string[]) => fixtureGit(work, ...args);
  try {
    git('clone', '--quiet', repositoryUrl, '.');
    git('checkout', '--quiet', '-B', branch, options.from ?? 'origin/main');
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), content);
    }
    git('add', '--all');
    git('commit', '--quiet', '--allow-empty', '--message', `change ${branch}`);
    git(
      'push',
      '--quiet',
      ...(options.force ? ['--force'] : []),
      'origin',
      `HEAD:refs/heads/${branch}`,
    );
    return git('rev-parse', 'HEAD');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
