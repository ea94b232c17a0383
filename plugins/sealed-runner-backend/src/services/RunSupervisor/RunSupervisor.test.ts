import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { randomUUID } from 'node:crypto';
import { DatabaseRunStore } from '../../database/DatabaseRunStore';
import { event, FakeDispatcher } from '../../__testUtils__/FakeDispatcher';
import { Ed25519JobSigner } from '../JobSigner/JobSigner';
import { RunSupervisor } from './RunSupervisor';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

describe('RunSupervisor.reconcile', () => {
  it('does not take over a run this replica still supervises when its heartbeat is late', async () => {
    const knex = await databases.init('SQLITE_3');
    const store = await DatabaseRunStore.create({ database: mockServices.database({ knex }) });
    const dispatcher = new FakeDispatcher();
    // A runner that says one line and then keeps running.
    dispatcher.script('component:default/payments', 'dev', () => ({
      lines: [event.log('working')],
      hold: true,
    }));
    const supervisor = new RunSupervisor({
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
    await knex('runs').where({ id }).update({ heartbeat_at: new Date(Date.now() - 60_000).toISOString() });

    await supervisor.reconcile();

    const history = await store.listHistory(id);
    expect(history.map(e => e.action)).not.toContain('reattached');
    const after = await store.getRun(id);
    expect(after).toMatchObject({ status: 'running', attachedBy: 'replica-a' });
    expect(Date.parse(after!.heartbeatAt!)).toBeGreaterThan(Date.now() - 10_000);
    supervisor.stop();
  });
});
