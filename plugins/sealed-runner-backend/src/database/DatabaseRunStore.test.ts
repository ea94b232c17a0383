import { randomUUID } from 'node:crypto';
import {
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { DatabaseRunStore } from './DatabaseRunStore';
import { NewRun, RunDetachedError } from './RunStore';

jest.setTimeout(60_000);

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SHA = '0123456789abcdef0123456789abcdef01234567';
const PLAN_FILE_SHA = 'e'.repeat(64);
const LOCK_A = 'a'.repeat(64);
const LOCK_B = 'b'.repeat(64);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

async function setup(databaseId: TestDatabaseId) {
  const knex = await databases.init(databaseId);
  const store = await DatabaseRunStore.create({
    database: mockServices.database({ knex }),
  });
  return { knex, store };
}

let clock = Date.parse('2026-01-01T00:00:00.000Z');
/** Distinct, increasing creation times, so ordering is deterministic. */
const nextTime = () => new Date((clock += 1000)).toISOString();

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  const id = overrides.id ?? randomUUID();
  const operation = overrides.operation ?? 'plan';
  return {
    id,
    entityRef: 'component:default/payments',
    environment: 'prod',
    repository: 'file:///srv/git/live.git',
    path: 'live/prod/payments',
    lockKey: LOCK_A,
    operation,
    ref: 'main',
    commitSha: SHA,
    requestedBy: 'user:default/erin',
    createdAt: nextTime(),
    ...overrides,
    job: {
      version: 1,
      runId: id,
      operation,
      entityRef: 'component:default/payments',
      environment: 'prod',
      repository: 'file:///srv/git/live.git',
      ref: 'main',
      commitSha: SHA,
      path: 'live/prod/payments',
      modules: [],
      issuedAt: '2026-01-01T00:00:00.000Z',
      ...(overrides.planRunId
        ? { plan: { runId: overrides.planRunId, sha256: PLAN_FILE_SHA } }
        : {}),
    },
  };
}

const succeededPlan = {
  status: 'succeeded' as const,
  commitSha: SHA,
  plan: { add: 1, change: 2, destroy: 0 },
  changes: [
    { address: 'terraform_data.a', actions: ['create' as const] },
    {
      address: 'terraform_data.b',
      actions: ['delete' as const, 'create' as const],
    },
  ],
  planSha256: PLAN_FILE_SHA,
  moduleSources: ['git::file:///srv/git/catalog.git//modules/web?ref=v1.0.0'],
};

const future = () => new Date(Date.now() + 60_000).toISOString();
const past = () => new Date(Date.now() - 60_000).toISOString();

