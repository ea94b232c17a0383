import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  BackendProcess,
  createIsolatedRoot,
  GateClient,
  IsolatedRoot,
  isStatus,
  pushSlowBranch,
} from './index';

jest.setTimeout(240_000);

const PAYMENTS = 'component:default/payments';
const CONNECTION =
  process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;

describe('two backend replicas on one PostgreSQL', () => {
  const prefix = `sr_e2e_${randomBytes(4).toString('hex')}_`;
  let root: IsolatedRoot;
  let replicaA: BackendProcess;
  let replicaB: BackendProcess;
  let erinA: GateClient;
  let erinB: GateClient;

  beforeAll(async () => {
    if (!CONNECTION) {
      throw new Error(
        'BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING is not set: run the tests with `yarn test:all`, which starts a throwaway PostgreSQL (see README)',
      );
    }
    root = await createIsolatedRoot();
    const config = {
      backend: { database: { client: 'pg', connection: CONNECTION, prefix } },
      sealedRunner: {
        runner: { heartbeatTimeoutSeconds: 3, reconcileIntervalSeconds: 1 },
      },
    };
    // One at a time: both would race to create the same databases.
    replicaA = await BackendProcess.start({ root, config, name: 'replica-a' });
    replicaB = await BackendProcess.start({ root, config, name: 'replica-b' });
    erinA = await GateClient.as(replicaA.baseUrl, 'guest');
    erinB = await GateClient.as(replicaB.baseUrl, 'guest');
    await erinA.waitForTargets(PAYMENTS);
    await erinB.waitForTargets(PAYMENTS);
  });

  afterAll(async () => {
    await replicaA?.stop();
    await replicaB?.stop();
    if (CONNECTION) {
      const client = new Client({ connectionString: CONNECTION });
      await client.connect();
      const { rows } = await client.query(
        'SELECT datname FROM pg_database WHERE datname LIKE $1',
        [`${prefix}%`],
      );
      for (const { datname } of rows) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
      await client.end();
    }
    await root?.cleanup();
  });

  it('lets exactly one of 50 simultaneous plan requests through', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? erinA : erinB).plan(PAYMENTS, 'dev'),
      ),
    );
    const accepted = responses.filter(r => r.status === 202);
    const refused = responses.filter(r => r.status === 409);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(49);
    const winner = accepted[0].body.run.id;
    for (const response of refused) {
      expect(response.body.error.message).toMatch(
        new RegExp(`target is locked by run (${winner}|.*just ended)`),
      );
    }
    expect((await erinA.waitForRun(winner)).status).toBe('succeeded');
    const { body } = await erinB.request(
      'GET',
      `/runs?entityRef=${PAYMENTS}&environment=dev`,
    );
    expect(body.items.map((r: { id: string }) => r.id)).toEqual([winner]);
  });

  it('counts one approval however many replicas receive it', async () => {
    const patA = await GateClient.as(replicaA.baseUrl, 'demo-approver');
    const patB = await GateClient.as(replicaB.baseUrl, 'demo-approver');
    const { body } = await erinA.plan(PAYMENTS, 'prod');
    await erinA.waitForRun(body.run.id);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? patA : patB).request('POST', `/runs/${body.run.id}/approve`),
      ),
    );
    expect(responses.map(r => r.status)).toEqual(Array(10).fill(200));
    expect((await erinB.run(body.run.id)).approvals).toHaveLength(1);
  });

  it('moves a run to the surviving replica when its replica dies', async () => {
    await pushSlowBranch(root, 'e2e-slow', 6000);
    const { status, body } = await erinA.plan(PAYMENTS, 'dev', 'e2e-slow');
    expect(status).toBe(202);
    await erinA.waitForRun(body.run.id, isStatus('running'));
    await replicaA.stop('SIGKILL');

    const run = await erinB.waitForRun(body.run.id);
    expect(run.status).toBe('succeeded');
    // Nothing was applied in this root yet: the payments service plus the load.
    expect(run.plan).toEqual({ add: 6001, change: 0, destroy: 0 });
    const history = await erinB.request('GET', `/runs/${body.run.id}/history`);
    expect(
      history.body.items.map((e: { action: string }) => e.action),
    ).toContain('reattached');
    expect(await erinB.logs(run.id)).toContain(
      'Plan: 6001 to add, 0 to change, 0 to destroy.',
    );
  });
});
