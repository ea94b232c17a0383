import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BackendProcess,
  createIsolatedRoot,
  GateClient,
  IsolatedRoot,
  isStatus,
  pushSlowBranch,
  staticToken,
} from './index';

jest.setTimeout(180_000);

const PAYMENTS = 'component:default/payments';
const LEGACY = 'component:default/legacy-batch';
const CI_TOKEN = 'e2e-ci-token-0123456789';
const CONFIG = {
  // Fast detection of a dead supervisor, so the restart tests do not wait 30 s.
  sealedRunner: {
    runner: { heartbeatTimeoutSeconds: 3, reconcileIntervalSeconds: 1 },
  },
  // A CI system's token, scoped as the README shows.
  backend: {
    auth: {
      externalAccess: [
        staticToken(CI_TOKEN, 'ci-pipeline', [
          'sealed-runner.run.read',
          'sealed-runner.run.plan',
        ]),
      ],
    },
  },
};

async function stateFiles(root: IsolatedRoot): Promise<string[]> {
  const stateDir = join(root.runnerDir, 'state');
  const keys = await readdir(stateDir).catch(() => []);
  return keys.map(key => join(stateDir, key, 'terraform.tfstate'));
}

/** Finds the runner process of a run by its working directory. */
async function runnerPid(
  root: IsolatedRoot,
  runId: string,
): Promise<number | undefined> {
  const runDir = join(root.runnerDir, 'runs', runId);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    if (cwd === runDir) {
      return Number(entry);
    }
  }
  return undefined;
}

