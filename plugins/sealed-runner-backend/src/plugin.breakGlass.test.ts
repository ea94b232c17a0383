/*
 * Break-glass sessions through the real router, services and SQLite
 * database: open / list / close / expiry, what a session lets its opener
 * through on apply, and everything it does not.
 */
import { verify } from 'node:crypto';
import { Server } from 'node:http';
import {
  AuditorService,
  BackstageCredentials,
  PermissionsService,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  ServiceMock,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  AuthorizeResult,
  EvaluatePermissionRequest,
} from '@backstage/plugin-permission-common';
import {
  BreakGlassSession,
  parseTargetRef,
  Run,
  SealedRunnerJob,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { Knex } from 'knex';
import request from 'supertest';
import {
  event,
  FakeDispatcher,
  fakeDispatcherModule,
  succeedingRunner,
} from './__testUtils__/FakeDispatcher';
import { GitRepository } from './__testUtils__/gitRepository';
import {
  GROUPS,
  JOB_SIGNING_KEYS,
  MODULE_SOURCE,
  sealedRunnerConfig,
  service,
  terraformModule,
  userInfoFactory,
  USERS,
} from './__testUtils__/world';
import { sealedRunnerPlugin } from './plugin';

jest.setTimeout(60_000);

const API = '/api/sealed-runner';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
/** A second break-glass holder besides Pat, who may not apply anything. */
const ADA = 'user:default/ada';
const REASON = 'payments API down, hotfix for INC-4711 cannot wait';

const ref = (name: string) => `component:default/${name}`;
const as = (user: string) => ({
  Authorization: mockCredentials.user.header(user),
});
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function expectError(
  res: request.Response,
  status: number,
  name: string,
  message?: string | RegExp,
) {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: expect.objectContaining({
      error: expect.objectContaining({
        name,
        ...(message === undefined
          ? {}
          : {
              message:
                typeof message === 'string'
                  ? expect.stringContaining(message)
                  : expect.stringMatching(message),
            }),
      }),
    }),
  });
}

/**
 * The test policy: Pat and Ada hold break-glass; Ada may not apply; Quinn
 * may not read `secretive`; everything else is allowed. `revoked` users
 * lose break-glass mid-test.
 */
const revoked = new Set<string>();
function decide(
  query: EvaluatePermissionRequest,
  credentials: BackstageCredentials,
) {
  const user = (credentials.principal as { userEntityRef?: string })
    .userEntityRef;
  const target =
    'resourceRef' in query && query.resourceRef
      ? parseTargetRef(query.resourceRef)
      : undefined;
  const deny =
    (query.permission.name === 'sealed-runner.breakglass' &&
      (!user || ![USERS.pat, ADA].includes(user) || revoked.has(user))) ||
    (query.permission.name === 'sealed-runner.run.apply' && user === ADA) ||
    (query.permission.name === 'sealed-runner.run.read' &&
      user === USERS.quinn &&
      target?.entityRef === ref('secretive'));
  return { result: deny ? AuthorizeResult.DENY : AuthorizeResult.ALLOW };
}

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

