import { execFileSync } from 'node:child_process';

/**
 * Runs git to build demo and test fixture repositories: with a fixed
 * identity and none of the user's git configuration, so fixtures come out
 * the same on every machine. Returns trimmed stdout.
 *
 * @public
 */
export function fixtureGit(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Sealed Runner Demo',
      GIT_AUTHOR_EMAIL: 'demo@sealed-runner.invalid',
      GIT_COMMITTER_NAME: 'Sealed Runner Demo',
      GIT_COMMITTER_EMAIL: 'demo@sealed-runner.invalid',
    },
  }).trim();
}
