import { createMockDirectory } from '@backstage/backend-test-utils';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointStore,
  mockActionContext,
} from '../__testUtils__/actionContext';
import { BareRepository } from '../__testUtils__/bareRepository';
import {
  createPublishBranchAction,
  protectedBranchReason,
  PublishRules,
} from './publishBranch';

jest.setTimeout(30_000);

describe('protectedBranchReason', () => {
  const env = (
    name: string,
    applyBranches: string[],
    requiredApprovals: number,
  ) => ({ name, applyBranches, requiredApprovals });
  const reasonFor = (
    branch: string,
    environments: PublishRules['environments'],
  ) => protectedBranchReason(branch, { repositories: [], environments });

  it.each<[string, string, PublishRules['environments'], RegExp]>([
    [
      'an apply branch of an environment with approvals',
      'main',
      [env('prod', ['main'], 1)],
      /^main is an apply branch of prod, which needs 1 approval\(s\): templates only push new review branches$/,
    ],
    [
      'one of several apply branches',
      'release',
      [env('prod', ['main', 'release'], 2)],
      /apply branch of prod, which needs 2 approval/,
    ],
    [
      'any branch when such an environment applies from *',
      'feature/x',
      [env('prod', ['*'], 1)],
      /^feature\/x is an apply branch of prod/,
    ],
    [
      'a branch of the environment that needs approvals among several',
      'main',
      [env('dev', ['main'], 0), env('prod', ['main'], 1)],
      /of prod/,
    ],
  ])('protects %s', (_, branch, environments, reason) => {
    expect(reasonFor(branch, environments)).toMatch(reason);
  });

  it.each<[string, string, PublishRules['environments']]>([
    ['any branch without environments', 'main', []],
    [
      'an apply branch of an environment without approvals',
      'main',
      [env('dev', ['main'], 0)],
    ],
    [
      'a branch an environment with approvals does not apply from',
      'feature/x',
      [env('prod', ['main'], 1)],
    ],
    [
      'any branch when only an environment without approvals applies from *',
      'feature/x',
      [env('dev', ['*'], 0)],
    ],
    [
      'a branch that differs only in case (git refs are case-sensitive)',
      'Main',
      [env('prod', ['main'], 1)],
    ],
    [
      'a branch that only starts like an apply branch',
      'main-2',
      [env('prod', ['main'], 1)],
    ],
  ])('does not protect %s', (_, branch, environments) => {
    expect(reasonFor(branch, environments)).toBeUndefined();
  });
});

