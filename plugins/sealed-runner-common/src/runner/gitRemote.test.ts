import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitEnvironment, gitProtocolsFor } from '../git';
import { resolveBranch, resolveTags } from './gitRemote';

const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';

/** git for the fixture repositories, with an author and no user config. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH,
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Sealed Runner Test',
      GIT_AUTHOR_EMAIL: 'test@sealed-runner.invalid',
      GIT_COMMITTER_NAME: 'Sealed Runner Test',
      GIT_COMMITTER_EMAIL: 'test@sealed-runner.invalid',
    },
  }).trim();
}

let root: string;
let home: string;
let canary: string;
let url: string;
const heads: Record<string, string> = {};

/** Runs git with exactly the given environment; resolves with its exit code and stderr. */
function runGit(args: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number; stderr: string }>(resolve => {
    execFile('git', args, { env, cwd }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
    });
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sealed-runner-git-test-'));
  home = join(root, 'home');
  canary = join(root, 'pwned');
  await mkdir(home);
  const work = join(root, 'work');
  await mkdir(work);
  // The default branch is deliberately not "main": resolving the default
  // branch must read HEAD, not guess.
  git(work, 'init', '--quiet', '--initial-branch=trunk');
  await writeFile(join(work, 'main.tf'), 'resource "terraform_data" "a" {}\n');
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '--message', 'first');
  heads.trunk = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '--quiet', '-b', 'feature/x');
  await writeFile(join(work, 'main.tf'), 'resource "terraform_data" "b" {}\n');
  git(work, 'commit', '--quiet', '--all', '--message', 'second');
  heads['feature/x'] = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '--quiet', 'trunk');
  git(root, 'clone', '--quiet', '--bare', work, join(root, 'live.git'));
  url = `file://${join(root, 'live.git')}`;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('resolveBranch', () => {
  it('resolves an existing branch to its head commit', async () => {
    await expect(resolveBranch(url, 'feature/x', { home })).resolves.toEqual({
      branch: 'feature/x',
      commitSha: heads['feature/x'],
    });
    await expect(resolveBranch(url, 'trunk', { home })).resolves.toEqual({
      branch: 'trunk',
      commitSha: heads.trunk,
    });
  });

  it('returns undefined for a branch that does not exist', async () => {
    await expect(resolveBranch(url, 'main', { home })).resolves.toBeUndefined();
  });

  it('does not resolve a tag or a prefix of a branch as a branch', async () => {
    git(join(root, 'live.git'), 'tag', 'v1', heads.trunk);
    await expect(resolveBranch(url, 'v1', { home })).resolves.toBeUndefined();
    await expect(
      resolveBranch(url, 'feature', { home }),
    ).resolves.toBeUndefined();
  });

  it('resolves the default branch when no branch is given', async () => {
    await expect(resolveBranch(url, undefined, { home })).resolves.toEqual({
      branch: 'trunk',
      commitSha: heads.trunk,
    });
  });

  it('fails with the repository named when the repository does not exist', async () => {
    const missing = `file://${join(root, 'missing.git')}`;
    await expect(resolveBranch(missing, 'trunk', { home })).rejects.toThrow(
      `git ls-remote of ${missing} failed`,
    );
  });

  it('does not run git from a hostile PATH', async () => {
    const bin = join(root, 'evil-bin');
    await mkdir(bin);
    await writeFile(join(bin, 'git'), `#!/bin/sh\ntouch ${canary}\n`, {
      mode: 0o755,
    });
    await expect(
      resolveBranch(url, 'trunk', {
        home,
        gitPath: '/usr/bin/git',
        path: `${bin}:${PATH}`,
      }),
    ).resolves.toEqual({ branch: 'trunk', commitSha: heads.trunk });
    expect(existsSync(canary)).toBe(false);
  });

  describe('refuses hostile input before git runs', () => {
    it.each([
      ['an --upload-pack option', () => `--upload-pack=touch ${canary}`],
      ['an option', () => '-x'],
      ['a range', () => 'a..b'],
      ['a full ref name', () => 'refs/heads/trunk'],
      ['a revision expression', () => 'trunk~1'],
    ])('as a branch: %s', async (_, branch) => {
      await expect(resolveBranch(url, branch(), { home })).rejects.toThrow(
        /^branch /,
      );
      expect(existsSync(canary)).toBe(false);
    });

    it.each([
      ['the ext:: transport', () => `ext::sh -c touch% ${canary}`],
      ['the ext:: transport without spaces', () => `ext::touch`],
      ['an --upload-pack option', () => `--upload-pack=touch ${canary}`],
      ['an option', () => '--upload-pack=x'],
      [
        'an ssh ProxyCommand as the host',
        () => `ssh://-oProxyCommand=touch%20${canary}/x`,
      ],
      ['a plain local path', () => join(root, 'live.git')],
    ])('as a repository: %s', async (_, repository) => {
      await expect(
        resolveBranch(repository(), 'trunk', { home }),
      ).rejects.toThrow(/^repository URL /);
      expect(existsSync(canary)).toBe(false);
    });
  });
});

