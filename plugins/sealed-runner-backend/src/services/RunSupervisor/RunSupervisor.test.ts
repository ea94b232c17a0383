import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { randomUUID } from 'node:crypto';
import { DatabaseRunStore } from '../../database/DatabaseRunStore';
import { event, FakeDispatcher } from '../../__testUtils__/FakeDispatcher';
import { Ed25519JobSigner } from '../JobSigner/JobSigner';
import { createRunSupervisor } from './RunSupervisor';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

/** A store, a supervisor over a fake runner, and a queued plan run to start. */
async function world(script: Parameters<FakeDispatcher['script']>[2]) {
  const knex = await databases.init('SQLITE_3');
  const store = await DatabaseRunStore.create({
    database: mockServices.database({ knex }),
  });
  const dispatcher = new FakeDispatcher();
  dispatcher.script('component:default/payments', 'dev', script);
  const supervisor = createRunSupervisor({
    store,
    dispatcher,
    logger: mockServices.logger.mock(),
    auditor: mockServices.auditor.mock(),
    instanceId: 'replica-a',
    heartbeatTimeoutSeconds: 3,
    timeoutSeconds: 600,
    signer: Ed25519JobSigner.fromConfig(undefined, mockServices.logger.mock()),
  });
  const id = randomUUID();
  const job = {
    version: 1 as const,
    runId: id,
    operation: 'plan' as const,
    entityRef: 'component:default/payments',
    environment: 'dev',
    repository: 'file:///srv/git/live.git',
    ref: 'main',
    commitSha: SHA,
    path: 'live/dev/payments',
    modules: [],
    issuedAt: new Date().toISOString(),
  };
  const run = await store.createRun({
    id,
    entityRef: job.entityRef,
    environment: 'dev',
    repository: job.repository,
    path: job.path,
    lockKey: 'a'.repeat(64),
    operation: 'plan',
    ref: 'main',
    commitSha: SHA,
    requestedBy: 'user:default/erin',
    createdAt: job.issuedAt,
    job,
  });
  return { store, dispatcher, supervisor, run, knex };
}

async function finished(store: DatabaseRunStore, id: string) {
  for (let i = 0; i < 200; i++) {
    const run = await store.getRun(id);
    if (run && !['queued', 'running'].includes(run.status)) {
      return run;
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  throw new Error(`run ${id} did not finish`);
}

describe('RunSupervisor: exactly one result, from the runner', () => {
  const plan = (job: { commitSha: string; runId: string }) =>
    event.result({
      status: 'succeeded',
      commitSha: job.commitSha,
      plan: { add: 0, change: 0, destroy: 0 },
      changes: [],
      planSha256: 'f'.repeat(64),
    });

  it('accepts the one result of a runner that then stops', async () => {
    const { store, supervisor, run } = await world(job => ({
      lines: [event.log('planning'), plan(job)],
    }));
    await supervisor.start(run);
    expect(await finished(store, run.id)).toMatchObject({
      status: 'succeeded',
      planSha256: 'f'.repeat(64),
    });
  });

  it('accepts a result only once the runner has stopped', async () => {
    const { store, supervisor, run, dispatcher } = await world(job => ({
      lines: [plan(job)],
      hold: true,
    }));
    await supervisor.start(run);
    while ((await store.getRun(run.id))?.dispatchCursor !== '1') {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    await new Promise(resolve => setTimeout(resolve, 300));
    expect((await store.getRun(run.id))?.status).toBe('running');
    await dispatcher.cancel({ type: 'fake', runId: run.id });
    // The runner's own result came first; the cancel's line after it is not obeyed.
    expect(await finished(store, run.id)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(
        /^the runner's output went on after its result \(1 more line\)/,
      ),
    });
    supervisor.stop();
  });

  it.each([
    [
      'a forged no-change result followed by the real one',
      (job: { commitSha: string; runId: string }) => [
        plan(job),
        event.result({
          status: 'failed',
          error: 'terraform plan failed (exit 1)',
        }),
      ],
    ],
    [
      'a log line written after the result',
      (job: { commitSha: string; runId: string }) => [
        plan(job),
        event.log('Plan: 3 to add'),
      ],
    ],
    [
      'garbage after the result',
      (job: { commitSha: string; runId: string }) => [plan(job), 'not json'],
    ],
  ])('fails the run when its output holds %s', async (_, lines) => {
    const { store, supervisor, run } = await world(job => ({
      lines: lines(job),
    }));
    await supervisor.start(run);
    const done = await finished(store, run.id);
    expect(done).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(
        /^the runner's output went on after its result/,
      ),
    });
    expect(done.planSha256).toBeUndefined();
    expect(
      (await store.getLogs(run.id, 0, 10)).map(l => l.line),
    ).toContainEqual(
      expect.stringMatching(
        /^\[sealed-runner backend\] ignored runner output after its result: /,
      ),
    );
  });
});

describe('RunSupervisor.reconcile', () => {
  it('does not take over a run this replica still supervises when its heartbeat is late', async () => {
    const knex = await databases.init('SQLITE_3');
    const store = await DatabaseRunStore.create({
      database: mockServices.database({ knex }),
    });
    const dispatcher = new FakeDispatcher();
    // A runner that says one line and then keeps running.
    dispatcher.script('component:default/payments', 'dev', () => ({
      lines: [event.log('working')],
      hold: true,
    }));
    const supervisor = createRunSupervisor({
      store,
      dispatcher,
      logger: mockServices.logger.mock(),
      auditor: mockServices.auditor.mock(),
      instanceId: 'replica-a',
      heartbeatTimeoutSeconds: 3,
      timeoutSeconds: 600,
      signer: Ed25519JobSigner.fromConfig(
        undefined,
        mockServices.logger.mock(),
      ),
    });
    const id = randomUUID();
    const run = await store.createRun({
      id,
      entityRef: 'component:default/payments',
      environment: 'dev',
      repository: 'file:///srv/git/live.git',
      path: 'live/dev/payments',
      lockKey: 'a'.repeat(64),
      operation: 'plan',
      ref: 'main',
      commitSha: SHA,
      requestedBy: 'user:default/erin',
      createdAt: new Date().toISOString(),
      job: {
        version: 1,
        runId: id,
        operation: 'plan',
        entityRef: 'component:default/payments',
        environment: 'dev',
        repository: 'file:///srv/git/live.git',
        ref: 'main',
        commitSha: SHA,
        path: 'live/dev/payments',
        modules: [],
        issuedAt: new Date().toISOString(),
      },
    });
    await supervisor.start(run);
    while ((await store.getLogs(id, 0, 10)).length === 0) {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    // The event loop stalled: the heartbeat is older than the timeout.
    await knex('runs')
      .where({ id })
      .update({ heartbeat_at: new Date(Date.now() - 60_000).toISOString() });

    await supervisor.reconcile();

    const history = await store.listHistory(id);
    expect(history.map(e => e.action)).not.toContain('reattached');
    const after = await store.getRun(id);
    expect(after).toMatchObject({ status: 'running', attachedBy: 'replica-a' });
    expect(Date.parse(after!.heartbeatAt!)).toBeGreaterThan(
      Date.now() - 10_000,
    );
    supervisor.stop();
  });
});
