import { randomUUID } from 'node:crypto';
import {
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { DatabaseBreakGlassStore } from './DatabaseBreakGlassStore';
import { DatabaseRunStore } from './DatabaseRunStore';
import { NewBreakGlassSession } from './BreakGlassStore';
import { NewRun } from './RunStore';

jest.setTimeout(60_000);

const SHA = '0123456789abcdef0123456789abcdef01234567';
const LOCK = 'a'.repeat(64);
const PAT = 'user:default/pat';
const ERIN = 'user:default/erin';
const PAYMENTS = 'component:default/payments';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

async function setup(databaseId: TestDatabaseId) {
  const knex = await databases.init(databaseId);
  const database = mockServices.database({ knex });
  const runs = await DatabaseRunStore.create({ database });
  const store = await DatabaseBreakGlassStore.create({ database });
  return { knex, runs, store };
}

const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

function newSession(
  overrides: Partial<NewBreakGlassSession> = {},
): NewBreakGlassSession {
  return {
    id: randomUUID(),
    entityRef: PAYMENTS,
    environment: 'prod',
    openedBy: PAT,
    reason: 'payments down, hotfix INC-1',
    openedAt: iso(0),
    expiresAt: iso(60 * 60_000),
    ...overrides,
  };
}

/** An apply of a (made-up) plan; createRun without `verify` does not look at the plan. */
function newApply(overrides: Partial<NewRun> = {}): NewRun {
  const id = randomUUID();
  const planRunId = randomUUID();
  return {
    id,
    entityRef: PAYMENTS,
    environment: 'prod',
    repository: 'file:///srv/git/live.git',
    path: 'live/prod/payments',
    lockKey: LOCK,
    operation: 'apply',
    ref: 'hotfix',
    commitSha: SHA,
    requestedBy: PAT,
    createdAt: iso(0),
    planRunId,
    job: {
      version: 1,
      runId: id,
      operation: 'apply',
      entityRef: PAYMENTS,
      environment: 'prod',
      repository: 'file:///srv/git/live.git',
      ref: 'hotfix',
      commitSha: SHA,
      path: 'live/prod/payments',
      modules: [],
      plan: { runId: planRunId, sha256: 'e'.repeat(64) },
      issuedAt: iso(0),
    },
    ...overrides,
  };
}

describe('DatabaseBreakGlassStore', () => {
  it.each(databases.eachSupportedId())(
    'opens one session per target, %p',
    async id => {
      const { store } = await setup(id);
      const input = newSession({ ticket: 'INC-1' });
      const { session, expired } = await store.openSession(input);
      expect(expired).toEqual([]);
      expect(session).toEqual({ ...input, uses: [] });

      // Another open session on the same target, spelled in another case, is refused.
      await expect(
        store.openSession(
          newSession({
            entityRef: 'component:default/Payments',
            openedBy: 'user:default/ada',
          }),
        ),
      ).rejects.toThrow(ConflictError);
      // Other targets are independent.
      await store.openSession(newSession({ environment: 'dev' }));
      await store.openSession(
        newSession({ entityRef: 'component:default/orders' }),
      );
      expect(
        await store.activeSession('Component:default/PAYMENTS', 'prod', iso(0)),
      ).toMatchObject({ id: input.id });
    },
  );

  it.each(databases.eachSupportedId())(
    'refuses a second open session under concurrency, %p',
    async id => {
      const { store } = await setup(id);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => store.openSession(newSession())),
      );
      expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter(
        (x): x is PromiseRejectedResult => x.status === 'rejected',
      )) {
        expect(r.reason).toBeInstanceOf(ConflictError);
      }
    },
  );

  it.each(databases.eachSupportedId())(
    'closes an open session once, %p',
    async id => {
      const { store } = await setup(id);
      const { session } = await store.openSession(newSession());
      const at = iso(0);
      const closed = await store.closeSession(session.id, {
        by: 'user:default/ada',
        note: 'done',
        now: at,
      });
      expect(closed).toMatchObject({
        closedAt: at,
        closedBy: 'user:default/ada',
        closeReason: 'closed',
        closeNote: 'done',
      });
      await expect(
        store.closeSession(session.id, { by: PAT, now: iso(0) }),
      ).rejects.toThrow(/is already closed/);
      await expect(
        store.closeSession(randomUUID(), { by: PAT, now: iso(0) }),
      ).rejects.toThrow(NotFoundError);
      expect(
        await store.activeSession(PAYMENTS, 'prod', iso(0)),
      ).toBeUndefined();
      // The target is free again.
      await store.openSession(newSession());
    },
  );

  it.each(databases.eachSupportedId())(
    'treats a session past expiresAt as expired before it is marked, %p',
    async id => {
      const { store } = await setup(id);
      const { session } = await store.openSession(
        newSession({ expiresAt: iso(60_000) }),
      );
      const later = iso(120_000);
      expect(
        await store.activeSession(PAYMENTS, 'prod', later),
      ).toBeUndefined();
      expect(
        await store.listSessions({ active: true, now: later, limit: 10 }),
      ).toEqual([]);
      const [listed] = await store.listSessions({
        active: false,
        now: later,
        limit: 10,
      });
      expect(listed).toMatchObject({
        id: session.id,
        closeReason: 'expired',
        closedAt: session.expiresAt,
      });
      await expect(
        store.closeSession(session.id, { by: PAT, now: later }),
      ).rejects.toThrow(/is already expired/);

      // Marked once, by whoever gets there first.
      const marked = await store.expireSessions(later);
      expect(marked.map(s => s.id)).toEqual([session.id]);
      expect(await store.expireSessions(later)).toEqual([]);
      expect(await store.getSession(session.id)).toEqual(listed);
    },
  );

  it.each(databases.eachSupportedId())(
    'marks the expired session of a target when a new one opens, %p',
    async id => {
      const { knex, store } = await setup(id);
      const { session: old } = await store.openSession(newSession());
      await knex('break_glass_sessions')
        .where({ id: old.id })
        .update({ expires_at: iso(-1000) });
      const { session, expired } = await store.openSession(newSession());
      expect(expired.map(s => s.id)).toEqual([old.id]);
      expect(expired[0]).toMatchObject({ closeReason: 'expired' });
      expect((await store.activeSession(PAYMENTS, 'prod', iso(0)))?.id).toBe(
        session.id,
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'lists newest first with filters, %p',
    async id => {
      const { store } = await setup(id);
      const a = (await store.openSession(newSession({ openedAt: iso(-3000) })))
        .session;
      const b = (
        await store.openSession(
          newSession({ environment: 'dev', openedAt: iso(-2000) }),
        )
      ).session;
      const c = (
        await store.openSession(
          newSession({
            entityRef: 'component:default/orders',
            openedAt: iso(-1000),
          }),
        )
      ).session;
      await store.closeSession(b.id, { by: PAT, now: iso(0) });
      const ids = async (filter: object) =>
        (await store.listSessions({ now: iso(0), limit: 10, ...filter })).map(
          s => s.id,
        );
      expect(await ids({})).toEqual([c.id, b.id, a.id]);
      expect(await ids({ entityRef: 'component:default/PAYMENTS' })).toEqual([
        b.id,
        a.id,
      ]);
      expect(await ids({ environment: 'dev' })).toEqual([b.id]);
      expect(await ids({ active: true })).toEqual([c.id, a.id]);
      expect(await ids({ active: false })).toEqual([b.id]);
      expect(await ids({ limit: 1, offset: 1 })).toEqual([b.id]);
    },
  );

  it.each(databases.eachSupportedId())(
    'creates a run with a session only while it is open and its own, %p',
    async id => {
      const { store, runs } = await setup(id);
      const { session } = await store.openSession(newSession());
      const grant = {
        sessionId: session.id,
        openedBy: PAT,
        reason: session.reason,
      };

      const run = await runs.createRun(
        newApply({
          breakGlass: { ...grant, bypassed: ['apply-branch', 'approvals'] },
        }),
      );
      expect(run.breakGlass).toEqual(grant);
      expect((await runs.getRun(run.id))!.breakGlass).toEqual(grant);
      expect((await store.getSession(session.id))!.uses).toEqual([
        {
          runId: run.id,
          operation: 'apply',
          at: run.createdAt,
          bypassed: ['apply-branch', 'approvals'],
        },
      ]);
      expect(await runs.listHistory(run.id)).toContainEqual(
        expect.objectContaining({
          action: 'break-glass-used',
          detail: {
            sessionId: session.id,
            bypassed: ['apply-branch', 'approvals'],
          },
        }),
      );
      await runs.finishRun(run.id, { status: 'succeeded' }, 'sealed-runner');

      // Someone else's session, another target's, or a closed one: no run, no use.
      const refused: NewRun[] = [
        newApply({
          requestedBy: ERIN,
          breakGlass: { ...grant, bypassed: ['approvals'] },
        }),
        newApply({
          environment: 'dev',
          breakGlass: { ...grant, bypassed: ['approvals'] },
        }),
      ];
      for (const attempt of refused) {
        await expect(runs.createRun(attempt)).rejects.toThrow(
          /is no longer open for/,
        );
        expect(await runs.getRun(attempt.id)).toBeUndefined();
      }
      await store.closeSession(session.id, { by: PAT, now: iso(0) });
      const late = newApply({
        breakGlass: { ...grant, bypassed: ['approvals'] },
      });
      await expect(runs.createRun(late)).rejects.toThrow(ConflictError);
      expect(await runs.getRun(late.id)).toBeUndefined();
      expect((await store.getSession(session.id))!.uses).toHaveLength(1);
      // The lock was not kept by the refused runs.
      expect(await runs.lockHolder(LOCK)).toBeUndefined();
    },
  );
});
