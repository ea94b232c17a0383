import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogModule } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { fixtureGit } from '@sealed-runner/demo';
import { createIsolatedRoot, IsolatedRoot } from '../../src';
import {
  createSandboxWrapper,
  createToolWrapper,
  findProgram,
  ToolWrapper,
} from '../framework';
import { CanaryTargets } from '../corpus/primitives';

/** One concurrency lane of direct runner starts: its own wrappers, HOME and TMPDIR. */
export interface RunnerLane {
  index: number;
  git: ToolWrapper;
  terraform: ToolWrapper;
  /** The lane's bubblewrap wrapper (its runner config's `sandbox.bwrapPath`). */
  bwrap: string;
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
  /**
   * The demo's vetted catalog module as the gate puts it in a job: its
   * vetted tags, each pinned to the commit it names in the service catalog.
   */
  catalogModule: CatalogModule;
  /** The backend-started runner's Terraform wrapper. */
  backendTerraform: ToolWrapper;
  /** The backend-started runner's bubblewrap wrapper (`runner.local.sandbox.bwrapPath`). */
  backendBwrap: string;
  /** Directories the direct runner lanes write to (work, plans, state, seen jobs). */
  directRunnerDir: string;
  lanes: RunnerLane[];
  /** Catalog YAML written for the annotation corpus. */
  entityDir: string;
  cleanup(): Promise<void>;
}

export const LANES = 3;

/** What every canary's secret.txt holds: it must never show up in a run's output. */
export const CANARY_SECRET =
  'canary secret: must never be read into a plan or changed';

/**
 * The user a runner that is root runs bubblewrap, git and Terraform as
 * (the runner's default `sandbox.uid`, DEFAULT_SANDBOX_ID).
 */
const SANDBOX_UID = 64100;

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
    await writeFile(join(dir, 'secret.txt'), `${CANARY_SECRET}\n`);
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
  const realBwrap = await findProgram('bwrap');
  const backendTerraform = await createToolWrapper(
    join(toolsDir, 'backend'),
    'terraform',
    realTerraform,
  );
  const backendBwrap = await createSandboxWrapper(
    join(toolsDir, 'backend'),
    realBwrap,
    [backendTerraform],
    SANDBOX_UID,
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
    const bwrap = await createSandboxWrapper(
      laneDir,
      realBwrap,
      [git, terraform],
      SANDBOX_UID,
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
      sandbox: { bwrapPath: bwrap },
      jobPublicKey: keys.gate.publicKeyPem,
      jobLifetimeSeconds: 300,
      timeoutSeconds: 120,
    };
    lanes.push({
      index,
      git,
      terraform,
      bwrap,
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
  const catalogPath = root.demo.serviceCatalogUrl.slice('file://'.length);
  const versions = ['v1.0.0', 'v1.1.0'];
  const catalogModule: CatalogModule = {
    source: root.demo.moduleSource,
    versions,
    commits: Object.fromEntries(
      versions.map(tag => [
        tag,
        fixtureGit(catalogPath, 'rev-parse', `${tag}^{commit}`),
      ]),
    ),
  };
  const entityDir = join(root.root, 'security-entities');
  await mkdir(entityDir, { recursive: true });

  return {
    root,
    canary,
    keys,
    mainHead,
    catalogModule,
    backendTerraform,
    backendBwrap,
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
 * is one commit on main adding the given files (a `{ symlink }` is a
 * committed symlink). One bare clone, one `git fast-import` for every
 * commit, one push: hundreds of branches take a second, not minutes.
 * Returns each branch's head commit.
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
  try {
    git(
      'clone',
      '--quiet',
      '--bare',
      world.root.demo.infrastructureLiveUrl,
      '.',
    );
    const main = git('rev-parse', 'refs/heads/main');
    const chunks: Buffer[] = [];
    const data = (content: string | Buffer) => {
      const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
      chunks.push(
        Buffer.from(`data ${bytes.length}\n`),
        bytes,
        Buffer.from('\n'),
      );
    };
    const when = Math.floor(Date.now() / 1000);
    for (const branch of branches) {
      chunks.push(
        Buffer.from(
          `commit refs/heads/${branch.name}\ncommitter Sealed Runner Demo <demo@sealed-runner.invalid> ${when} +0000\n`,
        ),
      );
      data(`security corpus: ${branch.name}`);
      chunks.push(Buffer.from(`from ${main}\n`));
      for (const [path, content] of Object.entries(branch.files)) {
        if (typeof content === 'string') {
          chunks.push(Buffer.from(`M 100644 inline ${path}\n`));
          data(content);
        } else {
          // Whatever main has at that path, the branch has a symlink.
          chunks.push(Buffer.from(`D ${path}\nM 120000 inline ${path}\n`));
          data(content.symlink);
        }
      }
      chunks.push(Buffer.from('\n'));
    }
    execFileSync('git', ['fast-import', '--quiet', '--done'], {
      cwd: work,
      input: Buffer.concat([...chunks, Buffer.from('done\n')]),
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: work,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    git(
      'push',
      '--quiet',
      'origin',
      ...branches.map(b => `refs/heads/${b.name}:refs/heads/${b.name}`),
    );
    const heads = new Map<string, string>();
    for (const line of git(
      'for-each-ref',
      '--format=%(refname) %(objectname)',
      'refs/heads/',
    ).split('\n')) {
      const [ref, commit] = line.split(' ');
      heads.set(ref.slice('refs/heads/'.length), commit);
    }
    return new Map(branches.map(b => [b.name, heads.get(b.name)!]));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
