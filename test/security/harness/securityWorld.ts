import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureGit } from '@sealed-runner/demo';
import { createIsolatedRoot, IsolatedRoot } from '../../src';
import { createToolWrapper, findProgram, ToolWrapper } from '../framework';
import { CanaryTargets } from '../corpus/primitives';

/** One concurrency lane of direct runner starts: its own wrappers, HOME and TMPDIR. */
export interface RunnerLane {
  index: number;
  git: ToolWrapper;
  terraform: ToolWrapper;
  home: string;
  /** SEALED_RUNNER_CONFIG for this lane (JSON). */
  configJson: string;
  config: Record<string, unknown>;
}

/**
 * Everything the suite attacks, built once: an isolated demo root, canary
 * files inside it and in a sibling directory, wrapper scripts that log
 * every git and Terraform start, the gate's job key (ours, so we can sign
 * valid jobs), and runner lanes configured like the local dispatcher
 * configures the embedded runner.
 */
export interface SecurityWorld {
  root: IsolatedRoot;
  canary: CanaryTargets;
  keys: {
    gate: { privateKey: KeyObject; publicKeyPem: string };
    other: { privateKey: KeyObject };
    rsa: { privateKey: KeyObject; publicKeyPem: string; privateKeyPem: string };
  };
  /** Head of main in the demo infrastructure-live repository. */
  mainHead: string;
  /** The backend-started runner's Terraform wrapper. */
  backendTerraform: ToolWrapper;
  /** Directories the direct runner lanes write to (work, plans, state, seen jobs). */
  directRunnerDir: string;
  lanes: RunnerLane[];
  /** Catalog YAML written for the annotation corpus. */
  entityDir: string;
  cleanup(): Promise<void>;
}

export const LANES = 3;

export async function createSecurityWorld(): Promise<SecurityWorld> {
  const root = await createIsolatedRoot();
  const sibling = await mkdtemp(
    join(tmpdir(), 'sealed-runner-security-sibling-'),
  );
  const inRoot = join(root.root, 'canary');
  await mkdir(inRoot, { recursive: true });
  const canary: CanaryTargets = { sibling, inRoot };

  // Canary contents: a secret to exfiltrate, and hostile Terraform for
  // symlinks to point at (if a symlink were followed, this would run).
  const hostileTf = (tag: string) =>
    `resource "terraform_data" "pwn" {\n  provisioner "local-exec" {\n    command = "touch ${sibling}/pwned-${tag}"\n  }\n}\n`;
  for (const dir of [sibling, inRoot]) {
    await writeFile(
      join(dir, 'secret.txt'),
      'canary secret: must never be read into a plan or changed\n',
    );
    await writeFile(join(dir, 'secret.tf'), hostileTf('symlinked-file'));
    await mkdir(join(dir, 'evil-module'), { recursive: true });
    await writeFile(
      join(dir, 'evil-module/main.tf'),
      hostileTf('symlinked-module'),
    );
  }

  const toolsDir = join(root.root, 'security-tools');
  const realGit = await findProgram('git');
  const realTerraform = await findProgram('terraform');
  const backendTerraform = await createToolWrapper(
    join(toolsDir, 'backend'),
    'terraform',
    realTerraform,
  );

  const gate = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = {
    gate: {
      privateKey: gate.privateKey,
      publicKeyPem: gate.publicKey
        .export({ type: 'spki', format: 'pem' })
        .toString(),
    },
    other: { privateKey: other.privateKey },
    rsa: {
      privateKey: rsa.privateKey,
      publicKeyPem: rsa.publicKey
        .export({ type: 'spki', format: 'pem' })
        .toString(),
      privateKeyPem: rsa.privateKey
        .export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    },
  };

  const directRunnerDir = join(root.root, 'security/runner-direct');
  const lanes: RunnerLane[] = [];
  for (let index = 0; index < LANES; index++) {
    const laneDir = join(toolsDir, `lane-${index}`);
    const git = await createToolWrapper(laneDir, 'git', realGit);
    const terraform = await createToolWrapper(
      laneDir,
      'terraform',
      realTerraform,
    );
    const home = join(directRunnerDir, `home-${index}`);
    await mkdir(home, { recursive: true });
    // As localRunnerConfig builds it for the embedded runner.
    const config = {
      repositories: [root.demo.infrastructureLiveUrl],
      environments: {
        dev: { applyBranches: ['*'] },
        prod: { applyBranches: ['main'] },
      },
      workDir: join(directRunnerDir, 'work'),
      planDir: join(directRunnerDir, 'plans'),
      stateDir: join(directRunnerDir, 'state'),
      providerMirrorDir: join(directRunnerDir, 'provider-mirror'),
      seenJobsDir: join(directRunnerDir, 'seen-jobs'),
      gitPath: git.path,
      terraformPath: terraform.path,
      jobPublicKey: keys.gate.publicKeyPem,
      jobLifetimeSeconds: 300,
      timeoutSeconds: 120,
    };
    lanes.push({
      index,
      git,
      terraform,
      home,
      config,
      configJson: JSON.stringify(config),
    });
  }

  const mainHead = fixtureGit(
    root.root,
    'ls-remote',
    root.demo.infrastructureLiveUrl,
    'refs/heads/main',
  ).split('\t')[0];
  const entityDir = join(root.root, 'security-entities');
  await mkdir(entityDir, { recursive: true });

  return {
    root,
    canary,
    keys,
    mainHead,
    backendTerraform,
    directRunnerDir,
    lanes,
    entityDir,
    cleanup: async () => {
      if (!process.env.SEALED_RUNNER_E2E_KEEP) {
        await rm(sibling, { recursive: true, force: true });
      }
      await root.cleanup();
    },
  };
}

/**
 * Pushes branches to the demo infrastructure-live repository: each branch
 * is main plus the given files. One clone, one push.
 */
export async function pushBranches(
  world: SecurityWorld,
  branches: Array<{
    name: string;
    files: Record<string, string | { symlink: string }>;
  }>,
): Promise<Map<string, string>> {
  const work = await mkdtemp(
    join(tmpdir(), 'sealed-runner-security-branches-'),
  );
  const git = (...args: string[]) => fixtureGit(work, ...args);
  const heads = new Map<string, string>();
  try {
    git('clone', '--quiet', world.root.demo.infrastructureLiveUrl, '.');
    for (const branch of branches) {
      git('checkout', '--quiet', '-B', branch.name, 'origin/main');
      for (const [path, content] of Object.entries(branch.files)) {
        const full = join(work, path);
        await mkdir(join(full, '..'), { recursive: true });
        if (typeof content === 'string') {
          await writeFile(full, content);
        } else {
          await rm(full, { force: true, recursive: true });
          await symlink(content.symlink, full);
        }
      }
      git('add', '--all');
      git(
        'commit',
        '--quiet',
        '--allow-empty',
        '--message',
        `security corpus: ${branch.name}`,
      );
      heads.set(branch.name, git('rev-parse', 'HEAD'));
    }
    git(
      'push',
      '--quiet',
      'origin',
      ...branches.map(b => `refs/heads/${b.name}:refs/heads/${b.name}`),
    );
    return heads;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
