import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  RunnerEvent,
  runnerEventSchema,
  RunnerResult,
  SealedRunnerJob,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  DemoWorkspace,
  fixtureGit as git,
  prepareDemo,
} from '@sealed-runner/demo';
import {
  jobSigningMessage,
  RunnerConfigInput,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

// A break-glass grant through the real program (`node bin/sealed-runner`),
// real git and real Terraform: the runner applies a branch that is not an
// apply branch of its environment only with a grant the gate signed, that
// has not expired.
jest.setTimeout(60_000);

const RUNNER = resolve(__dirname, '../bin/sealed-runner');
const JOB_KEYS = generateKeyPairSync('ed25519');
const SESSION = randomUUID();
const PAT = 'user:default/pat';

interface Outcome {
  result: RunnerResult;
  phases: string[];
  logs: string[];
}

let root: string;
let ws: DemoWorkspace;
let config: RunnerConfigInput;
let hotfixHead: string;
/** The commits the demo's vetted tags point at, as the gate pins them. */
let demoCommits: Record<string, string>;

function signed(payload: string): string {
  return JSON.stringify({
    payload,
    signature: sign(
      null,
      jobSigningMessage(payload),
      JOB_KEYS.privateKey,
    ).toString('base64'),
  });
}

/** Runs the program once on a document (signed here unless `document` is given). */
function runRunner(job: object, document?: string): Promise<Outcome> {
  const child = spawn(process.execPath, [RUNNER], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SEALED_RUNNER_CONFIG: JSON.stringify(config),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const events: RunnerEvent[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', chunk => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', line => {
    events.push(runnerEventSchema.parse(JSON.parse(line)));
  });
  child.stdin.end(document ?? signed(JSON.stringify(job)));
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', () => {
      const result = events.find((e): e is RunnerResult => e.type === 'result');
      if (!result) {
        reject(new Error(`no result; stderr: ${stderr}`));
        return;
      }
      resolvePromise({
        result,
        phases: events.flatMap(e => (e.type === 'phase' ? [e.phase] : [])),
        logs: events.flatMap(e => (e.type === 'log' ? [e.line] : [])),
      });
    });
  });
}

function planJob(): SealedRunnerJob {
  return {
    version: 1,
    runId: randomUUID(),
    operation: 'plan',
    entityRef: 'component:default/payments',
    environment: 'prod',
    repository: ws.infrastructureLiveUrl,
    ref: 'hotfix',
    commitSha: hotfixHead,
    path: 'live/prod/payments',
    modules: [
      {
        source: ws.moduleSource,
        versions: ['v1.0.0', 'v1.1.0'],
        commits: demoCommits,
      },
    ],
    issuedAt: new Date().toISOString(),
  };
}

