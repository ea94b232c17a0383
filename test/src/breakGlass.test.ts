import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureGit } from '@sealed-runner/demo';
import { BackendProcess } from './harness/BackendProcess';
import { GateClient } from './harness/GateClient';
import { createIsolatedRoot, IsolatedRoot } from './harness/isolatedRoot';

// Break-glass end to end: the real backend with the demo's permission
// policy (Pat holds break-glass, Erin does not), the real local runner, git
// and Terraform.
jest.setTimeout(240_000);

const PAYMENTS = 'component:default/payments';
const LEGACY = 'component:default/legacy-batch';
const PAT = 'user:default/pat';
const HOTFIX = 'e2e-hotfix';
const REASON = 'payments API down (INC-4711), hotfix cannot wait for review';
const CONFIG = {
  // dev is made as strict as prod here (main only, one approval), so a
  // short session there can expire while the prod flow runs. The gate and
  // the local runner read the same environments.
  sealedRunner: {
    environments: { dev: { applyBranches: ['main'], requiredApprovals: 1 } },
  },
};

/** Pushes a branch that neither dev nor prod applies from, changing both folders. */
async function pushHotfixBranch(root: IsolatedRoot): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'sealed-runner-e2e-hotfix-'));
  const git = (...args: string[]) => fixtureGit(work, ...args);
  try {
    git('clone', '--quiet', root.demo.infrastructureLiveUrl, '.');
    git('checkout', '--quiet', '-b', HOTFIX);
    for (const environment of ['dev', 'prod']) {
      await writeFile(
        join(work, `live/${environment}/payments/hotfix.tf`),
        'resource "terraform_data" "hotfix" {\n  input = "INC-4711"\n}\n',
      );
    }
    git('add', '--all');
    git('commit', '--quiet', '--message', 'hotfix for INC-4711');
    git('push', '--quiet', 'origin', HOTFIX);
    return git('rev-parse', 'HEAD');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe('break-glass, end to end', () => {
  let root: IsolatedRoot;
  let backend: BackendProcess;
  let erin: GateClient;
  let pat: GateClient;
  let hotfixHead: string;

  beforeAll(async () => {
    root = await createIsolatedRoot();
    hotfixHead = await pushHotfixBranch(root);
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

  const open = (
    client: GateClient,
    entityRef: string,
    environment: string,
    extra: object = {},
  ) =>
    client.request('POST', '/break-glass', {
      entityRef,
      environment,
      reason: REASON,
      ...extra,
    });

  async function succeededPlan(
    client: GateClient,
    environment: string,
    ref?: string,
  ) {
    const { status, body } = await client.plan(PAYMENTS, environment, ref);
    expect({ status, body }).toMatchObject({ status: 202 });
    const run = await client.waitForRun(body.run.id);
    expect(run).toMatchObject({ status: 'succeeded' });
    return run;
  }

  // Opened first, so it expires while the tests below run.
  let shortSession: any;
  let devHotfixPlan: string;

  it('opens a one-minute session on dev and plans the hotfix under it', async () => {
    const opened = await open(pat, PAYMENTS, 'dev', { durationMinutes: 1 });
    expect(opened.status).toBe(201);
    shortSession = opened.body.session;
    expect(
      Date.parse(shortSession.expiresAt) - Date.parse(shortSession.openedAt),
    ).toBe(60_000);
    devHotfixPlan = (await succeededPlan(pat, 'dev', HOTFIX)).id;
  });

  it('refuses a session to Erin, who does not hold sealed-runner.breakglass', async () => {
    const res = await open(erin, PAYMENTS, 'prod');
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe(
      `you may not use break-glass on ${PAYMENTS} in prod`,
    );
  });

  it('lets Pat apply a feature branch to prod without approvals under a session, loudly, until he closes it', async () => {
    const opened = await open(pat, PAYMENTS, 'prod', {
      ticket: 'INC-4711',
      durationMinutes: 30,
    });
    expect(opened.status).toBe(201);
    const session = opened.body.session;
    expect(session).toMatchObject({
      openedBy: PAT,
      reason: REASON,
      ticket: 'INC-4711',
      uses: [],
    });

    const plan = await succeededPlan(pat, 'prod', HOTFIX);
    expect(plan.commitSha).toBe(hotfixHead);
    expect(plan.plan).toEqual({ add: 2, change: 0, destroy: 0 });

    // The session is Pat's: Erin applying his plan is still refused.
    const byErin = await erin.request('POST', `/runs/${plan.id}/apply`);
    expect(byErin.status).toBe(403);
    expect(byErin.body.error.message).toBe(
      `branch ${HOTFIX} may not be applied to prod (apply branches: main)`,
    );

    const applied = await pat.request('POST', `/runs/${plan.id}/apply`);
    expect(applied.status).toBe(202);
    expect(applied.body.run.breakGlass).toEqual({
      sessionId: session.id,
      openedBy: PAT,
      reason: REASON,
    });
    const run = await pat.waitForRun(applied.body.run.id);
    expect(run).toMatchObject({
      status: 'succeeded',
      ref: HOTFIX,
      commitSha: hotfixHead,
    });
    const logs = await pat.logs(run.id);
    expect(logs).toContain(
      `[sealed-runner] WARNING: break-glass session ${session.id} opened by ${PAT}: applying ${HOTFIX}, which is not an apply branch of prod`,
    );
    expect(logs).toContain(
      'Apply complete! Resources: 2 added, 0 changed, 0 destroyed.',
    );

    const listed = await erin.request(
      'GET',
      `/break-glass?entityRef=${PAYMENTS}&environment=prod`,
    );
    expect(listed.status).toBe(200);
    expect(listed.body.items[0]).toMatchObject({
      id: session.id,
      uses: [
        {
          runId: run.id,
          operation: 'apply',
          bypassed: ['apply-branch', 'approvals'],
        },
      ],
    });
    expect(listed.body.items[0].closedAt).toBeUndefined();

    const closed = await pat.request(
      'POST',
      `/break-glass/${session.id}/close`,
      { reason: 'hotfix applied' },
    );
    expect(closed.status).toBe(200);
    expect(closed.body.session).toMatchObject({
      closeReason: 'closed',
      closedBy: PAT,
      closeNote: 'hotfix applied',
    });

    // Closed: the next plan of the hotfix branch cannot be applied.
    const again = await succeededPlan(pat, 'prod', HOTFIX);
    expect(again.plan).toEqual({ add: 0, change: 0, destroy: 0 });
    const refused = await pat.request('POST', `/runs/${again.id}/apply`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe(
      `branch ${HOTFIX} may not be applied to prod (apply branches: main)`,
    );
  });

  it('never lets an unvetted module through: legacy-batch is rejected even under a session', async () => {
    const opened = await open(pat, LEGACY, 'prod');
    expect(opened.status).toBe(201);
    const { body } = await pat.plan(LEGACY, 'prod');
    const run = await pat.waitForRun(body.run.id);
    expect(run.status).toBe('rejected');
    expect(run.error).toContain(`${root.demo.moduleSource}?ref=v2.0.0-rc1`);
    const apply = await pat.request('POST', `/runs/${run.id}/apply`);
    expect(apply.status).toBe(409);
    expect(
      (
        await pat.request(
          'POST',
          `/break-glass/${opened.body.session.id}/close`,
        )
      ).status,
    ).toBe(200);
  });

  it('no longer honours a session once it expired, and records the expiry', async () => {
    const wait = Date.parse(shortSession.expiresAt) + 1000 - Date.now();
    if (wait > 0) {
      await new Promise(r => setTimeout(r, wait));
    }
    const listed = await pat.request(
      'GET',
      `/break-glass?entityRef=${PAYMENTS}&environment=dev`,
    );
    expect(listed.body.items[0]).toMatchObject({
      id: shortSession.id,
      closeReason: 'expired',
      closedAt: shortSession.expiresAt,
    });
    const active = await pat.request(
      'GET',
      `/break-glass?entityRef=${PAYMENTS}&active=true`,
    );
    expect(active.body.items).toEqual([]);

    const refused = await pat.request('POST', `/runs/${devHotfixPlan}/apply`);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe(
      `branch ${HOTFIX} may not be applied to dev (apply branches: main)`,
    );
    expect((await pat.run(devHotfixPlan)).applyRunId).toBeUndefined();

    // The scheduler task (every 30 s) records and audits the expiry.
    const expiredId: string = shortSession.id;
    const isExpiryAudit = (line: string) =>
      line.includes('sealed-runner.break-glass-expire') &&
      line.includes(expiredId);
    const deadline = Date.now() + 45_000;
    let audited = false;
    while (!audited && Date.now() < deadline) {
      audited = (await readFile(backend.logFile, 'utf8'))
        .split('\n')
        .some(isExpiryAudit);
      if (!audited) {
        await new Promise(r => setTimeout(r, 1000));
      }
    }
    expect(audited).toBe(true);
  });

  it('lists sessions to anyone who may read the target, newest first', async () => {
    const { status, body } = await erin.request(
      'GET',
      `/break-glass?entityRef=${PAYMENTS}`,
    );
    expect(status).toBe(200);
    expect(body.items.map((s: any) => [s.environment, s.closeReason])).toEqual([
      ['prod', 'closed'],
      ['dev', 'expired'],
    ]);
  });
});