describe('sealed-runner:publish:branch', () => {
  const workspace = createMockDirectory();
  let repo: BareRepository;
  let mainBefore: string;

  beforeEach(() => {
    workspace.setContent({
      'live/dev/payments/main.tf.json': '{"module":{}}\n',
      'catalog/payments.yaml': 'kind: Component\n',
    });
    repo = BareRepository.create();
    mainBefore = repo.heads().main;
  });

  afterEach(() => repo.remove());

  const rules = (changes: Partial<PublishRules> = {}): PublishRules => ({
    repositories: [repo.url],
    environments: [
      { name: 'dev', applyBranches: ['main'], requiredApprovals: 0 },
      { name: 'prod', applyBranches: ['main'], requiredApprovals: 1 },
    ],
    ...changes,
  });

  function setup(
    input: Record<string, unknown> = {},
    options: {
      rules?: PublishRules;
      isDryRun?: boolean;
      checkpoints?: CheckpointStore;
    } = {},
  ) {
    const action = createPublishBranchAction(options.rules ?? rules());
    const mock = mockActionContext(action, {
      input: {
        repoUrl: repo.url,
        branch: 'new-service/payments',
        ...input,
      } as any,
      workspacePath: workspace.path,
      isDryRun: options.isDryRun,
      user: { ref: 'user:default/erin' },
      checkpoints: options.checkpoints,
    });
    return { ...mock, action, run: () => action.handler(mock.ctx) };
  }

  it('pushes the workspace to a new branch off the default branch and leaves main alone', async () => {
    const { run, outputs } = setup({ commitMessage: 'Add payments (dev)' });
    await run();

    const heads = repo.heads();
    expect(heads.main).toBe(mainBefore);
    expect(repo.files('new-service/payments')).toEqual([
      'README.md',
      'catalog/payments.yaml',
      'live/dev/payments/main.tf.json',
    ]);
    expect(
      repo.show('new-service/payments', 'live/dev/payments/main.tf.json'),
    ).toBe('{"module":{}}');
    expect(repo.tip('new-service/payments', '%P')).toBe(mainBefore);
    expect(repo.tip('new-service/payments', '%s')).toBe('Add payments (dev)');
    expect(repo.tip('new-service/payments', '%an')).toBe('user:default/erin');
    expect(outputs()).toEqual({
      repoUrl: repo.url,
      branch: 'new-service/payments',
      commitSha: heads['new-service/payments'],
    });
  });

  it('publishes a workspace folder to a folder of the repository', async () => {
    const { run } = setup({ sourcePath: 'live', targetPath: 'deployments' });
    await run();
    expect(repo.files('new-service/payments')).toEqual([
      'README.md',
      'deployments/dev/payments/main.tf.json',
    ]);
  });

  it('uses a default commit message', async () => {
    const { run } = setup();
    await run();
    expect(repo.tip('new-service/payments', '%s')).toBe(
      'Add deployment from template',
    );
  });

  it('refuses a branch that already exists and leaves it unchanged', async () => {
    repo.createBranch('new-service/payments');
    const before = repo.heads();
    const { run, outputs } = setup();

    await expect(run()).rejects.toMatchObject({
      name: 'InputError',
      message: `branch new-service/payments already exists in ${repo.url}; pick a new branch name`,
    });
    expect(repo.heads()).toEqual(before);
    expect(outputs().commitSha).toBeUndefined();
  });

  it('refuses a symlink in the published files and pushes nothing', async () => {
    workspace.addContent({
      'live/dev/payments/secrets': ctx => ctx.symlink('/etc/passwd'),
    });
    const { run } = setup();

    await expect(run()).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringMatching(
        /live\/dev\/payments\/secrets is a symbolic link/,
      ),
    });
    expect(repo.heads()).toEqual({ main: mainBefore });
  });

  it('refuses a published folder that is itself a symlink', async () => {
    workspace.addContent({
      linked: ctx => ctx.symlink(workspace.resolve('live')),
    });
    const { run } = setup({ sourcePath: 'linked' });
    await expect(run()).rejects.toThrow(/is a symbolic link/);
    expect(repo.heads()).toEqual({ main: mainBefore });
  });

  describe('refuses before running git, pushing nothing', () => {
    // A default for the optional fourth column: jest reads a longer parameter
    // list than a row as a `done` callback.
    it.each<[string, Record<string, unknown>, RegExp, Partial<PublishRules>?]>([
      [
        'a repository that is not allowlisted',
        { repoUrl: 'file:///srv/git/other.git' },
        /is not on the sealedRunner\.repositories allowlist/,
      ],
      [
        'a git transport command',
        { repoUrl: 'ext::sh -c x' },
        /must not contain whitespace/,
        { repositories: ['ext::sh -c x'] },
      ],
      [
        'an option as the URL',
        { repoUrl: '--upload-pack=x' },
        /must not start with '-'/,
        { repositories: ['--upload-pack=x'] },
      ],
      [
        'main, which prod (one approval) applies from',
        { branch: 'main' },
        /^main is an apply branch of prod, which needs 1 approval/,
      ],
      [
        'any branch when an environment with approvals applies from *',
        {},
        /^new-service\/payments is an apply branch of prod/,
        {
          environments: [
            { name: 'prod', applyBranches: ['*'], requiredApprovals: 2 },
          ],
        },
      ],
      [
        'a branch that reads as an option',
        { branch: '-x' },
        /^branch: branch "-x" must not start with '-'/,
      ],
      [
        'a branch with ..',
        { branch: 'a..b' },
        /^branch: .*must not contain '\.\.'/,
      ],
      [
        'a branch with a space',
        { branch: 'a b' },
        /^branch: .*may only contain/,
      ],
      [
        'a branch with a control character',
        { branch: 'a\u0007b' },
        /^branch: .*control characters/,
      ],
      [
        'a full ref name',
        { branch: 'refs/heads/main' },
        /^branch: .*short branch/,
      ],
      [
        'a forced refspec',
        { branch: '+main' },
        /^branch: .*must not start with '-' or '\+'/,
      ],
      [
        'a source path that climbs out of the workspace',
        { sourcePath: '../x' },
        /^sourcePath: .*'\.\.' segments/,
      ],
      [
        'an absolute source path',
        { sourcePath: '/etc' },
        /^sourcePath: .*must be relative/,
      ],
      [
        'a target path that climbs out of the checkout',
        { targetPath: 'live/../../x' },
        /^targetPath: .*'\.\.' segments/,
      ],
      [
        'a target path with a backslash',
        { targetPath: 'a\\b' },
        /^targetPath: .*backslashes/,
      ],
      [
        'a target path into git metadata',
        { targetPath: '.git' },
        /^targetPath: /,
      ],
      [
        'an escape sequence in the commit message',
        { commitMessage: 'Add\u001b[2J' },
        /^commitMessage contains control characters/,
      ],
      [
        'a carriage return in the commit message',
        { commitMessage: 'Add\rForged' },
        /^commitMessage contains control characters/,
      ],
    ])('%s', async (_, input, message, ruleChanges = {}) => {
      const { run, outputs } = setup(input, { rules: rules(ruleChanges) });
      await expect(run()).rejects.toThrow(message);
      expect(repo.heads()).toEqual({ main: mainBefore });
      expect(outputs()).toEqual({});
    });
  });

  it('keeps newlines in the commit message', async () => {
    const { run } = setup({
      commitMessage: 'Add payments\n\nRequested from the template.',
    });
    await run();
    expect(repo.tip('new-service/payments', '%B')).toBe(
      'Add payments\n\nRequested from the template.',
    );
  });

  it('pushes nothing in a dry run but outputs the repository and branch', async () => {
    const { run, outputs, action } = setup({}, { isDryRun: true });
    expect(action.supportsDryRun).toBe(true);
    await run();
    expect(repo.heads()).toEqual({ main: mainBefore });
    expect(outputs()).toEqual({
      repoUrl: repo.url,
      branch: 'new-service/payments',
    });
  });

  it('refuses in a dry run what it would refuse for real', async () => {
    const { run } = setup({ branch: 'main' }, { isDryRun: true });
    await expect(run()).rejects.toThrow(/apply branch of prod/);
  });

  it('does not push again when a retried task already pushed (checkpoint)', async () => {
    const checkpoints = new CheckpointStore();
    const first = setup({}, { checkpoints });
    await first.run();
    const pushed = repo.heads()['new-service/payments'];

    // The retry would otherwise fail: the branch exists now.
    workspace.addContent({ 'live/dev/payments/extra.tf.json': '{}' });
    const retry = setup({}, { checkpoints });
    await retry.run();

    expect(repo.heads()).toEqual({
      main: mainBefore,
      'new-service/payments': pushed,
    });
    expect(repo.files('new-service/payments')).not.toContain(
      'live/dev/payments/extra.tf.json',
    );
    expect(retry.outputs().commitSha).toBe(pushed);
  });

  it('does not leave its temporary checkout behind', async () => {
    const before = await tmpEntries();
    const { run } = setup();
    await run();
    expect(await tmpEntries()).toEqual(before);
  });

  // A `.git` folder in the published files would replace the checkout's own
  // git config (gpg.program, insteadOf, receivepack) for the commit and push:
  // a command chosen by whoever wrote the workspace would run on the host.
  it('refuses a .git folder in the published files and runs nothing from it', async () => {
    const marker = await mkdtemp(join(tmpdir(), 'sealed-runner-marker-'));
    try {
      const ran = join(marker, 'ran');
      workspace.addContent({
        '.git/config': [
          '[core]',
          '\trepositoryformatversion = 0',
          '[remote "origin"]',
          `\turl = ${repo.url}`,
          '[commit]',
          '\tgpgsign = true',
          '[gpg]',
          `\tprogram = ${join(marker, 'gpg.sh')}`,
          '',
        ].join('\n'),
      });
      await writeFile(
        join(marker, 'gpg.sh'),
        `#!/bin/sh\necho ran > '${ran}'\nexit 1\n`,
      );
      await chmod(join(marker, 'gpg.sh'), 0o755);

      const { run } = setup();
      const error = await run().then(
        () => undefined,
        e => e,
      );
      expect(existsSync(ran)).toBe(false);
      expect(error).toMatchObject({
        name: 'InputError',
        message: expect.stringMatching(/\.git/),
      });
    } finally {
      await rm(marker, { recursive: true, force: true });
    }
  });
});

async function tmpEntries(): Promise<string[]> {
  return (await readdir(tmpdir()))
    .filter(name => name.startsWith('sealed-runner-publish-'))
    .sort();
}