describe('DatabaseRunStore', () => {
  it.each(databases.eachSupportedId())(
    'creates a queued run and takes its lock, %p',
    async id => {
      const { store } = await setup(id);
      const input = newRun();
      const run = await store.createRun(input);
      expect(run).toMatchObject({
        id: input.id,
        entityRef: 'component:default/payments',
        environment: 'prod',
        operation: 'plan',
        status: 'queued',
        ref: 'main',
        commitSha: SHA,
        requestedBy: 'user:default/erin',
        createdAt: input.createdAt,
        approvals: [],
        repository: input.repository,
        path: input.path,
        lockKey: LOCK_A,
        job: input.job,
        logCount: 0,
      });
      expect(run.startedAt).toBeUndefined();
      expect(run.applyRunId).toBeUndefined();
      expect(run.supersededBy).toBeUndefined();
      expect(await store.lockHolder(LOCK_A)).toBe(input.id);
      expect(await store.lockHolder(LOCK_B)).toBeUndefined();
      expect(await store.listHistory(input.id)).toEqual([
        {
          at: expect.stringMatching(ISO),
          actor: 'user:default/erin',
          action: 'requested',
          detail: { operation: 'plan', ref: 'main', commitSha: SHA },
        },
      ]);
    },
  );

  it.each(databases.eachSupportedId())(
    'refuses a second run on a locked target, naming the holder and leaving no row, %p',
    async id => {
      const { store, knex } = await setup(id);
      const first = await store.createRun(newRun());
      const second = newRun();
      const attempt = store.createRun(second);
      await expect(attempt).rejects.toThrow(ConflictError);
      await expect(attempt).rejects.toThrow(
        `target is locked by run ${first.id}`,
      );
      expect(await store.getRun(second.id)).toBeUndefined();
      expect(await store.listHistory(second.id)).toEqual([]);
      expect(Number((await knex('runs').count({ n: '*' }))[0].n)).toBe(1);
      expect(await store.lockHolder(LOCK_A)).toBe(first.id);
      // The refused plan did not supersede anything either.
      expect((await store.getRun(first.id))!.supersededBy).toBeUndefined();
      // Another target is not affected.
      await expect(
        store.createRun(newRun({ lockKey: LOCK_B })),
      ).resolves.toMatchObject({
        status: 'queued',
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'lets exactly one of 20 concurrent runs take a lock, %p',
    async id => {
      const { store, knex } = await setup(id);
      const inputs = Array.from({ length: 20 }, () => newRun());
      const results = await Promise.allSettled(
        inputs.map(r => store.createRun(r)),
      );
      const won = results.filter(r => r.status === 'fulfilled');
      const lost = results.filter(
        (r): r is PromiseRejectedResult => r.status === 'rejected',
      );
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      for (const failure of lost) {
        expect(failure.reason).toBeInstanceOf(ConflictError);
      }
      const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value
        .id;
      expect(await store.lockHolder(LOCK_A)).toBe(winner);
      const rows = await knex('runs').select('id');
      expect(rows.map(r => r.id)).toEqual([winner]);
    },
  );

  it.each(databases.eachSupportedId())(
    'marks older plans of the same target superseded by a new plan, %p',
    async id => {
      const { store } = await setup(id);
      const first = await store.createRun(newRun());
      await store.finishRun(first.id, succeededPlan, 'sealed-runner');
      const other = await store.createRun(
        newRun({ lockKey: LOCK_B, environment: 'dev' }),
      );
      await store.finishRun(other.id, succeededPlan, 'sealed-runner');
      const second = await store.createRun(newRun());
      await store.finishRun(
        second.id,
        { status: 'failed', error: 'boom' },
        'sealed-runner',
      );
      const third = await store.createRun(newRun());

      expect((await store.getRun(first.id))!.supersededBy).toBe(second.id);
      expect((await store.getRun(second.id))!.supersededBy).toBe(third.id);
      expect((await store.getRun(third.id))!.supersededBy).toBeUndefined();
      expect((await store.getRun(other.id))!.supersededBy).toBeUndefined();
      // The voided plan's own history says when and by which plan.
      expect(
        (await store.listHistory(first.id)).map(h => [h.action, h.detail]),
      ).toContainEqual(['superseded', { by: second.id }]);
      expect(
        (await store.listHistory(other.id)).map(h => h.action),
      ).not.toContain('superseded');
    },
  );

  it.each(databases.eachSupportedId())(
    'does not let an apply supersede its plan, %p',
    async id => {
      const { store } = await setup(id);
      const plan = await store.createRun(newRun());
      await store.finishRun(plan.id, succeededPlan, 'sealed-runner');
      const apply = await store.createRun(
        newRun({ operation: 'apply', planRunId: plan.id }),
      );
      expect(apply.planRunId).toBe(plan.id);
      expect((await store.getRun(plan.id))!.supersededBy).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    'finishes a run once: records the outcome, releases the lock and the history, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(newRun());
      await store.markRunning(run.id, { type: 'fake', n: 1 }, 'instance-a');
      const finished = await store.finishRun(
        run.id,
        succeededPlan,
        'sealed-runner',
      );
      expect(finished).toMatchObject({
        id: run.id,
        status: 'succeeded',
        plan: { add: 1, change: 2, destroy: 0 },
        changes: succeededPlan.changes,
        planSha256: PLAN_FILE_SHA,
        moduleSources: succeededPlan.moduleSources,
        startedAt: expect.stringMatching(ISO),
        finishedAt: expect.stringMatching(ISO),
      });
      expect(finished!.error).toBeUndefined();
      expect(await store.lockHolder(LOCK_A)).toBeUndefined();

      expect(
        await store.finishRun(
          run.id,
          { status: 'failed', error: 'late' },
          'someone',
        ),
      ).toBeUndefined();
      expect(await store.getRun(run.id)).toMatchObject({ status: 'succeeded' });

      expect(
        (await store.listHistory(run.id)).map(h => [
          h.actor,
          h.action,
          h.detail,
        ]),
      ).toEqual([
        [
          'user:default/erin',
          'requested',
          { operation: 'plan', ref: 'main', commitSha: SHA },
        ],
        ['sealed-runner', 'started', { runner: 'fake' }],
        ['sealed-runner', 'finished', { status: 'succeeded' }],
      ]);

      // The target can be locked again.
      await expect(store.createRun(newRun())).resolves.toMatchObject({
        status: 'queued',
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'records a failure with its error, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(newRun());
      const finished = await store.finishRun(
        run.id,
        { status: 'rejected', error: 'module not vetted' },
        'sealed-runner',
      );
      expect(finished).toMatchObject({
        status: 'rejected',
        error: 'module not vetted',
      });
      expect(finished!.plan).toBeUndefined();
      expect(finished!.changes).toBeUndefined();
      expect(finished!.planSha256).toBeUndefined();
      expect((await store.listHistory(run.id)).at(-1)).toMatchObject({
        action: 'finished',
        detail: { status: 'rejected', error: 'module not vetted' },
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'adds an approval only when verify accepts, inside the transaction, %p',
    async id => {
      const { store } = await setup(id);
      const plan = await store.createRun(newRun());
      await store.finishRun(plan.id, succeededPlan, 'sealed-runner');
      const at = new Date().toISOString();

      const refusal = store.addApproval(
        plan.id,
        { by: 'user:default/pat', at },
        () => {
          throw new ConflictError('not now');
        },
      );
      await expect(refusal).rejects.toThrow('not now');
      expect((await store.getRun(plan.id))!.approvals).toEqual([]);
      expect(
        (await store.listHistory(plan.id)).map(h => h.action),
      ).not.toContain('approved');

      const verify = jest.fn();
      const approved = await store.addApproval(
        plan.id,
        { by: 'user:default/pat', at },
        verify,
      );
      expect(verify).toHaveBeenCalledWith(
        expect.objectContaining({
          plan: expect.objectContaining({ id: plan.id, status: 'succeeded' }),
          approvals: [],
          applyRuns: [],
        }),
      );
      expect(approved.approvals).toEqual([{ by: 'user:default/pat', at }]);

      // Approving twice is idempotent.
      const again = await store.addApproval(
        plan.id,
        { by: 'user:default/pat', at: future() },
        () => {},
      );
      expect(again.approvals).toEqual([{ by: 'user:default/pat', at }]);
      expect(
        (await store.listHistory(plan.id)).filter(h => h.action === 'approved'),
      ).toEqual([
        {
          at: expect.stringMatching(ISO),
          actor: 'user:default/pat',
          action: 'approved',
        },
      ]);

      await expect(
        store.addApproval(
          randomUUID(),
          { by: 'user:default/pat', at },
          () => {},
        ),
      ).rejects.toThrow(NotFoundError);
    },
  );

  it.each(databases.eachSupportedId())(
    'hydrates approvals in order and the apply a plan led to, %p',
    async id => {
      const { store } = await setup(id);
      const plan = await store.createRun(newRun());
      await store.finishRun(plan.id, succeededPlan, 'sealed-runner');
      await store.addApproval(
        plan.id,
        { by: 'user:default/sam', at: '2026-02-01T00:00:02.000Z' },
        () => {},
      );
      await store.addApproval(
        plan.id,
        { by: 'user:default/pat', at: '2026-02-01T00:00:01.000Z' },
        () => {},
      );

      const verify = jest.fn();
      const apply = await store.createRun(
        newRun({ operation: 'apply', planRunId: plan.id }),
        {
          verify,
        },
      );
      expect(verify).toHaveBeenCalledWith(
        expect.objectContaining({
          plan: expect.objectContaining({ id: plan.id }),
          approvals: [
            { by: 'user:default/pat', at: '2026-02-01T00:00:01.000Z' },
            { by: 'user:default/sam', at: '2026-02-01T00:00:02.000Z' },
          ],
        }),
      );

      const reread = await store.getRun(plan.id);
      expect(reread).toMatchObject({
        applyRunId: apply.id,
        approvals: [
          { by: 'user:default/pat', at: '2026-02-01T00:00:01.000Z' },
          { by: 'user:default/sam', at: '2026-02-01T00:00:02.000Z' },
        ],
      });
      const [listed] = await store.listRuns({ limit: 10, status: 'succeeded' });
      expect(listed).toMatchObject({ id: plan.id, applyRunId: apply.id });
      expect(listed.approvals).toHaveLength(2);

      const snapshot = await store.getPlanSnapshot(plan.id);
      expect(snapshot.applyRuns.map(r => [r.id, r.status])).toEqual([
        [apply.id, 'queued'],
      ]);
      expect(snapshot.approvals).toHaveLength(2);
    },
  );

  it.each(databases.eachSupportedId())(
    'creates no apply when verify refuses, and takes no lock, %p',
    async id => {
      const { store } = await setup(id);
      const plan = await store.createRun(newRun());
      await store.finishRun(plan.id, succeededPlan, 'sealed-runner');
      const apply = newRun({ operation: 'apply', planRunId: plan.id });
      await expect(
        store.createRun(apply, {
          verify: () => {
            throw new ConflictError('stale');
          },
        }),
      ).rejects.toThrow('stale');
      expect(await store.getRun(apply.id)).toBeUndefined();
      expect(await store.lockHolder(LOCK_A)).toBeUndefined();
      expect((await store.getRun(plan.id))!.applyRunId).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    'appends output with contiguous sequence numbers across calls, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(newRun());
      expect(
        await store.markRunning(run.id, { type: 'fake' }, 'instance-a'),
      ).toBe(true);
      expect(
        await store.markRunning(run.id, { type: 'fake' }, 'instance-b'),
      ).toBe(false);

      await store.appendOutput(
        run.id,
        { lines: ['one', 'two'], cursor: 'c1', phase: 'init' },
        'instance-a',
      );
      await store.appendOutput(
        run.id,
        { lines: [], cursor: 'c2' },
        'instance-a',
      );
      const many = Array.from({ length: 450 }, (_, i) => `line ${i + 3}`);
      await store.appendOutput(
        run.id,
        { lines: many, cursor: 'c3', phase: 'plan' },
        'instance-a',
      );

      const record = await store.getRun(run.id);
      expect(record).toMatchObject({
        status: 'running',
        logCount: 452,
        dispatchCursor: 'c3',
        phase: 'plan',
        attachedBy: 'instance-a',
        heartbeatAt: expect.stringMatching(ISO),
        startedAt: expect.stringMatching(ISO),
        dispatchHandle: { type: 'fake' },
      });
      const logs = await store.getLogs(run.id, 0, 1000);
      expect(logs.map(l => l.seq)).toEqual(
        Array.from({ length: 452 }, (_, i) => i + 1),
      );
      expect(logs.slice(0, 3)).toEqual([
        { seq: 1, line: 'one' },
        { seq: 2, line: 'two' },
        { seq: 3, line: 'line 3' },
      ]);
      expect(logs.at(-1)).toEqual({ seq: 452, line: 'line 452' });
    },
  );

  it.each(databases.eachSupportedId())(
    'refuses output from a replica that lost the run, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(newRun());
      await store.markRunning(run.id, { type: 'fake' }, 'instance-a');
      await store.appendOutput(
        run.id,
        { lines: ['from a'], cursor: '1' },
        'instance-a',
      );

      expect(await store.claimStaleRun(run.id, 'instance-b', future())).toBe(
        true,
      );
      await expect(
        store.appendOutput(
          run.id,
          { lines: ['late from a'], cursor: '2' },
          'instance-a',
        ),
      ).rejects.toThrow(RunDetachedError);
      expect(await store.heartbeat(run.id, 'instance-a')).toBe(false);

      await store.appendOutput(
        run.id,
        { lines: ['from b'], cursor: '2' },
        'instance-b',
      );
      expect(
        (await store.getLogs(run.id, 0, 100)).map(l => [l.seq, l.line]),
      ).toEqual([
        [1, 'from a'],
        [2, 'from b'],
      ]);
      expect(await store.getRun(run.id)).toMatchObject({
        attachedBy: 'instance-b',
        dispatchCursor: '2',
      });
      expect(
        (await store.listHistory(run.id)).map(h => [h.action, h.detail]),
      ).toContainEqual(['reattached', { instanceId: 'instance-b' }]);
    },
  );

  it.each(databases.eachSupportedId())(
    'claims a run only when its heartbeat is stale, and only once, %p',
    async id => {
      const { store } = await setup(id);
      const queued = await store.createRun(newRun({ lockKey: LOCK_B }));
      expect(await store.claimStaleRun(queued.id, 'instance-b', future())).toBe(
        false,
      );

      const run = await store.createRun(newRun());
      await store.markRunning(run.id, { type: 'fake' }, 'instance-a');
      expect(await store.heartbeat(run.id, 'instance-a')).toBe(true);
      // Heartbeat is newer than the threshold: not stale.
      expect(await store.claimStaleRun(run.id, 'instance-b', past())).toBe(
        false,
      );
      expect((await store.getRun(run.id))!.attachedBy).toBe('instance-a');

      // As the reconciler does: stale means "older than a moment ago", so a
      // claim (which beats the heartbeat) makes the run fresh again.
      await new Promise(resolve => setTimeout(resolve, 20));
      const staleBefore = new Date().toISOString();
      const claims = await Promise.all([
        store.claimStaleRun(run.id, 'instance-b', staleBefore),
        store.claimStaleRun(run.id, 'instance-c', staleBefore),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      const winner = claims[0] ? 'instance-b' : 'instance-c';
      expect((await store.getRun(run.id))!.attachedBy).toBe(winner);

      await store.finishRun(
        run.id,
        { status: 'cancelled' },
        'user:default/erin',
      );
      expect(await store.claimStaleRun(run.id, 'instance-d', future())).toBe(
        false,
      );
      expect(await store.heartbeat(run.id, winner)).toBe(false);
    },
  );

  it.each(databases.eachSupportedId())(
    'lists stale running runs and old queued runs to reconcile, %p',
    async id => {
      const { store } = await setup(id);
      const lock = (n: number) => String(n).repeat(64);
      const oldQueued = await store.createRun(
        newRun({ lockKey: lock(1), createdAt: '2020-01-01T00:00:00.000Z' }),
      );
      await store.createRun(
        newRun({ lockKey: lock(2), createdAt: new Date().toISOString() }),
      );
      const running = await store.createRun(
        newRun({ lockKey: lock(3), createdAt: '2020-01-01T00:00:01.000Z' }),
      );
      await store.markRunning(running.id, { type: 'fake' }, 'instance-a');
      const finished = await store.createRun(
        newRun({ lockKey: lock(4), createdAt: '2020-01-01T00:00:02.000Z' }),
      );
      await store.finishRun(finished.id, { status: 'failed' }, 'sealed-runner');

      const queuedBefore = new Date(Date.now() - 30_000).toISOString();
      // The running run's heartbeat is fresh.
      expect(
        (await store.listRunsToReconcile(past(), queuedBefore)).map(r => r.id),
      ).toEqual([oldQueued.id]);
      // Now it counts as stale; oldest first.
      expect(
        (await store.listRunsToReconcile(future(), queuedBefore)).map(
          r => r.id,
        ),
      ).toEqual([oldQueued.id, running.id]);
    },
  );

  it.each(databases.eachSupportedId())(
    'releases only locks of runs that have ended, %p',
    async id => {
      const { store, knex } = await setup(id);
      const active = await store.createRun(newRun({ lockKey: LOCK_A }));
      const orphaned = await store.createRun(newRun({ lockKey: LOCK_B }));
      // Simulate a crash between ending a run and releasing its lock.
      await knex('runs')
        .where({ id: orphaned.id })
        .update({ status: 'failed' });

      expect(await store.releaseOrphanLocks()).toBe(1);
      expect(await store.lockHolder(LOCK_B)).toBeUndefined();
      expect(await store.lockHolder(LOCK_A)).toBe(active.id);
      expect(await store.releaseOrphanLocks()).toBe(0);
    },
  );

  it.each(databases.eachSupportedId())(
    'pages logs with after and limit, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(newRun());
      await store.markRunning(run.id, { type: 'fake' }, 'instance-a');
      await store.appendOutput(
        run.id,
        { lines: ['a', 'b', 'c', 'd', 'e'], cursor: '5' },
        'instance-a',
      );
      const other = await store.createRun(newRun({ lockKey: LOCK_B }));
      await store.markRunning(other.id, { type: 'fake' }, 'instance-a');
      await store.appendOutput(
        other.id,
        { lines: ['other'], cursor: '1' },
        'instance-a',
      );

      expect(await store.getLogs(run.id, 0, 2)).toEqual([
        { seq: 1, line: 'a' },
        { seq: 2, line: 'b' },
      ]);
      expect(await store.getLogs(run.id, 2, 2)).toEqual([
        { seq: 3, line: 'c' },
        { seq: 4, line: 'd' },
      ]);
      expect(await store.getLogs(run.id, 4, 100)).toEqual([
        { seq: 5, line: 'e' },
      ]);
      expect(await store.getLogs(run.id, 5, 100)).toEqual([]);
      expect(await store.getLogs(randomUUID(), 0, 100)).toEqual([]);
    },
  );

  it.each(databases.eachSupportedId())(
    'lists runs newest first, filtered and limited, %p',
    async id => {
      const { store } = await setup(id);
      const make = async (
        overrides: Partial<NewRun>,
        outcome?: 'succeeded' | 'failed',
      ) => {
        const run = await store.createRun(
          newRun({
            lockKey: randomUUID().replace(/-/g, '').padEnd(64, '0'),
            ...overrides,
          }),
        );
        if (outcome) {
          await store.finishRun(
            run.id,
            outcome === 'succeeded' ? succeededPlan : { status: 'failed' },
            'sealed-runner',
          );
        }
        return run.id;
      };
      const p1 = await make({ environment: 'prod' }, 'succeeded');
      const d1 = await make({ environment: 'dev' }, 'failed');
      const o1 = await make(
        { entityRef: 'component:default/other', environment: 'prod' },
        'succeeded',
      );
      const p2 = await make({ environment: 'prod' });
      const d2 = await make({ environment: 'dev' }, 'succeeded');

      const ids = async (filter: Parameters<DatabaseRunStore['listRuns']>[0]) =>
        (await store.listRuns(filter)).map(r => r.id);
      expect(await ids({ limit: 50 })).toEqual([d2, p2, o1, d1, p1]);
      expect(await ids({ limit: 2 })).toEqual([d2, p2]);
      expect(
        await ids({ limit: 50, entityRef: 'component:default/payments' }),
      ).toEqual([d2, p2, d1, p1]);
      expect(await ids({ limit: 50, environment: 'prod' })).toEqual([
        p2,
        o1,
        p1,
      ]);
      expect(await ids({ limit: 50, status: 'succeeded' })).toEqual([
        d2,
        o1,
        p1,
      ]);
      expect(await ids({ limit: 50, status: 'queued' })).toEqual([p2]);
      expect(
        await ids({
          limit: 50,
          entityRef: 'component:default/payments',
          environment: 'dev',
          status: 'succeeded',
        }),
      ).toEqual([d2]);
      expect(
        await ids({ limit: 50, entityRef: 'component:default/nothing' }),
      ).toEqual([]);

      expect(
        (await store.latestRun('component:default/payments', 'prod'))!.id,
      ).toBe(p2);
      expect(
        await store.latestRun('component:default/payments', 'staging'),
      ).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    'stores timestamps as ISO strings, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(
        newRun({ createdAt: '2026-03-04T05:06:07.089Z' }),
      );
      await store.markRunning(run.id, { type: 'fake' }, 'instance-a');
      await store.addApproval(
        run.id,
        { by: 'user:default/pat', at: '2026-03-04T06:00:00.000Z' },
        () => {},
      );
      await store.finishRun(run.id, succeededPlan, 'sealed-runner');
      const record = (await store.getRun(run.id))!;
      expect(record.createdAt).toBe('2026-03-04T05:06:07.089Z');
      expect(record.approvals).toEqual([
        { by: 'user:default/pat', at: '2026-03-04T06:00:00.000Z' },
      ]);
      for (const value of [
        record.startedAt,
        record.finishedAt,
        record.heartbeatAt,
      ]) {
        expect(typeof value).toBe('string');
        expect(value).toMatch(ISO);
      }
      for (const entry of await store.listHistory(run.id)) {
        expect(entry.at).toMatch(ISO);
      }
    },
  );

  it.each(databases.eachSupportedId())(
    'returns NotFound for a snapshot of an unknown run, %p',
    async id => {
      const { store } = await setup(id);
      await expect(store.getPlanSnapshot(randomUUID())).rejects.toThrow(
        NotFoundError,
      );
      expect(await store.getRun(randomUUID())).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    'records cancel requests only for active runs, %p',
    async id => {
      const { store } = await setup(id);
      const run = await store.createRun(newRun());
      await store.requestCancel(run.id, 'user:default/pat');
      expect((await store.getRun(run.id))!.cancelRequestedBy).toBe(
        'user:default/pat',
      );

      const done = await store.createRun(newRun({ lockKey: LOCK_B }));
      await store.finishRun(done.id, { status: 'failed' }, 'sealed-runner');
      await store.requestCancel(done.id, 'user:default/pat');
      expect((await store.getRun(done.id))!.cancelRequestedBy).toBeUndefined();
    },
  );
});