describe('the gate, end to end (README walk-through over HTTP)', () => {
  let root: IsolatedRoot;
  let backend: BackendProcess;
  let erin: GateClient;
  let pat: GateClient;

  beforeAll(async () => {
    root = await createIsolatedRoot();
    backend = await BackendProcess.start({ root, config: CONFIG });
    erin = await GateClient.as(backend.baseUrl, 'guest');
    pat = await GateClient.as(backend.baseUrl, 'demo-approver');
    await erin.waitForTargets(PAYMENTS);
    await erin.waitForTargets(LEGACY);
  });

  afterAll(async () => {
    await backend?.stop();
    await root?.cleanup();
  });

  it('lists the demo targets with their environment rules', async () => {
    const { status, body } = await erin.request(
      'GET',
      `/targets?entityRef=${PAYMENTS}`,
    );
    expect(status).toBe(200);
    expect(
      body.items.map((t: any) => [
        t.environment,
        t.deployable,
        t.applyBranches,
        t.requiredApprovals,
      ]),
    ).toEqual([
      ['dev', true, ['*'], 0],
      ['prod', true, ['main'], 1],
    ]);
    expect(body.items[0].path).toBe('live/dev/payments');
  });

  let devPlanId: string;

  it('plans dev with real Terraform', async () => {
    const { status, body } = await erin.plan(PAYMENTS, 'dev');
    expect(status).toBe(202);
    expect(body.run.commitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(body.run.requestedBy).toBe('user:default/erin');
    const run = await erin.waitForRun(body.run.id);
    expect(run.status).toBe('succeeded');
    expect(run.plan).toEqual({ add: 1, change: 0, destroy: 0 });
    expect(run.changes).toEqual([
      {
        address: 'module.payments.terraform_data.service',
        actions: ['create'],
      },
    ]);
    const logs = await erin.logs(run.id);
    expect(logs).toContain('Terraform has been successfully initialized!');
    expect(logs).toContain('Plan: 1 to add, 0 to change, 0 to destroy.');
    devPlanId = run.id;
  });

  it('applies the dev plan without approvals and keeps the state outside the checkout', async () => {
    const { status, body } = await erin.request(
      'POST',
      `/runs/${devPlanId}/apply`,
    );
    expect(status).toBe(202);
    expect(body.run.planRunId).toBe(devPlanId);
    const run = await erin.waitForRun(body.run.id);
    expect(run.status).toBe('succeeded');
    expect(await erin.logs(run.id)).toContain(
      'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.',
    );

    const [state] = await stateFiles(root);
    const tfstate = JSON.parse(await readFile(state, 'utf8'));
    expect(
      tfstate.resources.map((r: any) => `${r.module}.${r.type}.${r.name}`),
    ).toEqual(['module.payments.terraform_data.service']);
    expect(await readdir(join(root.runnerDir, 'work'))).toEqual([]);
  });

  it('shows no changes when planning dev again', async () => {
    const { body } = await erin.plan(PAYMENTS, 'dev', 'main');
    const run = await erin.waitForRun(body.run.id);
    expect(run.status).toBe('succeeded');
    expect(run.plan).toEqual({ add: 0, change: 0, destroy: 0 });
    expect(await erin.logs(run.id)).toContain(
      'No changes. Your infrastructure matches the configuration.',
    );
  });

  it('walks the four-eyes prod flow with two identities', async () => {
    const { body } = await erin.plan(PAYMENTS, 'prod');
    const plan = await erin.waitForRun(body.run.id);
    expect(plan.status).toBe('succeeded');
    expect(plan.plan).toEqual({ add: 1, change: 0, destroy: 0 });

    const early = await erin.request('POST', `/runs/${plan.id}/apply`);
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/needs 1 more approval/);

    const own = await erin.request('POST', `/runs/${plan.id}/approve`);
    expect(own.status).toBe(403);

    const approved = await pat.request('POST', `/runs/${plan.id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.run.approvals).toEqual([
      { by: 'user:default/pat', at: expect.any(String) },
    ]);

    const apply = await erin.request('POST', `/runs/${plan.id}/apply`);
    expect(apply.status).toBe(202);
    const applied = await erin.waitForRun(apply.body.run.id);
    expect(applied.status).toBe('succeeded');
    expect(applied.commitSha).toBe(plan.commitSha);
    expect(await erin.logs(applied.id)).toContain(
      'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.',
    );

    const again = await erin.request('POST', `/runs/${plan.id}/apply`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already been applied/);

    const history = await erin.request('GET', `/runs/${plan.id}/history`);
    expect(history.body.items.map((e: any) => [e.actor, e.action])).toEqual([
      ['user:default/erin', 'requested'],
      ['sealed-runner', 'started'],
      ['sealed-runner', 'finished'],
      ['user:default/pat', 'approved'],
    ]);
  });

  it('rejects legacy-batch before Terraform runs, naming the offending module source', async () => {
    const { status, body } = await erin.plan(LEGACY, 'prod');
    expect(status).toBe(202);
    const run = await erin.waitForRun(body.run.id);
    expect(run.status).toBe('rejected');
    expect(run.error).toContain(`${root.demo.moduleSource}?ref=v2.0.0-rc1`);
    expect(run.error).toMatch(/not vetted \(vetted: v1\.0\.0, v1\.1\.0\)/);
    const logs = await erin.logs(run.id);
    expect(logs.some(line => line.includes('Initializing'))).toBe(false);
  });

  it('lets a CI token plan within its access restrictions, and never approve', async () => {
    const ci = new GateClient(backend.baseUrl, CI_TOKEN);
    const targets = await ci.request('GET', `/targets?entityRef=${PAYMENTS}`);
    expect(targets.status).toBe(200);
    const { status, body } = await ci.plan(PAYMENTS, 'prod');
    expect(status).toBe(202);
    expect(body.run.requestedBy).toBe('service:ci-pipeline');
    const plan = await ci.waitForRun(body.run.id);
    expect(plan.status).toBe('succeeded');

    expect((await ci.request('POST', `/runs/${plan.id}/approve`)).status).toBe(
      403,
    );
    const apply = await ci.request('POST', `/runs/${plan.id}/apply`);
    expect(apply.status).toBe(403);
    expect(apply.body.error.message).toMatch(/you may not apply/);
    // Erin may not approve a plan CI requested either: only the platform team approves prod.
    expect(
      (await erin.request('POST', `/runs/${plan.id}/approve`)).status,
    ).toBe(403);
  });

  it('keeps a run and its logs across a backend crash and finishes it', async () => {
    await pushSlowBranch(root, 'e2e-slow', 6000);
    const { body } = await erin.plan(PAYMENTS, 'dev', 'e2e-slow');
    await erin.waitForRun(body.run.id, isStatus('running'));
    const before = await erin.logs(body.run.id);
    await backend.stop('SIGKILL');

    backend = await BackendProcess.start({
      root,
      config: CONFIG,
      name: 'restarted',
    });
    erin = await GateClient.as(backend.baseUrl, 'guest');
    pat = await GateClient.as(backend.baseUrl, 'demo-approver');
    const run = await erin.waitForRun(body.run.id);
    expect(run.status).toBe('succeeded');
    expect(run.plan).toEqual({ add: 6000, change: 0, destroy: 0 });
    const after = await erin.logs(run.id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after).toContain('Plan: 6000 to add, 0 to change, 0 to destroy.');
    expect(before).not.toContain(
      'Plan: 6000 to add, 0 to change, 0 to destroy.',
    );
  });

  it('fails a run whose runner died with the backend, keeps its logs and releases the lock', async () => {
    const { body } = await erin.plan(PAYMENTS, 'dev', 'e2e-slow');
    await erin.waitForRun(body.run.id, run => run.status === 'running');
    // Wait for the first Terraform line so there are logs to keep.
    for (
      let i = 0;
      i < 100 &&
      !(await erin.logs(body.run.id)).some(l => l.startsWith('Initializing'));
      i++
    ) {
      await new Promise(r => setTimeout(r, 100));
    }
    const before = await erin.logs(body.run.id);
    const pid = await runnerPid(root, body.run.id);
    expect(pid).toBeDefined();
    await backend.stop('SIGKILL');
    process.kill(-pid!, 'SIGKILL');

    backend = await BackendProcess.start({
      root,
      config: CONFIG,
      name: 'restarted-2',
    });
    erin = await GateClient.as(backend.baseUrl, 'guest');
    const run = await erin.waitForRun(body.run.id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/the runner stopped without reporting a result/);
    expect((await erin.logs(run.id)).slice(0, before.length)).toEqual(before);

    const next = await erin.plan(PAYMENTS, 'dev');
    expect(next.status).toBe(202);
    expect((await erin.waitForRun(next.body.run.id)).status).toBe('succeeded');
  });
});
