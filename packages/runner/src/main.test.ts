import { ChildProcess, spawn } from 'node:child_process';
import {
  createHash,
  generateKeyPairSync,
  KeyObject,
  randomUUID,
  sign,
} from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  MAX_JOB_BYTES,
  RunnerEvent,
  runnerEventSchema,
  RunnerResult,
  SealedRunnerJob,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
// The demo builder makes the same repositories the demo deploys.
import {
  DemoWorkspace,
  fixtureGit as git,
  prepareDemo,
} from '@sealed-runner/demo';
import {
  jobSigningMessage,
  RunnerConfigInput,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

// End to end through the real program: `node bin/sealed-runner` with only
// PATH and its config in the environment, real git repositories and real
// Terraform. Each Terraform run takes about a second.
jest.setTimeout(60_000);

const RUNNER = resolve(__dirname, '../bin/sealed-runner');
const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';

/** The gate's job signing key, as the backend holds it. */
const JOB_KEYS = generateKeyPairSync('ed25519');

/** Signs a job document (any text: the runner still validates what it signs) as the gate does. */
function signJob(
  payload: string,
  key: KeyObject = JOB_KEYS.privateKey,
): string {
  return JSON.stringify({
    payload,
    signature: sign(null, jobSigningMessage(payload), key).toString('base64'),
  });
}
const SLOW = '30.123';
const SLOW_TIMEOUT = '30.456';
const EXIT_CODES = { succeeded: 0, failed: 1, rejected: 2, cancelled: 3 };
const PLAN_PHASES = [
  'validate',
  'checkout',
  'module-check',
  'init',
  'code-check',
  'plan',
];
const APPLY_PHASES = [
  'validate',
  'checkout',
  'module-check',
  'init',
  'code-check',
  'apply',
];
/**
 * A folder whose apply takes 30 s. The provisioner's shell says when it
 * started, then becomes a `sleep` with a marker duration, which is how the
 * tests find it on this machine (its pid inside the sandbox means nothing
 * outside).
 */
function slowFolder(marker: string): string {
  return `resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "sh -c 'echo slow-started; exec sleep ${marker}'"
  }
}
`;
}

/** Pids of the processes on this machine running `sleep <marker>`. */
async function sleepers(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (/^[0-9]+$/.test(entry)) {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(
        () => '',
      );
      if (cmdline === `sleep\0${marker}\0`) {
        pids.push(Number(entry));
      }
    }
  }
  return pids;
}

interface RunOutcome {
  events: RunnerEvent[];
  result: RunnerResult;
  code: number | null;
  phases: string[];
  logs: string[];
  stderr: string;
  seconds: number;
}

let root: string;
let ws: DemoWorkspace;
/** The commits the demo's vetted tags point at, as the gate pins them. */
let demoCommits: Record<string, string>;
let config: RunnerConfigInput;
let liveHead: string;
let extraUrl: string;
let extraFirst: string;
let extraHead: string;
let featureHead: string;
let otherUrl: string;
let hostileModule: string;
let hostileCommit: string;
/** Written only if Terraform ran code the plan policy refuses. */
let canaries: { external: string; module: string };

async function writeFiles(dir: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file below `dir`, relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter(e => e.isFile())
    .map(e => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

function vettedSource(version: string) {
  return `${ws.moduleSource}?ref=${version}`;
}

function makeJob(overrides: Partial<SealedRunnerJob> = {}): SealedRunnerJob {
  return {
    version: 1,
    runId: randomUUID(),
    operation: 'plan',
    entityRef: 'component:default/payments',
    environment: 'dev',
    repository: ws.infrastructureLiveUrl,
    ref: 'main',
    commitSha: liveHead,
    path: 'live/dev/payments',
    modules: [
      {
        source: ws.moduleSource,
        versions: ['v1.0.0', 'v1.1.0'],
        commits: demoCommits,
      },
    ],
    issuedAt: new Date().toISOString(),
    ...overrides,
  };
}

function applyOf(
  plan: SealedRunnerJob,
  planSha256: string,
  overrides: Partial<SealedRunnerJob> = {},
) {
  return makeJob({
    ...plan,
    runId: randomUUID(),
    operation: 'apply',
    plan: { runId: plan.runId, sha256: planSha256 },
    ...overrides,
  });
}

/**
 * Runs the program once. Every line it prints must be a valid runner event,
 * exactly one `result` must come last, and the exit code must match it.
 */
function runRunner(
  input: string | SealedRunnerJob,
  options: {
    config?: RunnerConfigInput | null;
    args?: string[];
    /** Variables added to the runner's otherwise minimal environment. */
    env?: Record<string, string>;
    /** Send `input` as it is, not as a document the gate signed. */
    unsigned?: boolean;
    onEvent?: (event: RunnerEvent, child: ChildProcess) => void;
  } = {},
): Promise<RunOutcome> {
  const started = Date.now();
  const env: Record<string, string> = { PATH, ...options.env };
  const runnerConfig = options.config === undefined ? config : options.config;
  if (runnerConfig !== null) {
    env.SEALED_RUNNER_CONFIG = JSON.stringify(runnerConfig);
  }
  // In its own session, as the local dispatcher starts it.
  const child = spawn(process.execPath, [RUNNER, ...(options.args ?? [])], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const events: RunnerEvent[] = [];
  const invalid: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', chunk => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', line => {
    let parsed;
    try {
      parsed = runnerEventSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      invalid.push(line.slice(0, 300));
      return;
    }
    events.push(parsed.data);
    options.onEvent?.(parsed.data, child);
  });
  // The runner stops reading an oversized job; writing the rest then fails.
  child.stdin.on('error', () => {});
  const payload = typeof input === 'string' ? input : JSON.stringify(input);
  child.stdin.end(options.unsigned ? payload : signJob(payload));

  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', code => {
      try {
        expect(invalid).toEqual([]);
        const results = events.filter(
          (e): e is RunnerResult => e.type === 'result',
        );
        expect(results).toHaveLength(1);
        expect(events[events.length - 1]).toBe(results[0]);
        expect({ status: results[0].status, code }).toEqual({
          status: results[0].status,
          code: EXIT_CODES[results[0].status],
        });
        resolvePromise({
          events,
          result: results[0],
          code,
          phases: events.flatMap(e => (e.type === 'phase' ? [e.phase] : [])),
          logs: events.flatMap(e => (e.type === 'log' ? [e.line] : [])),
          stderr,
          seconds: (Date.now() - started) / 1000,
        });
      } catch (error) {
        reject(
          new Error(
            `${(error as Error).message}\nevents: ${JSON.stringify(
              events,
              null,
              1,
            ).slice(0, 4000)}\nstderr: ${stderr}`,
          ),
        );
      }
    });
  });
}