describe('resolveTags', () => {
  it('maps each tag to its commit, annotated tags peeled to the commit', async () => {
    const bare = join(root, 'live.git');
    git(bare, 'tag', 'v2', heads['feature/x']);
    git(bare, 'tag', '--annotate', '--message', 'release', 'v3', heads.trunk);
    const tags = await resolveTags(url, { home });
    expect(tags.get('v2')).toBe(heads['feature/x']);
    expect(tags.get('v3')).toBe(heads.trunk);
    expect([...tags.values()].every(sha => /^[0-9a-f]{40}$/.test(sha))).toBe(
      true,
    );
  });

  it('refuses a hostile repository before git runs', async () => {
    await expect(
      resolveTags(`--upload-pack=touch ${canary}`, { home }),
    ).rejects.toThrow(/^repository URL /);
    expect(existsSync(canary)).toBe(false);
  });

  it('fails with the repository named when git fails', async () => {
    const missing = `file://${join(root, 'missing.git')}`;
    await expect(resolveTags(missing, { home })).rejects.toThrow(
      `git ls-remote --tags of ${missing} failed`,
    );
  });
});

describe('gitEnvironment', () => {
  it('allows exactly the transports of the given repositories', () => {
    expect(
      gitProtocolsFor([
        url,
        'https://github.com/acme/live',
        'git@github.com:acme/x',
      ]),
    ).toBe('file:https:ssh');
    expect(gitEnvironment(home, [url], PATH)).toMatchObject({
      GIT_ALLOW_PROTOCOL: 'file',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      HOME: home,
      PATH,
    });
  });

  it('allows no transport at all when no repository passes the URL check', () => {
    expect(
      gitEnvironment(home, ['ext::sh -c x', '--upload-pack=x'], PATH)
        .GIT_ALLOW_PROTOCOL,
    ).toBe('none');
    expect(gitEnvironment(home, [], PATH).GIT_ALLOW_PROTOCOL).toBe('none');
  });

  it('keeps a file:// fetch working', async () => {
    const env = gitEnvironment(home, [url], PATH);
    await expect(
      runGit(['ls-remote', '--end-of-options', url], env, home),
    ).resolves.toEqual({
      code: 0,
      stderr: '',
    });
  });

  it('refuses a transport that is not in the list before connecting', async () => {
    const env = gitEnvironment(home, [url], PATH);
    const result = await runGit(
      ['ls-remote', 'https://127.0.0.1:1/x.git'],
      env,
      home,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/transport 'https' not allowed/);
  });

  it('refuses the ext:: transport even when it is what a module URL would need', async () => {
    const env = gitEnvironment(home, [url], PATH);
    const result = await runGit(
      ['ls-remote', `ext::sh -c touch% ${canary}`],
      env,
      home,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/transport 'ext' not allowed/);
    expect(existsSync(canary)).toBe(false);
  });

  it('refuses every transport when none is allowed', async () => {
    const env = gitEnvironment(home, [], PATH);
    const result = await runGit(['ls-remote', url], env, home);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/transport 'file' not allowed/);
  });
});