const grant = (overrides: object = {}) => ({
  sessionId: SESSION,
  openedBy: PAT,
  expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
  ...overrides,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sealed-runner-break-glass-'));
  // The sandbox user reaches the run's folders through it.
  await chmod(root, 0o711);
  ws = await prepareDemo(root);
  const catalogRepo = ws.serviceCatalogUrl.slice('file://'.length);
  demoCommits = Object.fromEntries(
    ['v1.0.0', 'v1.1.0'].map(tag => [
      tag,
      git(root, '-C', catalogRepo, 'rev-parse', `${tag}^{commit}`),
    ]),
  );
  // An emergency fix on a branch prod does not apply from.
  const work = join(root, 'hotfix-work');
  git(root, 'clone', '--quiet', ws.infrastructureLiveUrl, work);
  git(work, 'checkout', '--quiet', '-b', 'hotfix');
  await writeFile(
    join(work, 'live/prod/payments/hotfix.tf'),
    'resource "terraform_data" "hotfix" {}\n',
  );
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '--message', 'hotfix');
  git(work, 'push', '--quiet', 'origin', 'hotfix');
  hotfixHead = git(work, 'rev-parse', 'HEAD');
  config = {
    repositories: [ws.infrastructureLiveUrl],
    environments: { prod: { applyBranches: ['main'] } },
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

describe('a break-glass grant', () => {
  let plan: SealedRunnerJob;
  let planSha256: string;
  const applyJob = (extra: object = {}) => ({
    ...plan,
    runId: randomUUID(),
    operation: 'apply',
    plan: { runId: plan.runId, sha256: planSha256 },
    issuedAt: new Date().toISOString(),
    ...extra,
  });

  it('is not needed to plan the branch', async () => {
    plan = planJob();
    const planned = await runRunner(plan);
    expect(planned.result).toMatchObject({
      status: 'succeeded',
      commitSha: hotfixHead,
    });
    planSha256 = planned.result.planSha256!;
  });

  it('is needed: without one, a branch that is not an apply branch is refused (unchanged)', async () => {
    const outcome = await runRunner(applyJob());
    expect(outcome.result).toEqual({
      type: 'result',
      status: 'rejected',
      error:
        'branch "hotfix" may not be applied to prod (apply branches: main)',
    });
    expect(outcome.phases).toEqual(['validate']);
  });

  it('is refused once expired, with the reason', async () => {
    const expiresAt = new Date(Date.now() - 1000).toISOString();
    const outcome = await runRunner(
      applyJob({ breakGlass: grant({ expiresAt }) }),
    );
    expect(outcome.result).toEqual({
      type: 'result',
      status: 'rejected',
      error: `the break-glass grant of session ${SESSION} expired at ${expiresAt}`,
    });
    expect(outcome.phases).toEqual(['validate']);
  });

  it.each([
    ['an unknown key', grant({ approvals: 'skip' })],
    ['no expiry', { sessionId: SESSION, openedBy: PAT }],
    ['an invalid session id', grant({ sessionId: 'x' })],
    ['an invalid opener', grant({ openedBy: 'pat; rm -rf /' })],
    ['a non-object value', true],
  ])('is refused with %s', async (_, value) => {
    const outcome = await runRunner(applyJob({ breakGlass: value }));
    expect(outcome.result).toMatchObject({
      status: 'rejected',
      error: expect.stringMatching(
        /^job document is invalid: [\s\S]*breakGlass/,
      ),
    });
    expect(outcome.phases).toEqual(['validate']);
  });

  it('is refused on a plan job', async () => {
    const outcome = await runRunner({ ...planJob(), breakGlass: grant() });
    expect(outcome.result).toMatchObject({
      status: 'rejected',
      error: expect.stringContaining(
        'a plan job must not carry a break-glass grant',
      ),
    });
  });

  it('cannot be added to a job the gate signed without one', async () => {
    const document = JSON.parse(signed(JSON.stringify(applyJob())));
    const payload = JSON.stringify({
      ...JSON.parse(document.payload),
      breakGlass: grant(),
    });
    const outcome = await runRunner(
      {},
      JSON.stringify({ ...document, payload }),
    );
    expect(outcome.result).toEqual({
      type: 'result',
      status: 'rejected',
      error: "the job signature does not verify with the runner's job key",
    });
    expect(outcome.phases).toEqual([]);
  });

  it('lets the apply proceed, warning in the run log', async () => {
    const outcome = await runRunner(applyJob({ breakGlass: grant() }));
    expect(outcome.result).toMatchObject({
      status: 'succeeded',
      commitSha: hotfixHead,
    });
    expect(outcome.phases).toEqual([
      'validate',
      'checkout',
      'module-check',
      'init',
      'code-check',
      'apply',
    ]);
    expect(outcome.logs).toContain(
      `[sealed-runner] WARNING: break-glass session ${SESSION} opened by ${PAT}: applying hotfix, which is not an apply branch of prod`,
    );
    expect(
      outcome.logs.some(l => /^Apply complete! Resources: 2 added/.test(l)),
    ).toBe(true);
  });
});
