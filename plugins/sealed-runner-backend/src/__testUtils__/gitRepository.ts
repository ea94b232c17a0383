import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureGit } from '@sealed-runner/demo';

/**
 * A real bare git repository with branches `main` and `feature`, reachable
 * as a `file://` URL, so branch resolution runs real `git ls-remote`.
 */
export class GitRepository {
  readonly root: string;
  readonly url: string;
  private readonly work: string;
  private commits = 0;

  private constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'sealed-runner-git-test-'));
    this.work = join(this.root, 'work');
    this.url = `file://${join(this.root, 'live.git')}`;
  }

  static create(): GitRepository {
    const repo = new GitRepository();
    try {
      repo.git(
        repo.root,
        'init',
        '--quiet',
        '--bare',
        '--initial-branch=main',
        'live.git',
      );
      repo.git(repo.root, 'init', '--quiet', '--initial-branch=main', 'work');
      repo.git(
        repo.work,
        'remote',
        'add',
        'origin',
        join(repo.root, 'live.git'),
      );
      repo.commit('main');
      repo.commit('feature');
      return repo;
    } catch (error) {
      repo.remove();
      throw error;
    }
  }

  private git(cwd: string, ...args: string[]): string {
    return fixtureGit(cwd, ...args);
  }

  /** Pushes a new commit to `branch` (created from the current branch if new) and returns its sha. */
  commit(branch: string): string {
    const branches = this.git(
      this.work,
      'branch',
      '--list',
      '--format=%(refname:short)',
    ).split('\n');
    if (this.commits === 0) {
      // The first commit is made on the unborn initial branch.
    } else if (branches.includes(branch)) {
      this.git(this.work, 'checkout', '--quiet', branch);
    } else {
      this.git(this.work, 'checkout', '--quiet', '-b', branch);
    }
    this.commits += 1;
    writeFileSync(
      join(this.work, 'README.md'),
      `commit ${this.commits} on ${branch}\n`,
    );
    this.git(this.work, 'add', 'README.md');
    this.git(this.work, 'commit', '--quiet', '-m', `commit ${this.commits}`);
    this.git(this.work, 'push', '--quiet', 'origin', branch);
    return this.head(branch);
  }

  deleteBranch(branch: string): void {
    this.git(this.work, 'push', '--quiet', 'origin', '--delete', branch);
  }

  head(branch: string): string {
    return this.git(
      join(this.root, 'live.git'),
      'rev-parse',
      `refs/heads/${branch}`,
    );
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