describe('break-glass sessions (HTTP API)', () => {
  let repo: GitRepository;
  let knex: Knex;
  let server: Server;
  let auditor: ServiceMock<AuditorService>;
  const dispatcher = new FakeDispatcher();
  type ScheduledTask = Parameters<SchedulerService['scheduleTask']>[0];
  const tasks = new Map<string, ScheduledTask>();
  const api = () => request(server);

  beforeAll(async () => {
    repo = GitRepository.create();
    knex = await databases.init('SQLITE_3');
    auditor = mockServices.auditor.mock();
    const permissions = mockServices.permissions.mock({
      authorize: (async (
        requests: EvaluatePermissionRequest[],
        options: { credentials: BackstageCredentials },
      ) =>
        requests.map(r =>
          decide(r, options.credentials),
        )) as PermissionsService['authorize'],
    });
    const scheduler = mockServices.scheduler.mock({
      scheduleTask: async (task: ScheduledTask) => {
        tasks.set(task.id, task);
      },
    });
    const names = [
      'payments',
      'orders',
      'ledger',
      'billing',
      'refunds',
      'secretive',
      'stale',
      'held',
    ];
    const backend = await startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(dispatcher),
        mockServices.rootConfig.factory({
          data: {
            sealedRunner: {
              ...sealedRunnerConfig(repo.url),
              breakGlass: { maxDurationMinutes: 120 },
            },
          },
        }),
        mockServices.httpAuth.factory({
          defaultCredentials: mockCredentials.none(),
        }),
        mockServices.database.factory({ knex }),
        permissions.factory,
        scheduler.factory,
        userInfoFactory,
        auditor.factory,
        catalogServiceMock.factory({
          entities: [
            ...names.map(name => service(name, repo.url)),
            // Its repository is not on the allowlist.
            service('unlisted', 'https://git.example.com/other/live.git'),
            // Its folder uses an unvetted module: the runner rejects every plan.
            service('legacy-batch', repo.url),
            terraformModule(
              'web-service-module',
              GROUPS.platform,
              MODULE_SOURCE,
              'v1.0.0, v1.1.0',
            ),
          ],
        }),
      ],
    });
    server = backend.server;
    // As the real runner does for legacy-batch: refused before terraform init.
    dispatcher.script(ref('legacy-batch'), 'prod', () => ({
      lines: [
        event.phase('module-check'),
        event.result({
          status: 'rejected',
          error: `live/prod/legacy-batch/main.tf: module source "${MODULE_SOURCE}?ref=v2.0.0-rc1" is not vetted`,
        }),
      ],
    }));
  });

  afterAll(() => repo?.remove());
  afterEach(() => revoked.clear());

  const open = (user: string, body: object | string) =>
    api()
      .post(`${API}/break-glass`)
      .set(as(user))
      .set('Content-Type', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body));

  async function openSession(
    name: string,
    environment = 'prod',
    extra: object = {},
    user: string = USERS.pat,
  ): Promise<BreakGlassSession> {
    const res = await open(user, {
      entityRef: ref(name),
      environment,
      reason: REASON,
      ...extra,
    });
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 201,
    });
    return res.body.session;
  }

  const close = (id: string, user: string, body: object = {}) =>
    api().post(`${API}/break-glass/${id}/close`).set(as(user)).send(body);

  const list = (user: string, query: Record<string, string> = {}) =>
    api().get(`${API}/break-glass`).query(query).set(as(user));

  async function sessionOf(id: string): Promise<BreakGlassSession> {
    const res = await list(USERS.pat, { limit: '200' });
    expect(res.status).toBe(200);
    return res.body.items.find((s: BreakGlassSession) => s.id === id);
  }

  async function getRun(id: string, user: string = USERS.pat): Promise<Run> {
    const res = await api().get(`${API}/runs/${id}`).set(as(user));
    expect(res.status).toBe(200);
    return res.body.run;
  }

  async function waitFor(id: string): Promise<Run> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const run = await getRun(id);
      if (TERMINAL_RUN_STATUSES.includes(run.status)) return run;
      if (Date.now() > deadline)
        throw new Error(`run ${id} did not end: ${JSON.stringify(run)}`);
      await sleep(50);
    }
  }

  async function plan(
    name: string,
    user: string,
    branch?: string,
  ): Promise<Run> {
    const res = await api()
      .post(`${API}/runs`)
      .set(as(user))
      .send({
        entityRef: ref(name),
        environment: 'prod',
        operation: 'plan',
        ...(branch ? { ref: branch } : {}),
      });
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 202,
    });
    return waitFor(res.body.run.id);
  }

  const apply = (planId: string, user: string) =>
    api().post(`${API}/runs/${planId}/apply`).set(as(user)).send({});

  /** The audit events with this id recorded since the last `auditor.createEvent.mockClear()`. */
  async function auditEvents(eventId: string) {
    const calls = auditor.createEvent.mock.calls.map(([options], i) => ({
      options,
      i,
    }));
    return Promise.all(
      calls
        .filter(c => c.options.eventId === eventId)
        .map(async c => ({
          options: c.options,
          event: (await auditor.createEvent.mock.results[c.i].value) as {
            success: jest.Mock;
            fail: jest.Mock;
          },
        })),
    );
  }

  /** The job a runner got for a run, checked against the gate's signature. */
  function signedJob(runId: string): SealedRunnerJob {
    const i = dispatcher.jobs.findIndex(j => j.runId === runId);
    const document = JSON.parse(dispatcher.documents[i]);
    expect(
      verify(
        null,
        jobSigningMessage(document.payload),
        JOB_SIGNING_KEYS.publicKey,
        Buffer.from(document.signature, 'base64'),
      ),
    ).toBe(true);
    return JSON.parse(document.payload);
  }

  /** Moves a session's expiry into the past, as if its time had run out. */
  async function expire(id: string) {
    await knex('break_glass_sessions')
      .where({ id })
      .update({ expires_at: new Date(Date.now() - 1000).toISOString() });
  }

  describe('POST /break-glass', () => {
    it('opens a session for a holder, with reason, ticket and duration, audited as critical', async () => {
      auditor.createEvent.mockClear();
      const before = Date.now();
      const res = await open(USERS.pat, {
        entityRef: 'Component:default/payments',
        environment: 'prod',
        reason: `  ${REASON}  `,
        ticket: 'INC-4711',
        durationMinutes: 30,
      });
      expect(res.status).toBe(201);
      const session: BreakGlassSession = res.body.session;
      expect(session).toEqual({
        id: expect.stringMatching(UUID),
        entityRef: ref('payments'),
        environment: 'prod',
        openedBy: USERS.pat,
        reason: REASON,
        ticket: 'INC-4711',
        openedAt: expect.stringMatching(ISO),
        expiresAt: expect.stringMatching(ISO),
        uses: [],
      });
      expect(Date.parse(session.openedAt)).toBeGreaterThanOrEqual(before - 5);
      expect(Date.parse(session.expiresAt) - Date.parse(session.openedAt)).toBe(
        30 * 60_000,
      );

      const [opened] = await auditEvents('break-glass-open');
      expect(opened.options).toMatchObject({
        severityLevel: 'critical',
        request: expect.anything(),
        meta: {
          actor: USERS.pat,
          entityRef: ref('payments'),
          environment: 'prod',
          reason: REASON,
          ticket: 'INC-4711',
          durationMinutes: 30,
        },
      });
      expect(opened.event.success).toHaveBeenCalledWith({
        meta: { sessionId: session.id, expiresAt: session.expiresAt },
      });

      // At most one open session per target, whoever asks and however the ref is spelled.
      auditor.createEvent.mockClear();
      for (const [user, entityRef] of [
        [USERS.pat, ref('payments')],
        [ADA, 'component:payments'],
      ]) {
        expectError(
          await open(user, { entityRef, environment: 'prod', reason: REASON }),
          409,
          'ConflictError',
          `already has an open break-glass session (${session.id}, opened by ${USERS.pat}`,
        );
      }
      const refused = await auditEvents('break-glass-open');
      expect(refused).toHaveLength(2);
      expect(
        refused.every(
          e =>
            e.options.severityLevel === 'critical' &&
            e.event.fail.mock.calls.length === 1,
        ),
      ).toBe(true);
      expect((await close(session.id, USERS.pat)).status).toBe(200);
    });

    it('lasts 60 minutes by default and no longer than sealedRunner.breakGlass.maxDurationMinutes', async () => {
      const session = await openSession('ledger');
      expect(Date.parse(session.expiresAt) - Date.parse(session.openedAt)).toBe(
        60 * 60_000,
      );
      expect((await close(session.id, USERS.pat)).status).toBe(200);

      expectError(
        await open(USERS.pat, {
          entityRef: ref('ledger'),
          environment: 'prod',
          reason: REASON,
          durationMinutes: 121,
        }),
        400,
        'InputError',
        'durationMinutes must be at most 120 (sealedRunner.breakGlass.maxDurationMinutes)',
      );
      const longest = await openSession('ledger', 'prod', {
        durationMinutes: 120,
      });
      expect(Date.parse(longest.expiresAt) - Date.parse(longest.openedAt)).toBe(
        120 * 60_000,
      );
      expect((await close(longest.id, USERS.pat)).status).toBe(200);
    });

    it('refuses users without sealed-runner.breakglass on the target (403), and service principals', async () => {
      expectError(
        await open(USERS.erin, {
          entityRef: ref('billing'),
          environment: 'prod',
          reason: REASON,
        }),
        403,
        'NotAllowedError',
        `you may not use break-glass on ${ref('billing')} in prod`,
      );
      const byService = await api()
        .post(`${API}/break-glass`)
        .set('Authorization', mockCredentials.service.header())
        .send({
          entityRef: ref('billing'),
          environment: 'prod',
          reason: REASON,
        });
      expect(byService.status).toBe(403);
      expect(
        (await list(USERS.pat, { entityRef: ref('billing') })).body.items,
      ).toEqual([]);
    });

    it('refuses unknown entities and targets (404) and targets that are not deployable (409)', async () => {
      expectError(
        await open(USERS.pat, {
          entityRef: ref('nope'),
          environment: 'prod',
          reason: REASON,
        }),
        404,
        'NotFoundError',
      );
      expectError(
        await open(USERS.pat, {
          entityRef: ref('billing'),
          environment: 'staging',
          reason: REASON,
        }),
        404,
        'NotFoundError',
        'has no target for environment staging',
      );
      // Break-glass never bypasses the repository allowlist.
      expectError(
        await open(USERS.pat, {
          entityRef: ref('unlisted'),
          environment: 'prod',
          reason: REASON,
        }),
        409,
        'ConflictError',
        /not deployable to prod: .*allowlist.*; break-glass does not change that/,
      );
    });

    const valid = {
      entityRef: ref('billing'),
      environment: 'prod',
      reason: REASON,
    };
    it.each([
      ['no body', undefined],
      ['no reason', { entityRef: ref('billing'), environment: 'prod' }],
      ['a short reason', { ...valid, reason: 'because' }],
      ['a reason of spaces', { ...valid, reason: ' '.repeat(20) }],
      [
        'a reason with a line break',
        { ...valid, reason: 'first line ok\nsecond line' },
      ],
      ['a reason with a tab', { ...valid, reason: 'first part\tsecond part' }],
      ['a reason with NUL', { ...valid, reason: 'innocent\u0000reason here' }],
      [
        'a reason with an escape sequence',
        { ...valid, reason: 'innocent \u001b[31mred\u001b[0m' },
      ],
      [
        'a reason with a bidi override',
        { ...valid, reason: 'approved \u202eby nobody\u202c ok' },
      ],
      [
        'a reason with a line separator',
        { ...valid, reason: 'first line ok\u2028second' },
      ],
      ['a reason over 2000 characters', { ...valid, reason: 'a'.repeat(2001) }],
      ['a reason that is not a string', { ...valid, reason: ['x'.repeat(20)] }],
      ['an empty ticket', { ...valid, ticket: '' }],
      ['a ticket with a space', { ...valid, ticket: 'INC 4711' }],
      ['a ticket with shell syntax', { ...valid, ticket: 'INC-1;rm' }],
      ['a ticket over 128 characters', { ...valid, ticket: 'T'.repeat(129) }],
      ['a zero duration', { ...valid, durationMinutes: 0 }],
      ['a negative duration', { ...valid, durationMinutes: -5 }],
      ['a fractional duration', { ...valid, durationMinutes: 1.5 }],
      ['a duration as a string', { ...valid, durationMinutes: '60' }],
      ['a duration over a week', { ...valid, durationMinutes: 10081 }],
      ['an unknown field', { ...valid, bypass: 'everything' }],
      ['a field naming another user', { ...valid, openedBy: USERS.erin }],
      ['an invalid entity ref', { ...valid, entityRef: 'payments' }],
      ['an invalid environment', { ...valid, environment: 'Prod' }],
      [
        'a __proto__ key',
        `{"entityRef":"${ref(
          'billing',
        )}","environment":"prod","reason":"${REASON}","__proto__":{"durationMinutes":100000}}`,
      ],
      [
        'a constructor key',
        `{"entityRef":"${ref(
          'billing',
        )}","environment":"prod","reason":"${REASON}","constructor":{"prototype":{"x":1}}}`,
      ],
      ['malformed JSON', '{"entityRef":'],
      ['a body over 16 kB', { ...valid, reason: 'a'.repeat(17_000) }],
    ])('refuses %s (400) and opens nothing', async (_, body) => {
      const res =
        body === undefined
          ? await api().post(`${API}/break-glass`).set(as(USERS.pat))
          : await open(USERS.pat, body as object | string);
      expectError(res, 400, 'InputError');
      expect(
        (await list(USERS.pat, { entityRef: ref('billing') })).body.items,
      ).toEqual([]);
      // Nothing reached Object.prototype.
      expect(({} as Record<string, unknown>).durationMinutes).toBeUndefined();
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });

    it('accepts a reason of exactly 2000 characters and any ticket of the allowed characters', async () => {
      const session = await openSession('refunds', 'prod', {
        reason: `${'r'.repeat(1999)}.`,
        ticket: 'JIRA:OPS-7#a/b_c.d',
      });
      expect(session.reason).toHaveLength(2000);
      expect(session.ticket).toBe('JIRA:OPS-7#a/b_c.d');
      expect((await close(session.id, USERS.pat)).status).toBe(200);
    });
  });

  describe('GET /break-glass', () => {
    it('lists sessions newest first, filtered, only on targets the caller may read', async () => {
      const secret = await openSession('secretive');
      const dev = await openSession('orders', 'dev');
      const prod = await openSession('orders', 'prod', { ticket: 'INC-1' });
      await close(dev.id, USERS.pat, { reason: 'not needed after all' });

      const all = await list(USERS.erin, { entityRef: 'component:Orders' });
      expect(all.status).toBe(200);
      expect(all.body.items.map((s: BreakGlassSession) => s.id)).toEqual([
        prod.id,
        dev.id,
      ]);
      expect(all.body.items[1]).toMatchObject({
        closeReason: 'closed',
        closedBy: USERS.pat,
        closeNote: 'not needed after all',
        closedAt: expect.stringMatching(ISO),
      });

      const active = await list(USERS.erin, {
        entityRef: ref('orders'),
        active: 'true',
      });
      expect(active.body.items.map((s: BreakGlassSession) => s.id)).toEqual([
        prod.id,
      ]);
      const inactive = await list(USERS.erin, {
        entityRef: ref('orders'),
        active: 'false',
      });
      expect(inactive.body.items.map((s: BreakGlassSession) => s.id)).toEqual([
        dev.id,
      ]);
      const byEnvironment = await list(USERS.erin, {
        entityRef: ref('orders'),
        environment: 'dev',
      });
      expect(
        byEnvironment.body.items.map((s: BreakGlassSession) => s.id),
      ).toEqual([dev.id]);
      const limited = await list(USERS.erin, { limit: '1' });
      expect(limited.body.items.map((s: BreakGlassSession) => s.id)).toEqual([
        prod.id,
      ]);

      // Quinn may not read secretive: its session does not exist for them.
      const quinn = await list(USERS.quinn, { active: 'true', limit: '200' });
      const ids = quinn.body.items.map((s: BreakGlassSession) => s.id);
      expect(ids).toContain(prod.id);
      expect(ids).not.toContain(secret.id);
      expectError(await close(secret.id, USERS.quinn), 404, 'NotFoundError');
      expect(
        (
          await list(USERS.erin, { active: 'true', limit: '200' })
        ).body.items.map((s: BreakGlassSession) => s.id),
      ).toContain(secret.id);

      await close(prod.id, USERS.pat);
      await close(secret.id, USERS.pat);
    });

    it.each([
      ['an unknown parameter', { mine: 'true' }],
      ['active=yes', { active: 'yes' }],
      ['limit=0', { limit: '0' }],
      ['limit=201', { limit: '201' }],
      ['limit=abc', { limit: 'abc' }],
      ['an invalid entity ref', { entityRef: 'orders' }],
    ])('refuses %s (400)', async (_, query) => {
      expectError(await list(USERS.erin, query), 400, 'InputError');
    });

    it('needs authentication (401)', async () => {
      expectError(
        await api().get(`${API}/break-glass`),
        401,
        'AuthenticationError',
      );
      expectError(
        await api().post(`${API}/break-glass`).send({}),
        401,
        'AuthenticationError',
      );
      expectError(
        await api().post(`${API}/break-glass/${UNKNOWN_ID}/close`).send({}),
        401,
        'AuthenticationError',
      );
    });
  });

  describe('POST /break-glass/:id/close', () => {
    it('lets the opener or another holder close it, once, audited as critical', async () => {
      const session = await openSession('billing');
      expectError(
        await close(session.id, USERS.erin),
        403,
        'NotAllowedError',
        'you may not use break-glass',
      );
      expectError(
        await close(session.id, ADA, { reason: 'bad\u0007note' }),
        400,
        'InputError',
      );
      expectError(
        await close(session.id, ADA, { reason: 'fine', extra: 1 }),
        400,
        'InputError',
      );
      expectError(await close('not-a-uuid', ADA), 400, 'InputError');
      expectError(await close(UNKNOWN_ID, ADA), 404, 'NotFoundError');

      auditor.createEvent.mockClear();
      const res = await close(session.id, ADA, { reason: 'incident over' });
      expect(res.status).toBe(200);
      expect(res.body.session).toMatchObject({
        id: session.id,
        openedBy: USERS.pat,
        closedBy: ADA,
        closeReason: 'closed',
        closeNote: 'incident over',
        closedAt: expect.stringMatching(ISO),
      });
      const [closed] = await auditEvents('break-glass-close');
      expect(closed.options).toMatchObject({
        severityLevel: 'critical',
        meta: { actor: ADA, sessionId: session.id, note: 'incident over' },
      });
      expect(closed.event.success).toHaveBeenCalled();

      expectError(
        await close(session.id, USERS.pat),
        409,
        'ConflictError',
        'is already closed',
      );
      // Closed: a new session may be opened on the target.
      const next = await openSession('billing');
      expect((await close(next.id, USERS.pat)).status).toBe(200);
    });
  });

  describe('expiry', () => {
    it('is never honoured after expiresAt, before and after the expiry task records it', async () => {
      const session = await openSession('stale', 'prod', {
        durationMinutes: 1,
      });
      const planned = await plan('stale', USERS.pat);
      await expire(session.id);

      // The task has not run: the session already reads, and acts, expired.
      const listed = await sessionOf(session.id);
      expect(listed).toMatchObject({
        closeReason: 'expired',
        closedAt: listed.expiresAt,
      });
      expect(listed.closedBy).toBeUndefined();
      expect(
        (await list(USERS.pat, { entityRef: ref('stale'), active: 'true' }))
          .body.items,
      ).toEqual([]);
      expectError(
        await apply(planned.id, USERS.pat),
        409,
        'ConflictError',
        'needs 1 more approval',
      );
      expectError(
        await close(session.id, USERS.pat),
        409,
        'ConflictError',
        'is already expired',
      );

      // Closing it recorded the expiry (audited once); the task finds nothing left.
      auditor.createEvent.mockClear();
      const task = tasks.get('sealed-runner-break-glass-expiry')!;
      expect(task).toMatchObject({
        scope: 'global',
        frequency: { seconds: 30 },
      });
      await task.fn(new AbortController().signal);
      expect(await auditEvents('break-glass-expire')).toEqual([]);
      expect(await sessionOf(session.id)).toEqual(listed);
    });

    it('is recorded by the scheduler task, once, audited as critical', async () => {
      const session = await openSession('held', 'prod', { durationMinutes: 1 });
      await expire(session.id);
      auditor.createEvent.mockClear();
      const task = tasks.get('sealed-runner-break-glass-expiry')!;
      await task.fn(new AbortController().signal);
      await task.fn(new AbortController().signal);
      const expired = await auditEvents('break-glass-expire');
      expect(expired.map(e => e.options)).toEqual([
        expect.objectContaining({
          severityLevel: 'critical',
          meta: expect.objectContaining({
            sessionId: session.id,
            entityRef: ref('held'),
            environment: 'prod',
            openedBy: USERS.pat,
          }),
        }),
      ]);
      const after = await sessionOf(session.id);
      expect(after).toMatchObject({
        closeReason: 'expired',
        closedAt: after.expiresAt,
      });
      expect(after.closedBy).toBeUndefined();
    });

    it('does not block a new session: opening one records the old one as expired', async () => {
      const old = await openSession('held', 'dev', { durationMinutes: 1 });
      await expire(old.id);
      auditor.createEvent.mockClear();
      const fresh = await openSession('held', 'dev');
      expect(
        (await auditEvents('break-glass-expire')).map(
          e => e.options.meta?.sessionId,
        ),
      ).toEqual([old.id]);
      expect(
        (
          await list(USERS.pat, {
            entityRef: ref('held'),
            environment: 'dev',
            active: 'true',
          })
        ).body.items.map((s: BreakGlassSession) => s.id),
      ).toEqual([fresh.id]);
      await close(fresh.id, USERS.pat);
    });
  });

  describe('what an open session lets its opener apply', () => {
    let session: BreakGlassSession;

    beforeAll(async () => {
      session = await openSession('payments', 'prod', { ticket: 'INC-4711' });
    });

    it('applies a plan without its approvals, recording the session on the run and the run on the session', async () => {
      const planned = await plan('payments', USERS.pat);
      auditor.createEvent.mockClear();
      const res = await apply(planned.id, USERS.pat);
      expect(res.status).toBe(202);
      const applied: Run = res.body.run;
      expect(applied).toMatchObject({
        operation: 'apply',
        planRunId: planned.id,
        requestedBy: USERS.pat,
        breakGlass: {
          sessionId: session.id,
          openedBy: USERS.pat,
          reason: REASON,
        },
      });
      expect(await waitFor(applied.id)).toMatchObject({
        status: 'succeeded',
        breakGlass: {
          sessionId: session.id,
          openedBy: USERS.pat,
          reason: REASON,
        },
      });

      // The runner's grant is part of the document the gate signed.
      expect(signedJob(applied.id).breakGlass).toEqual({
        sessionId: session.id,
        openedBy: USERS.pat,
        expiresAt: session.expiresAt,
      });
      expect((await sessionOf(session.id)).uses).toEqual([
        {
          runId: applied.id,
          operation: 'apply',
          at: applied.createdAt,
          bypassed: ['approvals'],
        },
      ]);
      const history = await api()
        .get(`${API}/runs/${applied.id}/history`)
        .set(as(USERS.erin));
      expect(history.body.items).toContainEqual(
        expect.objectContaining({
          actor: USERS.pat,
          action: 'break-glass-used',
          detail: { sessionId: session.id, bypassed: ['approvals'] },
        }),
      );
      const [used] = await auditEvents('break-glass-use');
      expect(used.options).toMatchObject({
        severityLevel: 'critical',
        meta: {
          sessionId: session.id,
          runId: applied.id,
          planRunId: planned.id,
          actor: USERS.pat,
          bypassed: ['approvals'],
        },
      });
      expect(
        (await auditEvents('run-apply'))[0].event.success,
      ).toHaveBeenCalledWith({
        meta: expect.objectContaining({
          runId: applied.id,
          breakGlassSessionId: session.id,
        }),
      });
    });

    it('applies a branch that is not an apply branch, granting it to the runner', async () => {
      const planned = await plan('payments', USERS.pat, 'feature');
      const res = await apply(planned.id, USERS.pat);
      expect(res.status).toBe(202);
      expect(await waitFor(res.body.run.id)).toMatchObject({
        status: 'succeeded',
        ref: 'feature',
      });
      expect(signedJob(res.body.run.id)).toMatchObject({
        operation: 'apply',
        ref: 'feature',
        breakGlass: { sessionId: session.id, openedBy: USERS.pat },
      });
      expect((await sessionOf(session.id)).uses.at(-1)).toEqual(
        expect.objectContaining({
          runId: res.body.run.id,
          bypassed: ['apply-branch', 'approvals'],
        }),
      );
    });

    it('records nothing when the apply needs no bypass', async () => {
      const planned = await plan('payments', USERS.erin);
      expect(
        (
          await api()
            .post(`${API}/runs/${planned.id}/approve`)
            .set(as(USERS.pat))
            .send({})
        ).status,
      ).toBe(200);
      const uses = (await sessionOf(session.id)).uses.length;
      const res = await apply(planned.id, USERS.pat);
      expect(res.status).toBe(202);
      expect(res.body.run.breakGlass).toBeUndefined();
      expect(signedJob(res.body.run.id).breakGlass).toBeUndefined();
      await waitFor(res.body.run.id);
      expect((await sessionOf(session.id)).uses).toHaveLength(uses);
    });

    it('leaves approving unchanged: no self-approval, no approval of a non-apply branch', async () => {
      const own = await plan('payments', USERS.pat);
      expectError(
        await api()
          .post(`${API}/runs/${own.id}/approve`)
          .set(as(USERS.pat))
          .send({}),
        403,
        'NotAllowedError',
        'four-eyes',
      );
      const erins = await plan('payments', USERS.erin, 'feature');
      expectError(
        await api()
          .post(`${API}/runs/${erins.id}/approve`)
          .set(as(USERS.pat))
          .send({}),
        409,
        'ConflictError',
        'its plan cannot be approved',
      );
    });

    it("is not someone else's: Erin cannot use Pat's session", async () => {
      const main = await plan('payments', USERS.erin);
      expectError(
        await apply(main.id, USERS.erin),
        409,
        'ConflictError',
        'needs 1 more approval',
      );
      const feature = await plan('payments', USERS.erin, 'feature');
      expectError(
        await apply(feature.id, USERS.erin),
        403,
        'NotAllowedError',
        'branch feature may not be applied to prod (apply branches: main)',
      );
    });

    it('does not carry over to another target', async () => {
      const other = await plan('orders', USERS.pat);
      expectError(
        await apply(other.id, USERS.pat),
        409,
        'ConflictError',
        'needs 1 more approval',
      );
    });

    it('never lets a stale plan, a moved branch or a locked target through', async () => {
      const older = await plan('payments', USERS.pat);
      const newer = await plan('payments', USERS.pat);
      expectError(
        await apply(older.id, USERS.pat),
        409,
        'ConflictError',
        `newer plan ${newer.id} exists`,
      );

      const moved = repo.commit('main');
      expectError(
        await apply(newer.id, USERS.pat),
        409,
        'ConflictError',
        `branch main moved since this plan`,
      );
      expect(moved).not.toBe(newer.commitSha);

      dispatcher.script(ref('payments'), 'prod', () => ({
        lines: [event.log('busy')],
        hold: true,
      }));
      const held = await api()
        .post(`${API}/runs`)
        .set(as(USERS.pat))
        .send({
          entityRef: ref('payments'),
          environment: 'prod',
          operation: 'plan',
        });
      expect(held.status).toBe(202);
      const second = await api()
        .post(`${API}/runs`)
        .set(as(USERS.pat))
        .send({
          entityRef: ref('payments'),
          environment: 'prod',
          operation: 'plan',
        });
      expectError(
        second,
        409,
        'ConflictError',
        `target is locked by run ${held.body.run.id}`,
      );
      await api()
        .post(`${API}/runs/${held.body.run.id}/cancel`)
        .set(as(USERS.pat))
        .send({});
      dispatcher.script(ref('payments'), 'prod', succeedingRunner);
    });

    it('stops working once its opener loses sealed-runner.breakglass', async () => {
      const planned = await plan('payments', USERS.pat);
      revoked.add(USERS.pat);
      expectError(
        await apply(planned.id, USERS.pat),
        403,
        'NotAllowedError',
        `break-glass session ${session.id} is open, but you no longer hold sealed-runner.breakglass`,
      );
    });

    it('stops working once closed', async () => {
      const planned = await plan('payments', USERS.pat, 'feature');
      expect(
        (await close(session.id, USERS.pat, { reason: 'hotfix applied' }))
          .status,
      ).toBe(200);
      expectError(
        await apply(planned.id, USERS.pat),
        403,
        'NotAllowedError',
        'branch feature may not be applied to prod',
      );
    });
  });

  describe('what a session never bypasses', () => {
    it('the vetted-module check: legacy-batch is rejected, and a rejected plan is never applied', async () => {
      const session = await openSession('legacy-batch');
      const planned = await plan('legacy-batch', USERS.pat);
      expect(planned).toMatchObject({
        status: 'rejected',
        error: expect.stringContaining('v2.0.0-rc1'),
      });
      expectError(
        await apply(planned.id, USERS.pat),
        409,
        'ConflictError',
        'only a succeeded plan can be approved or applied',
      );
      expect((await sessionOf(session.id)).uses).toEqual([]);
      await close(session.id, USERS.pat);
    });

    it('the apply permission: a holder who may not apply cannot apply', async () => {
      const session = await openSession('refunds', 'prod', {}, ADA);
      const planned = await plan('refunds', USERS.pat);
      expectError(
        await apply(planned.id, ADA),
        403,
        'NotAllowedError',
        `you may not apply ${ref('refunds')} in prod`,
      );
      expect((await sessionOf(session.id)).uses).toEqual([]);
      await close(session.id, ADA);
    });
  });
});