/** The outcome of a run that must have been refused before Terraform ran. */
function expectTerraformNeverRan(outcome: RunOutcome) {
  expect(outcome.phases).not.toContain('init');
  expect(outcome.logs.filter(l => /Initializing/.test(l))).toEqual([]);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sealed-runner-e2e-'));
  // The sandbox user reaches the run's folders through it.
  await chmod(root, 0o711);
  ws = await prepareDemo(root);
  const catalogRepo = ws.serviceCatalogUrl.slice('file://'.length);
  demoCommits = {
    'v1.0.0': git(root, '-C', catalogRepo, 'rev-parse', 'v1.0.0^{commit}'),
    'v1.1.0': git(root, '-C', catalogRepo, 'rev-parse', 'v1.1.0^{commit}'),
  };
  liveHead = git(
    root,
    'ls-remote',
    ws.infrastructureLiveUrl,
    'refs/heads/main',
  ).split('\t')[0];

  // A second live repository for what the demo does not have: slow and
  // broken folders, a committed .terraform directory, a moved branch and
  // a branch that may not be applied.
  canaries = {
    external: join(root, 'canary-external'),
    module: join(root, 'canary-module'),
  };

  // A catalog module whose vetted tag runs a command: only the inspection
  // of what terraform init downloaded can see it.
  const modulesWork = join(root, 'hostile-modules-work');
  await mkdir(modulesWork);
  git(modulesWork, 'init', '--quiet', '--initial-branch=main');
  await writeFiles(modulesWork, {
    'modules/web-service/main.tf': `variable "name" {}
resource "terraform_data" "x" {
  provisioner "local-exec" {
    command = "touch ${canaries.module}"
  }
}
`,
  });
  git(modulesWork, 'add', '--all');
  git(modulesWork, 'commit', '--quiet', '--message', 'module');
  git(modulesWork, 'tag', 'v1.0.0');
  hostileCommit = git(modulesWork, 'rev-parse', 'HEAD');
  git(
    root,
    'clone',
    '--quiet',
    '--bare',
    modulesWork,
    join(root, 'hostile-modules.git'),
  );
  hostileModule = `git::file://${join(
    root,
    'hostile-modules.git',
  )}//modules/web-service`;

  const work = join(root, 'extra-work');
  await mkdir(work);
  git(work, 'init', '--quiet', '--initial-branch=main');
  await writeFiles(work, {
    'live/dev/slow/main.tf': slowFolder(SLOW),
    'live/dev/slow-timeout/main.tf': slowFolder(SLOW_TIMEOUT),
    'live/dev/quick/main.tf': 'resource "terraform_data" "quick" {}\n',
    'live/dev/broken/main.tf': 'output "x" {\n  value = var.missing\n}\n',
    'live/dev/external/main.tf': `terraform {
  required_version = ">= 1.5"
}

data "external" "canary" {
  program = ["sh", "-c", "touch ${canaries.external}; echo '{}'"]
}
`,
    'live/dev/hostile-module/main.tf': `module "hostile" {
  source = "${hostileModule}?ref=v1.0.0"
  name   = "hostile"
}
`,
    'live/dev/committed-data-dir/main.tf': `module "payments" {
  source      = "${vettedSource('v1.1.0')}"
  name        = "payments"
  environment = "dev"
}
`,
    // A module "already installed" under .terraform with hostile code: if
    // Terraform used this data directory, init would skip the download and
    // plan would run the committed code instead of the vetted module.
    'live/dev/committed-data-dir/.terraform/modules/modules.json':
      JSON.stringify({
        Modules: [
          { Key: '', Source: '', Dir: '.' },
          {
            Key: 'payments',
            Source: vettedSource('v1.1.0'),
            Dir: '.terraform/modules/payments/modules/web-service',
          },
        ],
      }),
    'live/dev/committed-data-dir/.terraform/modules/payments/modules/web-service/main.tf':
      'variable "name" {}\nvariable "environment" {}\nresource "terraform_data" "pwned" {\n  input = "unvetted code ran"\n}\n',
  });
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '--message', 'first');
  extraFirst = git(work, 'rev-parse', 'HEAD');
  await writeFile(join(work, 'README.md'), 'moved on\n');
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '--message', 'second');
  extraHead = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '--quiet', '-b', 'feature');
  await writeFile(join(work, 'README.md'), 'feature\n');
  git(work, 'commit', '--quiet', '--all', '--message', 'feature');
  featureHead = git(work, 'rev-parse', 'HEAD');
  git(root, 'clone', '--quiet', '--bare', work, join(root, 'extra-live.git'));
  extraUrl = `file://${join(root, 'extra-live.git')}`;

  // The demo's repository under another name, not on the allowlist.
  git(
    root,
    'clone',
    '--quiet',
    '--bare',
    join(ws.dir, 'infrastructure-live.git'),
    join(root, 'other-live.git'),
  );
  otherUrl = `file://${join(root, 'other-live.git')}`;

  config = {
    repositories: [ws.infrastructureLiveUrl, extraUrl],
    environments: {
      // Sandbox-like: the slow folders need their local-exec provisioner.
      dev: {
        applyBranches: ['main'],
        planPolicy: { allowCodeExecution: true },
      },
      prod: { applyBranches: ['main'] },
    },
    workDir: join(root, 'work'),
    planDir: join(root, 'plans'),
    stateDir: join(root, 'state'),
    providerMirrorDir: join(root, 'providers'),
    terraformPath: '/usr/local/bin/terraform',
    jobPublicKey: JOB_KEYS.publicKey
      .export({ type: 'spki', format: 'pem' })
      .toString(),
    seenJobsDir: join(root, 'seen-jobs'),
  };
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sealed-runner', () => {
  describe('a dev plan, its apply and the next plan', () => {
    let plan: SealedRunnerJob;
    let planSha256: string;

    it('plans the vetted module and saves the plan', async () => {
      plan = makeJob();
      const { result, phases, code } = await runRunner(plan);
      expect(code).toBe(0);
      expect(result).toEqual({
        type: 'result',
        status: 'succeeded',
        commitSha: liveHead,
        moduleSources: [vettedSource('v1.1.0')],
        plan: { add: 1, change: 0, destroy: 0 },
        changes: [
          {
            address: 'module.payments.terraform_data.service',
            actions: ['create'],
          },
        ],
        planSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(phases).toEqual(PLAN_PHASES);
      const saved = await readFile(
        join(config.planDir, 'dev', `${plan.runId}.tfplan`),
      );
      expect(result.planSha256).toBe(sha256(saved));
      planSha256 = result.planSha256!;
    });

    it('leaves nothing in the work dir after a run', async () => {
      expect(await readdir(config.workDir)).toEqual([]);
    });

    it('applies exactly that plan', async () => {
      const { result, logs, phases } = await runRunner(
        applyOf(plan, planSha256),
      );
      expect(result).toEqual({
        type: 'result',
        status: 'succeeded',
        commitSha: liveHead,
        moduleSources: [vettedSource('v1.1.0')],
      });
      expect(phases).toEqual(APPLY_PHASES);
      expect(logs).toContainEqual(
        expect.stringMatching(
          /^Apply complete! Resources: 1 added, 0 changed, 0 destroyed\.$/,
        ),
      );
    });

    it('keeps the state under stateDir, outside the checkout, and cleans the work dir', async () => {
      const states = await listFiles(config.stateDir);
      expect(states).toEqual([
        expect.stringMatching(/^[0-9a-f]{32}\/terraform\.tfstate$/),
      ]);
      const state = JSON.parse(
        await readFile(join(config.stateDir, states[0]), 'utf8'),
      );
      expect(state.resources).toEqual([
        expect.objectContaining({
          module: 'module.payments',
          type: 'terraform_data',
          name: 'service',
        }),
      ]);
      expect(await readdir(config.workDir)).toEqual([]);
    });

    it('shows no changes in the next plan', async () => {
      const { result } = await runRunner(makeJob());
      expect(result).toMatchObject({
        status: 'succeeded',
        plan: { add: 0, change: 0, destroy: 0 },
        changes: [
          {
            address: 'module.payments.terraform_data.service',
            actions: ['no-op'],
          },
        ],
      });
    });

    it('keeps a separate state for the same folder in another environment', async () => {
      const { result } = await runRunner(
        makeJob({ environment: 'prod', path: 'live/dev/payments' }),
      );
      expect(result).toMatchObject({
        status: 'succeeded',
        plan: { add: 1, change: 0, destroy: 0 },
      });
    });

    it('fails to apply the same plan twice: it is stale', async () => {
      const { result, code } = await runRunner(applyOf(plan, planSha256));
      expect(code).toBe(1);
      expect(result).toEqual({
        type: 'result',
        status: 'failed',
        error: 'apply failed: terraform apply failed (exit 1)',
      });
    });

    it('rejects an apply whose plan sha256 does not match the saved plan', async () => {
      const outcome = await runRunner(applyOf(plan, 'f'.repeat(64)));
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: `the saved plan of run ${plan.runId} does not match its recorded sha256`,
      });
      expect(outcome.phases).toEqual(['validate']);
    });

    it('rejects an apply of a plan that was never saved', async () => {
      const missing = randomUUID();
      const job = applyOf(plan, planSha256, {
        plan: { runId: missing, sha256: planSha256 },
      });
      const { result } = await runRunner(job);
      expect(result).toMatchObject({
        status: 'rejected',
        error: `the saved plan of run ${missing} does not exist`,
      });
    });
  });

  describe('refuses what is not vetted, registered or current', () => {
    it('rejects legacy-batch (unvetted v2.0.0-rc1) before Terraform runs', async () => {
      const outcome = await runRunner(
        makeJob({
          entityRef: 'component:default/legacy-batch',
          environment: 'prod',
          path: 'live/prod/legacy-batch',
        }),
      );
      expect(outcome.result.status).toBe('rejected');
      expect(outcome.result.error).toContain('live/prod/legacy-batch/main.tf');
      expect(outcome.result.error).toContain(
        JSON.stringify(vettedSource('v2.0.0-rc1')),
      );
      expect(outcome.phases).toEqual(['validate', 'checkout', 'module-check']);
      expectTerraformNeverRan(outcome);
    });

    it('rejects an apply of a branch that is not an apply branch of the environment', async () => {
      const plan = makeJob({
        repository: extraUrl,
        ref: 'feature',
        commitSha: featureHead,
        path: 'live/dev/slow',
      });
      const outcome = await runRunner(applyOf(plan, 'a'.repeat(64)));
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error:
          'branch "feature" may not be applied to dev (apply branches: main)',
      });
      expect(outcome.phases).toEqual(['validate']);
    });

    it('plans a branch that is not an apply branch', async () => {
      const outcome = await runRunner(
        makeJob({
          repository: extraUrl,
          ref: 'feature',
          commitSha: featureHead,
          path: 'live/dev/slow',
        }),
      );
      expect(outcome.result).toMatchObject({
        status: 'succeeded',
        commitSha: featureHead,
      });
    });

    // Saved plans carry their own configuration and backend: an apply job
    // for main must not apply a plan of an unreviewed feature branch, and a
    // prod apply job must not apply a dev plan.
    it.each([
      [
        'made from a branch that may not be applied',
        () => ({ environment: 'prod', ref: 'feature', commitSha: featureHead }),
        { environment: 'prod' },
      ],
      ['made for another environment', () => ({}), { environment: 'prod' }],
    ])('rejects an apply of a plan %s', async (_, planChange, applyChange) => {
      const plan = makeJob({
        repository: extraUrl,
        commitSha: extraHead,
        path: 'live/dev/quick',
        ...planChange(),
      });
      const planned = await runRunner(plan);
      expect(planned.result.status).toBe('succeeded');
      const outcome = await runRunner(
        applyOf(plan, planned.result.planSha256!, {
          ref: 'main',
          commitSha: extraHead,
          ...applyChange,
        }),
      );
      expect(outcome.result.status).toBe('rejected');
      expect(outcome.phases).not.toContain('apply');
    });

    it('rejects a repository that is not on the runner allowlist', async () => {
      const outcome = await runRunner(makeJob({ repository: otherUrl }));
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: `repository ${JSON.stringify(
          otherUrl,
        )} is not on the sealedRunner.repositories allowlist`,
      });
      expect(outcome.phases).toEqual(['validate']);
    });

    it('rejects an environment the runner does not know', async () => {
      const { result } = await runRunner(makeJob({ environment: 'staging' }));
      expect(result).toMatchObject({
        status: 'rejected',
        error: 'environment "staging" is not configured in the runner',
      });
    });

    it('rejects a commit that is no longer the head of its branch', async () => {
      const outcome = await runRunner(
        makeJob({
          repository: extraUrl,
          commitSha: extraFirst,
          path: 'live/dev/slow',
        }),
      );
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: `branch "main" moved to ${extraHead} since ${extraFirst} was requested`,
      });
      expectTerraformNeverRan(outcome);
    });

    it('rejects a branch that does not exist', async () => {
      const { result } = await runRunner(makeJob({ ref: 'no-such-branch' }));
      expect(result).toMatchObject({
        status: 'rejected',
        error: `branch "no-such-branch" does not exist in ${ws.infrastructureLiveUrl}`,
      });
    });

    it('rejects a folder that does not exist in the commit', async () => {
      const { result } = await runRunner(makeJob({ path: 'live/dev/nothing' }));
      expect(result).toMatchObject({
        status: 'rejected',
        error: 'folder "live/dev/nothing" does not exist in the commit',
      });
    });

    it('runs the vetted module, not module code committed under .terraform', async () => {
      const { result } = await runRunner(
        makeJob({
          repository: extraUrl,
          commitSha: extraHead,
          path: 'live/dev/committed-data-dir',
        }),
      );
      expect(result).toMatchObject({
        status: 'succeeded',
        changes: [
          {
            address: 'module.payments.terraform_data.service',
            actions: ['create'],
          },
        ],
      });
    });
  });

  describe('vetted versions are commits, not movable tags', () => {
    it('refuses a module whose vetted tag was moved, naming the tag and both commits, before plan', async () => {
      // The module author force-moves v1.1.0 of a copy of the catalog to a
      // commit that adds a resource; the pin still says the vetted commit.
      const catalog = join(root, 'moved-catalog.git');
      const work = join(root, 'moved-catalog-work');
      git(
        root,
        'clone',
        '--quiet',
        '--bare',
        ws.serviceCatalogUrl.slice('file://'.length),
        catalog,
      );
      git(root, 'clone', '--quiet', catalog, work);
      await writeFile(
        join(work, 'modules/web-service/extra.tf'),
        'resource "terraform_data" "smuggled" {\n  input = "not vetted"\n}\n',
      );
      git(work, 'add', '--all');
      git(
        work,
        '-c',
        'user.name=Mallory',
        '-c',
        'user.email=m@example.com',
        'commit',
        '--quiet',
        '--message',
        'extra',
      );
      git(work, 'tag', '--force', 'v1.1.0');
      git(work, 'push', '--quiet', '--force', 'origin', 'v1.1.0');
      const moved = git(work, 'rev-parse', 'HEAD');
      const source = `git::file://${catalog}//modules/web-service`;
      const live = join(root, 'moved-live-work');
      git(root, 'init', '--quiet', '--initial-branch=main', live);
      await mkdir(join(live, 'live/dev/payments'), { recursive: true });
      await writeFile(
        join(live, 'live/dev/payments/main.tf'),
        `module "payments" {\n  source = "${source}?ref=v1.1.0"\n  name = "payments"\n  environment = "dev"\n}\n`,
      );
      git(live, 'add', '--all');
      git(
        live,
        '-c',
        'user.name=Pat',
        '-c',
        'user.email=p@example.com',
        'commit',
        '--quiet',
        '--message',
        'live',
      );
      const liveBare = join(root, 'moved-live.git');
      git(root, 'clone', '--quiet', '--bare', live, liveBare);
      const outcome = await runRunner(
        makeJob({
          repository: `file://${liveBare}`,
          commitSha: git(live, 'rev-parse', 'HEAD'),
          modules: [
            {
              source,
              versions: ['v1.1.0'],
              commits: { 'v1.1.0': demoCommits['v1.1.0'] },
            },
          ],
        }),
        {
          config: {
            ...config,
            repositories: [...config.repositories, `file://${liveBare}`],
          },
        },
      );
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: `module.payments: "${source}" tag "v1.1.0" is now commit ${moved}, but it was vetted as commit ${demoCommits['v1.1.0']}; the tag was moved (vet the new commit in the module's catalog entity to use it)`,
      });
      expect(outcome.phases).toEqual([
        'validate',
        'checkout',
        'module-check',
        'init',
        'code-check',
      ]);
    });

    it('refuses a vetted tag that has no pinned commit, before init', async () => {
      const outcome = await runRunner(
        makeJob({
          modules: [
            { source: ws.moduleSource, versions: ['v1.0.0', 'v1.1.0'] },
          ],
        }),
      );
      expect(outcome.result).toMatchObject({
        status: 'rejected',
        error: expect.stringContaining(
          'vetted version "v1.1.0" is not pinned to a commit',
        ),
      });
      expect(outcome.phases).toEqual(['validate', 'checkout', 'module-check']);
    });
  });

  describe('plan is privileged', () => {
    const externalJob = (environment: string) =>
      makeJob({
        repository: extraUrl,
        commitSha: extraHead,
        environment,
        path: 'live/dev/external',
      });

    const expectNoCanary = () => {
      expect(existsSync(canaries.external)).toBe(false);
      expect(existsSync(canaries.module)).toBe(false);
    };

    it('rejects data "external" in prod before Terraform runs, naming file, line and construct', async () => {
      const outcome = await runRunner(externalJob('prod'));
      expect(outcome.code).toBe(2);
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error:
          'live/dev/external/main.tf:5: data "external" "canary" runs a program at plan time; refused in prod (planPolicy.allowCodeExecution is false) (and 1 more finding)',
      });
      expect(outcome.logs).toContain(
        '[sealed-runner] also refused: live/dev/external/main.tf:5: data "external" "canary" uses provider registry.terraform.io/hashicorp/external; refused in prod (planPolicy.providers is empty)',
      );
      expect(outcome.phases).toEqual(['validate', 'checkout', 'module-check']);
      expectTerraformNeverRan(outcome);
      expect(await readdir(config.workDir)).toEqual([]);
      expectNoCanary();
    });

    it('rejects it in a sandbox-like environment too while its provider is not allowlisted', async () => {
      const { result, phases } = await runRunner(externalJob('dev'));
      expect(result).toEqual({
        type: 'result',
        status: 'rejected',
        error:
          'live/dev/external/main.tf:5: data "external" "canary" uses provider registry.terraform.io/hashicorp/external; refused in dev (planPolicy.providers is empty)',
      });
      expect(phases).toEqual(['validate', 'checkout', 'module-check']);
      expectNoCanary();
    });

    it("installs an allowed provider only from the runner's mirror", async () => {
      const permissive = {
        ...config,
        environments: {
          ...config.environments,
          dev: {
            applyBranches: ['main'],
            planPolicy: {
              allowCodeExecution: true,
              providers: ['registry.terraform.io/hashicorp/external'],
            },
          },
        },
      };
      const { result, phases } = await runRunner(externalJob('dev'), {
        config: permissive,
      });
      expect(result).toEqual({
        type: 'result',
        status: 'failed',
        error: 'init failed: terraform init failed (exit 1)',
      });
      expect(phases).toEqual(['validate', 'checkout', 'module-check', 'init']);
      expectNoCanary();
    });

    it('rejects a vetted module whose downloaded code runs a command, after init and before plan', async () => {
      const job = makeJob({
        repository: extraUrl,
        commitSha: extraHead,
        environment: 'prod',
        path: 'live/dev/hostile-module',
        modules: [
          {
            source: hostileModule,
            versions: ['v1.0.0'],
            commits: { 'v1.0.0': hostileCommit },
          },
        ],
      });
      const outcome = await runRunner(job);
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error:
          '.terraform/modules/hostile/modules/web-service/main.tf:3: provisioner "local-exec" in resource "terraform_data" "x" in module.hostile runs a command on the runner at apply time; refused in prod (planPolicy.allowCodeExecution is false)',
      });
      expect(outcome.phases).toEqual([
        'validate',
        'checkout',
        'module-check',
        'init',
        'code-check',
      ]);
      expect(existsSync(join(config.planDir, `${job.runId}.tfplan`))).toBe(
        false,
      );
      expectNoCanary();
    });

    it('checks again before apply: a plan made while code execution was allowed is not applied once it is not', async () => {
      const plan = makeJob({
        repository: extraUrl,
        commitSha: extraHead,
        path: 'live/dev/hostile-module',
        modules: [
          {
            source: hostileModule,
            versions: ['v1.0.0'],
            commits: { 'v1.0.0': hostileCommit },
          },
        ],
      });
      const planned = await runRunner(plan);
      expect(planned.result.status).toBe('succeeded');
      const tightened = {
        ...config,
        environments: {
          ...config.environments,
          dev: { applyBranches: ['main'] },
        },
      };
      const outcome = await runRunner(
        applyOf(plan, planned.result.planSha256!),
        { config: tightened },
      );
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error:
          '.terraform/modules/hostile/modules/web-service/main.tf:3: provisioner "local-exec" in resource "terraform_data" "x" in module.hostile runs a command on the runner at apply time; refused in dev (planPolicy.allowCodeExecution is false)',
      });
      expect(outcome.phases).toEqual([
        'validate',
        'checkout',
        'module-check',
        'init',
        'code-check',
      ]);
      // Applied, the provisioner would have written the canary.
      expectNoCanary();
    });

    it('still plans terraform_data in prod, reporting what it inspected', async () => {
      const { result, phases, logs } = await runRunner(
        makeJob({ environment: 'prod' }),
      );
      expect(result).toMatchObject({
        status: 'succeeded',
        plan: { add: 1, change: 0, destroy: 0 },
      });
      expect(phases).toEqual(PLAN_PHASES);
      expect(logs).toContain(
        '[sealed-runner] plan policy of prod: 2 module folder(s) inspected; providers: built-in terraform only',
      );
    });
  });

  describe('refuses malformed input', () => {
    it('refuses command-line arguments, even with a valid job', async () => {
      const outcome = await runRunner(makeJob(), {
        args: ['--upload-pack=touch /tmp/x'],
      });
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: 'the runner takes no command-line arguments',
      });
      expect(outcome.phases).toEqual([]);
    });

    it.each([
      ['GIT_SSH_COMMAND', 'touch /tmp/sealed-runner-git-ssh'],
      ['TF_CLI_CONFIG_FILE', '/tmp/evil.tfrc'],
      ['LD_PRELOAD', '/nonexistent/evil.so'],
      ['HTTPS_PROXY', 'http://127.0.0.1:9'],
      ['__proto__', 'x'],
    ])(
      'refuses to run with the unexpected environment variable %s',
      async (name, value) => {
        const outcome = await runRunner(makeJob(), { env: { [name]: value } });
        expect(outcome.result).toMatchObject({
          type: 'result',
          status: 'rejected',
          error: expect.stringContaining(
            `unexpected environment variables: ${JSON.stringify(name)}`,
          ),
        });
        expect(outcome.phases).toEqual([]);
      },
    );

    describe('signed, expiring, single-use jobs', () => {
      const expectRejectedBeforeAnything = (
        outcome: RunOutcome,
        error: string | RegExp,
      ) => {
        expect(outcome.result).toMatchObject({
          type: 'result',
          status: 'rejected',
          error:
            typeof error === 'string' ? error : expect.stringMatching(error),
        });
        expect(outcome.phases).toEqual([]);
      };

      it('refuses an unsigned job', async () => {
        expectRejectedBeforeAnything(
          await runRunner(JSON.stringify(makeJob()), { unsigned: true }),
          'the job is not a signed job document',
        );
      });

      it('refuses a job signed with another key', async () => {
        const forged = signJob(
          JSON.stringify(makeJob()),
          generateKeyPairSync('ed25519').privateKey,
        );
        expectRejectedBeforeAnything(
          await runRunner(forged, { unsigned: true }),
          "the job signature does not verify with the runner's job key",
        );
      });

      it('refuses a signed job whose payload was altered', async () => {
        const signed = JSON.parse(signJob(JSON.stringify(makeJob())));
        const altered = JSON.stringify({
          ...signed,
          payload: signed.payload.replace(
            '"environment":"dev"',
            '"environment":"prod"',
          ),
        });
        expect(altered).not.toEqual(JSON.stringify(signed));
        expectRejectedBeforeAnything(
          await runRunner(altered, { unsigned: true }),
          "the job signature does not verify with the runner's job key",
        );
      });

      it.each([
        ['a malformed signature', { signature: '!!not-base64!!' }],
        ['an extra field', { keyId: 'attacker' }],
      ])('refuses an envelope with %s', async (_, change) => {
        const signed = JSON.parse(signJob(JSON.stringify(makeJob())));
        expectRejectedBeforeAnything(
          await runRunner(JSON.stringify({ ...signed, ...change }), {
            unsigned: true,
          }),
          'the job is not a signed job document',
        );
      });

      it('refuses an expired job and one issued in the future', async () => {
        const old = new Date(Date.now() - 3600_000).toISOString();
        expectRejectedBeforeAnything(
          await runRunner(makeJob({ issuedAt: old })),
          /^the job expired/,
        );
        const future = new Date(Date.now() + 3600_000).toISOString();
        expectRejectedBeforeAnything(
          await runRunner(makeJob({ issuedAt: future })),
          'the job was issued in the future',
        );
      });

      it('runs a job once: a replay of the same signed document is refused', async () => {
        const document = signJob(
          JSON.stringify(makeJob({ ref: 'no-such-branch' })),
        );
        const first = await runRunner(document, { unsigned: true });
        expect(first.result).toMatchObject({
          status: 'rejected',
          error: expect.stringContaining('no-such-branch'),
        });
        const replay = await runRunner(document, { unsigned: true });
        expectRejectedBeforeAnything(replay, /was already run \(a replay\)$/);
      });
    });

    it('refuses a job larger than MAX_JOB_BYTES, even a valid one', async () => {
      const json = JSON.stringify(makeJob());
      const padded = `${json}${' '.repeat(MAX_JOB_BYTES + 1 - json.length)}`;
      const outcome = await runRunner(padded);
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: `job document is larger than ${MAX_JOB_BYTES} bytes`,
      });
      expect(outcome.phases).toEqual([]);
    });

    it('accepts a job of exactly MAX_JOB_BYTES', async () => {
      const json = JSON.stringify(makeJob());
      const { result } = await runRunner(
        `${json}${' '.repeat(MAX_JOB_BYTES - json.length)}`,
      );
      expect(result.status).toBe('succeeded');
    });

    it.each([
      ['an empty document', () => '', 'job document is not valid JSON'],
      [
        'invalid JSON',
        () => '{"version": 1,',
        'job document is not valid JSON',
      ],
      [
        'a JSON array',
        () => JSON.stringify([makeJob()]),
        /^job document is invalid: /,
      ],
      [
        'an unknown field',
        () => JSON.stringify({ ...makeJob(), skipModuleCheck: true }),
        /Unrecognized key: "skipModuleCheck"/,
      ],
      [
        'a top-level __proto__ key',
        () =>
          JSON.stringify(makeJob()).replace(
            /^\{/,
            '{"__proto__":{"operation":"apply"},',
          ),
        /__proto__/,
      ],
      [
        'a __proto__ key in a catalog module',
        () =>
          JSON.stringify(makeJob()).replace(
            '"versions":',
            '"__proto__":{"versions":["v2.0.0-rc1"]},"versions":',
          ),
        /__proto__/,
      ],
      [
        'an apply without a plan',
        () => JSON.stringify(makeJob({ operation: 'apply' })),
        /an apply job must name its plan/,
      ],
      [
        'an abbreviated commit',
        () => JSON.stringify(makeJob({ commitSha: liveHead.slice(0, 12) })),
        /full 40-character/,
      ],
      [
        'a hostile branch',
        () => JSON.stringify(makeJob({ ref: '--upload-pack=touch /tmp/x' })),
        /branch/,
      ],
      [
        'a hostile repository',
        () =>
          JSON.stringify(makeJob({ repository: 'ext::sh -c touch% /tmp/x' })),
        /repository URL/,
      ],
      [
        'a path that leaves the checkout',
        () => JSON.stringify(makeJob({ path: 'live/../../etc' })),
        /'\.\.' segments/,
      ],
    ])('refuses %s', async (_, input, error) => {
      const outcome = await runRunner(input());
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'rejected',
        error: expect.stringMatching(error),
      });
      expect(outcome.phases).toEqual(['validate']);
    });

    it('keeps its result readable when a job has a great many errors', async () => {
      const modules = Array.from({ length: 1000 }, (_, i) => ({
        source: `not-a-source-${i}`,
        versions: ['v1'],
      }));
      const { result } = await runRunner(JSON.stringify(makeJob({ modules })));
      expect(result).toMatchObject({
        status: 'rejected',
        error: expect.stringMatching(/^job document is invalid: /),
      });
    });

    it.each([
      [
        'is missing',
        null,
        /^runner configuration: SEALED_RUNNER_CONFIG is not set$/,
      ],
      [
        'has a relative work dir',
        { workDir: 'work' },
        /must be an absolute path/,
      ],
      [
        'allowlists the ext:: transport',
        { repositories: ['ext::sh -c x'] },
        /must be a repository URL/,
      ],
    ])('fails when its own config %s', async (_, change, error) => {
      const { result, phases } = await runRunner(makeJob(), {
        config: change === null ? null : { ...config, ...change },
      });
      expect(result).toEqual({
        type: 'result',
        status: 'failed',
        error: expect.stringMatching(error),
      });
      expect(phases).toEqual([]);
    });
  });

  describe('the sandbox', () => {
    const asRoot = process.getuid?.() === 0;

    it('refuses to run where bubblewrap is missing, before git', async () => {
      const outcome = await runRunner(makeJob(), {
        config: { ...config, sandbox: { bwrapPath: '/nonexistent/bwrap' } },
      });
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'failed',
        error:
          'validate failed: bubblewrap is not installed at /nonexistent/bwrap (Debian/Ubuntu: apt-get install bubblewrap)',
      });
      expect(outcome.phases).toEqual(['validate']);
    });

    it('says in the run log that a run is unsandboxed (sandbox: false), and still runs it', async () => {
      const outcome = await runRunner(makeJob(), {
        config: { ...config, sandbox: false },
      });
      expect(outcome.result.status).toBe('succeeded');
      expect(outcome.logs).toContain(
        '[sealed-runner] WARNING: UNSANDBOXED (sandbox: false): git and Terraform run as the runner, and can reach what it can',
      );
    });

    it(`${
      asRoot
        ? 'runs git and Terraform as another user with sandbox type uid, and leaves none of its processes'
        : 'refuses sandbox type uid without root'
    }`, async () => {
      const uid = { type: 'uid' as const, uid: 64200, gid: 64200 };
      const plan = makeJob({
        environment: 'prod',
        path: 'live/prod/payments',
      });
      const outcome = await runRunner(plan, {
        config: { ...config, sandbox: uid },
      });
      const withoutRoot = {
        status: 'failed',
        error: expect.stringContaining('needs a runner running as root'),
      };
      expect({
        result: outcome.result,
        logs: outcome.logs.slice(-8),
      }).toMatchObject({
        result: asRoot ? { status: 'succeeded' } : withoutRoot,
      });
      expect(
        outcome.logs.includes(
          '[sealed-runner] git and Terraform run as the unprivileged user 64200:64200, every process of that user killed after each command',
        ),
      ).toBe(asRoot);
      const left = [];
      for (const entry of await readdir('/proc')) {
        const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(
          () => '',
        );
        if (/^Uid:\s+64200\s/m.test(status)) {
          left.push(entry);
        }
      }
      expect(left).toEqual([]);
    });

    it(`${
      asRoot
        ? 'refuses a run whose folders the sandbox user cannot reach, naming the folder'
        : 'runs from a folder only its own user can reach (the sandbox is that user)'
    }`, async () => {
      const hidden = await mkdtemp(join(tmpdir(), 'sealed-runner-hidden-'));
      const outcome = await runRunner(makeJob(), {
        config: {
          ...config,
          workDir: join(hidden, 'runner/work'),
          stateDir: join(hidden, 'runner/state'),
        },
      });
      await rm(hidden, { recursive: true, force: true });
      const unreachable = {
        status: 'failed',
        error: expect.stringMatching(
          /the sandbox user 64100 cannot reach .*: \/tmp\/sealed-runner-hidden-\w+ is not traversable/,
        ),
      };
      expect(outcome.result).toMatchObject(
        asRoot ? unreachable : { status: 'succeeded' },
      );
    });
  });

  describe('failures, cancellation and timeouts', () => {
    it('reports a Terraform error as failed', async () => {
      const outcome = await runRunner(
        makeJob({
          repository: extraUrl,
          commitSha: extraHead,
          path: 'live/dev/broken',
        }),
      );
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'failed',
        error: expect.stringMatching(
          /^(init|plan) failed: terraform (init|plan) failed \(exit 1\)$/,
        ),
      });
      expect(outcome.logs).toContainEqual(
        expect.stringMatching(/Reference to undeclared input variable/),
      );
    });

    it('cancels a running apply on SIGTERM and cleans up', async () => {
      const plan = makeJob({
        repository: extraUrl,
        commitSha: extraHead,
        path: 'live/dev/slow',
      });
      const planned = await runRunner(plan);
      expect(planned.result).toMatchObject({
        status: 'succeeded',
        plan: { add: 1, change: 0, destroy: 0 },
      });

      let signalled = false;
      const outcome = await runRunner(
        applyOf(plan, planned.result.planSha256!),
        {
          onEvent: (event, child) => {
            if (
              !signalled &&
              event.type === 'log' &&
              /slow-started/.test(event.line)
            ) {
              // The provisioner's shell is running: interrupt the runner.
              signalled = true;
              child.kill('SIGTERM');
            }
          },
        },
      );
      expect(signalled).toBe(true);
      expect(outcome.code).toBe(3);
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'cancelled',
        error: 'cancelled during apply',
      });
      // Well before the 30 s the provisioner would have slept.
      expect(outcome.seconds).toBeLessThan(20);
      expect(await readdir(config.workDir)).toEqual([]);
    });

    // Terraform kills a provisioner's shell on interrupt, but not what the
    // shell started: the sandbox's PID namespace dies with the command.
    it('leaves no process of the cancelled run running', async () => {
      const left = await sleepers(SLOW);
      for (const pid of left) {
        process.kill(pid, 'SIGKILL');
      }
      expect(left).toEqual([]);
    });

    it('fails a run that exceeds timeoutSeconds', async () => {
      const quick = { ...config, timeoutSeconds: 10 };
      const plan = makeJob({
        repository: extraUrl,
        commitSha: extraHead,
        path: 'live/dev/slow-timeout',
      });
      const planned = await runRunner(plan, { config: quick });
      expect(planned.result.status).toBe('succeeded');
      const outcome = await runRunner(
        applyOf(plan, planned.result.planSha256!),
        { config: quick },
      );
      expect(outcome.result).toEqual({
        type: 'result',
        status: 'failed',
        error: 'timed out after 10 s during apply',
      });
      expect(outcome.seconds).toBeLessThan(25);
      const left = await sleepers(SLOW_TIMEOUT);
      for (const pid of left) {
        process.kill(pid, 'SIGKILL');
      }
      expect(left).toEqual([]);
      expect(
        existsSync(config.workDir) && (await readdir(config.workDir)),
      ).toEqual([]);
    });
  });
});
