import { resolveSafeChildPath } from '@backstage/backend-plugin-api';
import { InputError } from '@backstage/errors';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import {
  checkBranchName,
  checkRelativePath,
  checkRepositoryAllowed,
  GIT_HARDENING_OPTIONS,
  gitEnvironment,
  hasControlCharacters,
  SYSTEM_PATH,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { execFile } from 'node:child_process';
import { cp, lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GIT_TIMEOUT_MS = 120_000;
const MAX_MESSAGE_LENGTH = 1000;

/** The environment rules the action needs: which branches deploy where, with what approvals. */
export interface PublishRules {
  /** `sealedRunner.repositories`. */
  repositories: string[];
  environments: {
    name: string;
    applyBranches: string[];
    requiredApprovals: number;
  }[];
}

/**
 * Why pushing `branch` would bypass review, if it would: a branch that an
 * environment needing approvals applies from is only ever changed through
 * review, never by a template.
 */
export function protectedBranchReason(
  branch: string,
  rules: PublishRules,
): string | undefined {
  for (const env of rules.environments) {
    if (
      env.requiredApprovals > 0 &&
      (env.applyBranches.includes('*') || env.applyBranches.includes(branch))
    ) {
      return `${branch} is an apply branch of ${env.name}, which needs ${env.requiredApprovals} approval(s): templates only push new review branches`;
    }
  }
  return undefined;
}

/**
 * Only plain files and folders are published: a symlink could point outside
 * the workspace, and a `.git` folder would replace the checkout's own git
 * config (hooks, gpg.program) for the commit and push that follow.
 */
async function checkPublishable(path: string): Promise<void> {
  if (path.split(sep).some(segment => segment.toLowerCase() === '.git')) {
    throw new InputError(
      `${path} is inside a .git folder; git metadata is never published`,
    );
  }
  const info = await lstat(path);
  if (info.isSymbolicLink()) {
    throw new InputError(
      `${path} is a symbolic link; the published files must be plain files`,
    );
  }
}

/**
 * `sealed-runner:publish:branch`: commits a workspace folder to a new branch
 * of an allowlisted git repository (any transport git speaks, including the
 * demo's local repositories). For hosted repositories prefer a pull request
 * (`publish:github:pull-request` and friends); this action exists for plain
 * git remotes and refuses everything that would skip review.
 */
export function createPublishBranchAction(rules: PublishRules) {
  return createTemplateAction({
    id: 'sealed-runner:publish:branch',
    description:
      'Commits a workspace folder to a NEW branch of an allowlisted infrastructure-live git repository ' +
      '(never force-pushes, never an existing branch, never an apply branch of an environment that needs ' +
      'approvals), as the user running the template.',
    supportsDryRun: true,
    examples: [
      {
        description: 'Push the rendered deployment to a review branch',
        example: [
          'steps:',
          '  - id: publish',
          '    action: sealed-runner:publish:branch',
          '    input:',
          '      repoUrl: https://git.example.com/acme/infrastructure-live.git',
          '      branch: new-service/${{ parameters.name }}',
          '      sourcePath: live',
          '      targetPath: live',
          '      commitMessage: Add ${{ parameters.name }} deployment',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        repoUrl: z =>
          z
            .string()
            .min(1)
            .max(2048)
            .describe(
              'Git URL of an allowlisted repository (sealedRunner.repositories)',
            ),
        branch: z =>
          z.string().min(1).max(255).describe('The new branch to create'),
        sourcePath: z =>
          z
            .string()
            .max(1024)
            .optional()
            .describe(
              'Workspace folder to publish (default: the whole workspace)',
            ),
        targetPath: z =>
          z
            .string()
            .max(1024)
            .optional()
            .describe(
              'Folder in the repository to write it to (default: the root)',
            ),
        commitMessage: z =>
          z
            .string()
            .min(1)
            .max(MAX_MESSAGE_LENGTH)
            .optional()
            .describe('Commit message'),
      },
      output: {
        repoUrl: z => z.string().describe('The repository pushed to'),
        branch: z => z.string().describe('The branch created'),
        commitSha: z =>
          z
            .string()
            .optional()
            .describe('The commit pushed (absent in a dry run)'),
      },
    },
    async handler(ctx) {
      const repo = checkRepositoryAllowed(
        ctx.input.repoUrl,
        rules.repositories,
      );
      if (!repo.ok) {
        throw new InputError(repo.reason);
      }
      const branch = checkBranchName(ctx.input.branch);
      if (!branch.ok) {
        throw new InputError(`branch: ${branch.reason}`);
      }
      const protectedReason = protectedBranchReason(branch.value, rules);
      if (protectedReason) {
        throw new InputError(protectedReason);
      }
      const folder = (value: string | undefined, what: string) => {
        if (value === undefined || value === '.' || value === '') {
          return '.';
        }
        const checked = checkRelativePath(value);
        if (!checked.ok) {
          throw new InputError(`${what}: ${checked.reason}`);
        }
        return checked.value;
      };
      const sourcePath = folder(ctx.input.sourcePath, 'sourcePath');
      const targetPath = folder(ctx.input.targetPath, 'targetPath');
      const message = ctx.input.commitMessage ?? `Add deployment from template`;
      if (hasControlCharacters(message.replace(/\n/g, ''))) {
        throw new InputError('commitMessage contains control characters');
      }
      const source = resolveSafeChildPath(ctx.workspacePath, sourcePath);
      ctx.output('repoUrl', repo.value);
      ctx.output('branch', branch.value);
      if (ctx.isDryRun) {
        ctx.logger.info(
          `Dry run: would push ${sourcePath} to ${repo.value} as ${branch.value}/${targetPath}`,
        );
        return;
      }

      const author = ctx.user?.ref ?? 'scaffolder';
      const commitSha = await ctx.checkpoint({
        key: `sealed-runner-publish-${repo.value}-${branch.value}`,
        fn: async () => {
          const work = await mkdtemp(join(tmpdir(), 'sealed-runner-publish-'));
          const checkout = join(work, 'repo');
          const env = gitEnvironment(work, [repo.value], SYSTEM_PATH);
          const git = async (cwd: string, ...args: string[]) =>
            (
              await run('git', [...GIT_HARDENING_OPTIONS, ...args], {
                cwd,
                env,
                timeout: GIT_TIMEOUT_MS,
                maxBuffer: 1024 * 1024,
              })
            ).stdout.trim();
          try {
            await git(
              work,
              'clone',
              '--quiet',
              '--no-tags',
              '--depth',
              '1',
              '--',
              repo.value,
              checkout,
            );
            const existing = await git(
              checkout,
              'ls-remote',
              '--heads',
              'origin',
              `refs/heads/${branch.value}`,
            );
            if (existing) {
              throw new InputError(
                `branch ${branch.value} already exists in ${repo.value}; pick a new branch name`,
              );
            }
            await git(checkout, 'checkout', '--quiet', '-b', branch.value);
            await cp(source, resolveSafeChildPath(checkout, targetPath), {
              recursive: true,
              filter: async path => {
                await checkPublishable(path);
                return true;
              },
            });
            await git(checkout, 'add', '--all', '--', targetPath);
            await git(
              checkout,
              '-c',
              `user.name=${author}`,
              '-c',
              'user.email=scaffolder@sealed-runner.invalid',
              'commit',
              '--quiet',
              '--no-verify',
              '--message',
              message,
            );
            await git(
              checkout,
              'push',
              '--quiet',
              'origin',
              `HEAD:refs/heads/${branch.value}`,
            );
            return await git(checkout, 'rev-parse', 'HEAD');
          } finally {
            await rm(work, { recursive: true, force: true });
          }
        },
      });
      ctx.logger.info(
        `Pushed ${commitSha} to ${repo.value} as ${branch.value}`,
      );
      ctx.output('commitSha', commitSha);
    },
  });
}
