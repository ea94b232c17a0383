import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** git as a test fixture: no global or system config, a fixed identity. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=Fixture',
      '-c',
      'user.email=fixture@example.invalid',
      ...args,
    ],
    {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: cwd,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
      },
    },
  ).trim();
}

/**
 * A real bare git repository, reachable as a `file://` URL, with one commit
 * (`README.md`) on `main`.
 */
export class BareRepository {
  readonly root: string;
  readonly gitDir: string;
  readonly url: string;

  private constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'sealed-runner-bare-'));
    this.gitDir = join(this.root, 'live.git');
    this.url = `file://${this.gitDir}`;
  }

  static create(): BareRepository {
    const repo = new BareRepository();
    try {
      git(
        repo.root,
        'init',
        '--quiet',
        '--bare',
        '--initial-branch=main',
        'live.git',
      );
      const seed = join(repo.root, 'seed');
      git(repo.root, 'clone', '--quiet', repo.gitDir, seed);
      git(seed, 'checkout', '--quiet', '-b', 'main');
      writeFileSync(join(seed, 'README.md'), 'infrastructure-live\n');
      git(seed, 'add', 'README.md');
      git(seed, 'commit', '--quiet', '-m', 'seed');
      git(seed, 'push', '--quiet', 'origin', 'main');
      rmSync(seed, { recursive: true, force: true });
      return repo;
    } catch (error) {
      repo.remove();
      throw error;
    }
  }

  /** Creates `branch` at the head of `main`. */
  createBranch(branch: string): void {
    git(this.gitDir, 'branch', branch, 'main');
  }

  /** Every branch and the commit it points to. */
  heads(): Record<string, string> {
    const out = git(
      this.gitDir,
      'for-each-ref',
      '--format=%(refname:short) %(objectname)',
      'refs/heads',
    );
    return Object.fromEntries(
      out
        .split('\n')
        .filter(Boolean)
        .map(line => line.split(' ')),
    );
  }

  /** The files on `branch`. */
  files(branch: string): string[] {
    return git(this.gitDir, 'ls-tree', '-r', '--name-only', branch)
      .split('\n')
      .filter(Boolean);
  }

  show(branch: string, path: string): string {
    return git(this.gitDir, 'show', `${branch}:${path}`);
  }

  /** `git log -1 --format=<format>` of `branch`, e.g. `%an` or `%s`. */
  tip(branch: string, format: string): string {
    return git(this.gitDir, 'log', '-1', `--format=${format}`, branch);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
