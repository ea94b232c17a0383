import {
  AuditorService,
  BackstageCredentials,
  coreServices,
  createServiceFactory,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  ServiceMock,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { verify } from 'node:crypto';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  parseTargetRef,
  Run,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { Server } from 'node:http';
import request from 'supertest';
import {
  deferred,
  event,
  FakeDispatcher,
  fakeDispatcherModule,
  PLAN_CHANGES,
  planFileSha,
} from './__testUtils__/FakeDispatcher';
import { GitRepository } from './__testUtils__/gitRepository';
import {
  GROUPS,
  JOB_SIGNING_KEYS,
  MODULE_SOURCE,
  OWNERSHIP,
  sealedRunnerConfig,
  service,
  terraformModule,
  userInfoFactory,
  USERS,
} from './__testUtils__/world';
import { sealedRunnerPlugin } from './plugin';

jest.setTimeout(60_000);

const API = '/api/sealed-runner';
const HEX40 = /^[0-9a-f]{40}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_RUN = '00000000-0000-4000-8000-000000000000';

const as = (user: string) => ({
  Authorization: mockCredentials.user.header(user),
});
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function expectError(
  res: request.Response,
  status: number,
  name: string,
  message?: RegExp | string,
) {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: expect.objectContaining({
      error: expect.objectContaining({
        name,
        ...(message !== undefined
          ? {
              message:
                typeof message === 'string'
                  ? expect.stringContaining(message)
                  : expect.stringMatching(message),
            }
          : {}),
      }),
      response: { statusCode: status },
    }),
  });
}

/** A client for one running test backend. */
function client(server: () => Server) {
  const api = () => request(server());

  async function requestPlan(
    entityRef: string,
    environment: string,
    options: { user?: string; ref?: string } = {},
  ) {
    return api()
      .post(`${API}/runs`)
      .set(as(options.user ?? USERS.erin))
      .send({
        entityRef,
        environment,
        operation: 'plan',
        ...(options.ref ? { ref: options.ref } : {}),
      });
  }

  async function plan(
    entityRef: string,
    environment: string,
    options: { user?: string; ref?: string } = {},
  ): Promise<Run> {
    const res = await requestPlan(entityRef, environment, options);
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 202,
    });
    return res.body.run;
  }

  async function getRun(id: string, user: string = USERS.erin): Promise<Run> {
    const res = await api().get(`${API}/runs/${id}`).set(as(user));
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 200,
    });
    return res.body.run;
  }

  /** Polls `GET /runs/:id` until the run has ended (or `until` holds). */
  async function waitFor(
    id: string,
    until: (run: Run) => boolean = r =>
      TERMINAL_RUN_STATUSES.includes(r.status),
    user: string = USERS.erin,
  ) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const run = await getRun(id, user);
      if (until(run)) {
        return run;
      }
      if (Date.now() > deadline) {
        throw new Error(`run ${id} did not get there: ${JSON.stringify(run)}`);
      }
      await sleep(50);
    }
  }

  async function succeededPlan(
    entityRef: string,
    environment: string,
    options: { user?: string; ref?: string } = {},
  ) {
    const run = await waitFor(
      (
        await plan(entityRef, environment, options)
      ).id,
      undefined,
      options.user,
    );
    expect(run).toMatchObject({ status: 'succeeded' });
    return run;
  }

  const approve = (id: string, user: string) =>
    api().post(`${API}/runs/${id}/approve`).set(as(user)).send({});
  const apply = (id: string, user: string = USERS.erin) =>
    api().post(`${API}/runs/${id}/apply`).set(as(user)).send({});
  const cancel = (id: string, user: string = USERS.erin) =>
    api().post(`${API}/runs/${id}/cancel`).set(as(user)).send({});

  /** Reads an event stream to its end. */
  function stream(path: string, headers: Record<string, string>) {
    return api()
      .get(path)
      .set(headers)
      .buffer(true)
      .parse((res, callback) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => callback(null, text));
      });
  }

  return {
    api,
    requestPlan,
    plan,
    getRun,
    waitFor,
    succeededPlan,
    approve,
    apply,
    cancel,
    stream,
  };
}

/** Splits a `text/event-stream` body into its events. */
function parseEvents(text: string) {
  return text
    .split('\n\n')
    .filter(block => block.trim() && !block.startsWith(':'))
    .map(block => {
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const colon = line.indexOf(': ');
        fields[line.slice(0, colon)] = line.slice(colon + 2);
      }
      return {
        id: fields.id,
        event: fields.event ?? 'message',
        data: JSON.parse(fields.data),
      };
    });
}

const ref = (name: string) => `component:default/${name}`;

describe('sealed-runner plugin (HTTP API)', () => {
  let repo: GitRepository;
  let dispatcher: FakeDispatcher;
  let auditor: ServiceMock<AuditorService>;
  let server: Server;
  const c = client(() => server);

  beforeAll(async () => {
    repo = GitRepository.create();
    dispatcher = new FakeDispatcher();
    auditor = mockServices.auditor.mock();
    const names = [
      'payments',
      'orders',
      'ledger',
      'billing',
      'streamer',
      'checkout',
      'invoices',
      'refunds',
      'reports',
      'queue',
      'crashy',
      'lost',
      'liar',
      'noisy',
      'sloppy',
      'chatty',
      'sandbox',
      'ephemeral',
      'audited',
      'lister',
    ];
    const entities = [
      ...names.map(name => service(name, repo.url)),
      service('staged', repo.url, {
        annotations: {
          'sealed-runner.io/target.staging': 'live/staging/staged',
        },
      }),
      service('legacy', 'https://git.example.com/other/live.git'),
      service('hostile', repo.url, {
        annotations: { 'sealed-runner.io/target.dev': '../../etc' },
      }),
      // `constructor` is a valid environment name, and a key of every object.
      service('proto', repo.url, {
        annotations: { 'sealed-runner.io/target.constructor': 'live/x' },
      }),
      {
        apiVersion: 'backstage.io/v1alpha1',
        kind: 'Component',
        metadata: { name: 'no-targets', namespace: 'default' },
        spec: { type: 'service' },
        relations: [{ type: 'ownedBy', targetRef: GROUPS.payments }],
      },
      terraformModule(
        'web-service-module',
        GROUPS.platform,
        MODULE_SOURCE,
        'v1.0.0, v1.1.0',
      ),
      terraformModule(
        'rogue-module',
        GROUPS.payments,
        'git::file:///srv/git/rogue.git//m',
        'v6.6.6',
      ),
    ];
    const backend = await startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(dispatcher),
        mockServices.rootConfig.factory({
          data: { sealedRunner: sealedRunnerConfig(repo.url) },
        }),
        // No credentials means no credentials (the mock default is a user).
        mockServices.httpAuth.factory({
          defaultCredentials: mockCredentials.none(),
        }),
        mockServices.permissions.factory({ result: AuthorizeResult.ALLOW }),
        userInfoFactory,
        auditor.factory,
        catalogServiceMock.factory({ entities }),
      ],
    });
    server = backend.server;
  });

  afterAll(() => repo?.remove());

  describe('authentication', () => {
    it('answers GET /health without credentials', async () => {
      const res = await c.api().get(`${API}/health`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it.each([
      ['get', `/targets?entityRef=${ref('payments')}`],
      ['post', '/runs'],
      ['get', '/runs'],
      ['get', `/runs/${UNKNOWN_RUN}`],
      ['post', `/runs/${UNKNOWN_RUN}/approve`],
      ['post', `/runs/${UNKNOWN_RUN}/apply`],
      ['post', `/runs/${UNKNOWN_RUN}/cancel`],
      ['get', `/runs/${UNKNOWN_RUN}/logs`],
      ['get', `/runs/${UNKNOWN_RUN}/logs/stream`],
      ['get', `/runs/${UNKNOWN_RUN}/history`],
    ] as const)(
      'refuses %s %s without credentials (401)',
      async (method, path) => {
        const bare = await c.api()[method](`${API}${path}`);
        expectError(bare, 401, 'AuthenticationError');
        const none = await c
          .api()
          [method](`${API}${path}`)
          .set('Authorization', mockCredentials.none.header());
        expectError(none, 401, 'AuthenticationError');
        const invalid = await c
          .api()
          [method](`${API}${path}`)
          .set('Authorization', mockCredentials.user.invalidHeader());
        expectError(invalid, 401, 'AuthenticationError');
      },
    );
  });

  describe('GET /targets', () => {
    it('lists deployable and non-deployable targets with reasons', async () => {
      const res = await c
        .api()
        .get(`${API}/targets`)
        .query({ entityRef: ref('staged') })
        .set(as(USERS.erin));
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual([
        {
          entityRef: ref('staged'),
          environment: 'dev',
          repository: repo.url,
          path: 'live/dev/staged',
          applyBranches: ['*'],
          requiredApprovals: 0,
          sandboxed: true,
          deployable: true,
          locked: false,
        },
        {
          entityRef: ref('staged'),
          environment: 'prod',
          repository: repo.url,
          path: 'live/prod/staged',
          applyBranches: ['main'],
          requiredApprovals: 1,
          sandboxed: true,
          approvers: [GROUPS.platform],
          deployable: true,
          locked: false,
        },
        {
          entityRef: ref('staged'),
          environment: 'staging',
          repository: repo.url,
          path: 'live/staging/staged',
          applyBranches: [],
          requiredApprovals: 0,
          sandboxed: true,
          deployable: false,
          reason: expect.stringContaining(
            'environment "staging" is not configured',
          ),
          locked: false,
        },
      ]);
    });

    it.each([
      ['legacy', 'dev', /is not on the sealedRunner\.repositories allowlist/],
      [
        'hostile',
        'dev',
        /sealed-runner\.io\/target\.dev: path "\.\.\/\.\.\/etc" must not contain '\.\.' segments/,
      ],
    ])(
      'explains why %s is not deployable to %s',
      async (name, environment, reason) => {
        const res = await c
          .api()
          .get(`${API}/targets`)
          .query({ entityRef: ref(name) })
          .set(as(USERS.erin));
        expect(res.status).toBe(200);
        expect(
          res.body.items.find(
            (t: { environment: string }) => t.environment === environment,
          ),
        ).toMatchObject({
          deployable: false,
          reason: expect.stringMatching(reason),
          locked: false,
        });
      },
    );

    it('returns no targets for an entity without target annotations', async () => {
      const res = await c
        .api()
        .get(`${API}/targets`)
        .query({ entityRef: ref('no-targets') })
        .set(as(USERS.erin));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [] });
    });

    it('shows the last run of a target', async () => {
      const run = await c.succeededPlan(ref('lister'), 'dev');
      const res = await c
        .api()
        .get(`${API}/targets`)
        .query({ entityRef: ref('lister') })
        .set(as(USERS.erin));
      expect(res.status).toBe(200);
      const [dev, prod] = res.body.items;
      expect(dev).toMatchObject({
        environment: 'dev',
        locked: false,
        lastRun: { id: run.id, status: 'succeeded' },
      });
      expect(prod.lastRun).toBeUndefined();
    });

    it.each([
      ['an unknown entity', { entityRef: ref('nope') }, 404, 'NotFoundError'],
      ['a missing entityRef', {}, 400, 'InputError'],
      ['a malformed entityRef', { entityRef: 'payments' }, 400, 'InputError'],
      [
        'an unknown parameter',
        { entityRef: ref('payments'), x: '1' },
        400,
        'InputError',
      ],
    ])('answers %s with an error', async (_, query, status, name) => {
      const res = await c
        .api()
        .get(`${API}/targets`)
        .query(query)
        .set(as(USERS.erin));
      expectError(res, status, name);
    });
  });

  describe('GET /modules', () => {
    it("relates the newest succeeded plan's module sources to the vetting catalog modules", async () => {
      const usage = () =>
        c
          .api()
          .get(`${API}/modules`)
          .query({ entityRef: ref('ledger') })
          .set(as(USERS.erin));
      expect((await usage()).body).toEqual({ items: [] });

      dispatcher.script(ref('ledger'), 'dev', job => ({
        lines: [
          event.result({
            ...JSON.parse(event.emptyPlanResult(job)),
            moduleSources: [
              `${MODULE_SOURCE}?ref=v1.1.0`,
              'git::file:///srv/git/other.git//modules/x?ref=v9.9.9',
            ],
          }),
        ],
      }));
      const plan = await c.succeededPlan(ref('ledger'), 'dev');

      const res = await usage();
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual([
        {
          environment: 'dev',
          runId: plan.id,
          commitSha: plan.commitSha,
          source: MODULE_SOURCE,
          version: 'v1.1.0',
          moduleRefs: ['component:default/web-service-module'],
        },
        {
          environment: 'dev',
          runId: plan.id,
          commitSha: plan.commitSha,
          source: 'git::file:///srv/git/other.git//modules/x',
          version: 'v9.9.9',
          moduleRefs: [],
        },
      ]);
      expectError(
        await c
          .api()
          .get(`${API}/modules`)
          .query({ entityRef: '../etc' })
          .set(as(USERS.erin)),
        400,
        'InputError',
      );
      expectError(
        await c
          .api()
          .get(`${API}/modules`)
          .query({ entityRef: ref('ledger') }),
        401,
        'AuthenticationError',
      );
    });
  });

  describe('POST /runs', () => {
    it('queues a plan of the default branch at its real head commit', async () => {
      const res = await c.requestPlan(ref('orders'), 'dev');
      expect(res.status).toBe(202);
      expect(res.body.run).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        entityRef: ref('orders'),
        environment: 'dev',
        operation: 'plan',
        status: 'queued',
        ref: 'main',
        commitSha: repo.head('main'),
        requestedBy: USERS.erin,
        createdAt: expect.stringMatching(ISO),
        approvals: [],
      });
      expect(res.body.run.commitSha).toMatch(HEX40);
      const done = await c.waitFor(res.body.run.id);
      expect(done.status).toBe('succeeded');
      expect(dispatcher.jobsOf(res.body.run.id)).toEqual({
        version: 1,
        runId: res.body.run.id,
        operation: 'plan',
        entityRef: ref('orders'),
        environment: 'dev',
        repository: repo.url,
        ref: 'main',
        commitSha: repo.head('main'),
        path: 'live/dev/orders',
        // Only the platform team's module counts as vetted.
        modules: [{ source: MODULE_SOURCE, versions: ['v1.0.0', 'v1.1.0'] }],
        issuedAt: expect.stringMatching(ISO),
      });
      // The runner receives exactly that job, signed with the gate's key.
      const document = JSON.parse(
        dispatcher.documents[
          dispatcher.jobs.indexOf(dispatcher.jobsOf(res.body.run.id)!)
        ],
      );
      expect(Object.keys(document).sort()).toEqual(['payload', 'signature']);
      expect(JSON.parse(document.payload)).toEqual(
        dispatcher.jobsOf(res.body.run.id),
      );
      expect(
        verify(
          null,
          jobSigningMessage(document.payload),
          JOB_SIGNING_KEYS.publicKey,
          Buffer.from(document.signature, 'base64'),
        ),
      ).toBe(true);
    });

    it('plans a named branch at its head', async () => {
      const run = await c.plan(ref('orders'), 'dev', { ref: 'feature' });
      expect(run).toMatchObject({
        ref: 'feature',
        commitSha: repo.head('feature'),
      });
      expect(repo.head('feature')).not.toBe(repo.head('main'));
      await c.waitFor(run.id);
    });

    const valid = {
      entityRef: ref('orders'),
      environment: 'dev',
      operation: 'plan',
    };
    const megabyte = 'x'.repeat(1024 * 1024);

    it.each<[string, unknown, RegExp]>([
      ['an unknown field', { ...valid, force: true }, /force/],
      ['operation apply', { ...valid, operation: 'apply' }, /operation/],
      [
        'no operation',
        { entityRef: valid.entityRef, environment: 'dev' },
        /operation/,
      ],
      [
        'an option as ref',
        { ...valid, ref: '--upload-pack=x' },
        /must not start with '-'|may only contain/,
      ],
      ['a full ref name', { ...valid, ref: 'refs/heads/main' }, /short branch/],
      ['a traversal ref', { ...valid, ref: 'a/../b' }, /\.\./],
      [
        'a ref with a newline',
        { ...valid, ref: 'main\nx' },
        /control characters/,
      ],
      ['a non-string ref', { ...valid, ref: 42 }, /ref/],
      [
        'an uppercase environment',
        { ...valid, environment: 'Prod' },
        /environment/,
      ],
      [
        'an entity ref without kind',
        { ...valid, entityRef: 'orders' },
        /entity ref/,
      ],
      ['an array body', [valid], /request body/],
      [
        'a 10 kB entity ref',
        { ...valid, entityRef: `component:default/${'a'.repeat(10_000)}` },
        /entityRef/,
      ],
    ])('refuses %s (400)', async (_, body, message) => {
      const before = dispatcher.jobs.length;
      const res = await c
        .api()
        .post(`${API}/runs`)
        .set(as(USERS.erin))
        .send(body as object);
      expectError(res, 400, 'InputError', message);
      expect(dispatcher.jobs.length).toBe(before);
    });

    it.each([
      [
        '__proto__',
        `{"entityRef":"${ref(
          'orders',
        )}","environment":"dev","operation":"plan","__proto__":{"admin":true}}`,
      ],
      [
        'constructor',
        `{"entityRef":"${ref(
          'orders',
        )}","environment":"dev","operation":"plan","constructor":{"prototype":{}}}`,
      ],
    ])('refuses a %s key (400)', async (_, raw) => {
      const res = await c
        .api()
        .post(`${API}/runs`)
        .set(as(USERS.erin))
        .set('Content-Type', 'application/json')
        .send(raw);
      expectError(res, 400, 'InputError', /Unrecognized key/i);
    });

    it('refuses a body that is not JSON (400)', async () => {
      const res = await c
        .api()
        .post(`${API}/runs`)
        .set(as(USERS.erin))
        .set('Content-Type', 'application/json')
        .send('{"entityRef": ');
      expect(res.status).toBe(400);
      expect(res.body.response).toEqual({ statusCode: 400 });
    });

    it('refuses a body that is not JSON at all, sent as text (400)', async () => {
      const res = await c
        .api()
        .post(`${API}/runs`)
        .set(as(USERS.erin))
        .set('Content-Type', 'text/plain')
        .send('plan it');
      expectError(res, 400, 'InputError');
    });

    it('refuses a 1 MB string unread (400)', async () => {
      const before = dispatcher.jobs.length;
      const res = await c
        .api()
        .post(`${API}/runs`)
        .set(as(USERS.erin))
        .send({ ...valid, ref: megabyte });
      expect(JSON.stringify(res.body)).not.toContain('x'.repeat(1000));
      expect(dispatcher.jobs.length).toBe(before);
      // Oversized bodies are malformed input: 400, like every other refusal.
      expectError(res, 400, 'InputError');
    });

    it.each([
      [
        'an unknown entity',
        { entityRef: ref('nope'), environment: 'dev' },
        /component:default\/nope was not found/,
      ],
      [
        'an environment the entity has no target for',
        { entityRef: ref('orders'), environment: 'qa' },
        /has no target for environment qa/,
      ],
    ])('answers %s with 404', async (_, body, message) => {
      const res = await c
        .api()
        .post(`${API}/runs`)
        .set(as(USERS.erin))
        .send({ ...body, operation: 'plan' });
      expectError(res, 404, 'NotFoundError', message);
    });

    it.each([
      [
        'an unconfigured environment',
        'staged',
        'staging',
        /environment "staging" is not configured/,
      ],
      ['a repository off the allowlist', 'legacy', 'dev', /allowlist/],
      ['a hostile path', 'hostile', 'dev', /must not contain '\.\.' segments/],
      [
        'an environment named constructor',
        'proto',
        'constructor',
        /environment "constructor" is not configured/,
      ],
    ])(
      'refuses a target with %s (409)',
      async (_, name, environment, message) => {
        const before = dispatcher.jobs.length;
        const res = await c.requestPlan(ref(name), environment);
        expectError(res, 409, 'ConflictError', message);
        expect(dispatcher.jobs.length).toBe(before);
      },
    );

    it('refuses a branch that does not exist (400)', async () => {
      const res = await c.requestPlan(ref('orders'), 'dev', {
        ref: 'no-such-branch',
      });
      expectError(
        res,
        400,
        'InputError',
        /branch no-such-branch does not exist/,
      );
    });
  });

  describe('locks and cancel', () => {
    it('refuses a second run on a busy target, naming the holder, until the first is cancelled', async () => {
      dispatcher.script(ref('ledger'), 'dev', () => ({
        lines: [event.log('working')],
        hold: true,
      }));
      const first = await c.plan(ref('ledger'), 'dev');
      await c.waitFor(first.id, r => r.status === 'running');

      const second = await c.requestPlan(ref('ledger'), 'dev', {
        user: USERS.sam,
      });
      expectError(
        second,
        409,
        'ConflictError',
        `target is locked by run ${first.id}`,
      );

      const targets = await c
        .api()
        .get(`${API}/targets`)
        .query({ entityRef: ref('ledger') })
        .set(as(USERS.erin));
      expect(targets.body.items[0]).toMatchObject({
        environment: 'dev',
        locked: true,
        lockedBy: first.id,
        lastRun: {
          id: first.id,
          status: 'running',
          startedAt: expect.stringMatching(ISO),
        },
      });
      // Another environment of the same entity is a different target.
      expect(targets.body.items[1]).toMatchObject({
        environment: 'prod',
        locked: false,
      });

      const logs = await c
        .api()
        .get(`${API}/runs/${first.id}/logs`)
        .set(as(USERS.erin));
      expect(logs.body).toEqual({
        lines: ['working'],
        next: 1,
        complete: false,
      });

      const cancelled = await c.cancel(first.id, USERS.sam);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.run).toMatchObject({
        id: first.id,
        status: 'cancelled',
        finishedAt: expect.stringMatching(ISO),
      });
      expect(dispatcher.cancelled).toContain(first.id);

      const after = await c
        .api()
        .get(`${API}/targets`)
        .query({ entityRef: ref('ledger') })
        .set(as(USERS.erin));
      expect(after.body.items[0]).toMatchObject({
        locked: false,
        lastRun: { id: first.id, status: 'cancelled' },
      });

      dispatcher.script(ref('ledger'), 'dev', () => ({
        lines: [event.result({ status: 'failed', error: 'x' })],
      }));
      await c.waitFor((await c.plan(ref('ledger'), 'dev')).id);
    });

    it('force-releases a lock by ending the run holding it, with a reason, audited as critical', async () => {
      dispatcher.script(ref('ledger'), 'dev', () => ({
        lines: [event.log('stuck')],
        hold: true,
      }));
      const stuck = await c.plan(ref('ledger'), 'dev');
      await c.waitFor(stuck.id, r => r.status === 'running');
      const release = (body: object) =>
        c
          .api()
          .post(`${API}/runs/${stuck.id}/release-lock`)
          .set(as(USERS.pat))
          .send(body);

      const hostile = [
        {},
        { reason: '' },
        { reason: 'x' },
        { reason: 'a\u0007b' },
        { reason: 'ok reason', force: true },
        // Reordered or split text in the run's history (Trojan Source).
        { reason: 'ok \u202ereason' },
        { reason: 'ok\u2028reason' },
      ];
      for (const bad of hostile) {
        expectError(await release(bad), 400, 'InputError');
      }
      expect((await c.getRun(stuck.id)).status).toBe('running');

      auditor.createEvent.mockClear();
      const res = await release({ reason: 'runner host lost; INC-4711' });
      expect(res.status).toBe(200);
      expect(res.body.run).toMatchObject({
        id: stuck.id,
        status: 'failed',
        error: `the lock was force-released by ${USERS.pat}: runner host lost; INC-4711`,
      });
      expect(dispatcher.cancelled).toContain(stuck.id);
      expect(auditor.createEvent).toHaveBeenCalledWith(
        expect.objectContaining({
          eventId: 'lock-force-release',
          severityLevel: 'critical',
          meta: {
            actor: USERS.pat,
            runId: stuck.id,
            reason: 'runner host lost; INC-4711',
          },
        }),
      );
      const history = await c
        .api()
        .get(`${API}/runs/${stuck.id}/history`)
        .set(as(USERS.erin));
      expect(history.body.items).toContainEqual(
        expect.objectContaining({
          actor: USERS.pat,
          action: 'lock-force-released',
          detail: { reason: 'runner host lost; INC-4711' },
        }),
      );
      const targets = await c
        .api()
        .get(`${API}/targets`)
        .query({ entityRef: ref('ledger') })
        .set(as(USERS.erin));
      expect(targets.body.items[0]).toMatchObject({
        environment: 'dev',
        locked: false,
      });
      expectError(
        await release({ reason: 'again please' }),
        409,
        'ConflictError',
        `run ${stuck.id} holds no lock`,
      );
    });

    it('cancels a queued run before its runner started, and stops the runner that starts late', async () => {
      const gate = deferred();
      dispatcher.script(ref('queue'), 'dev', () => ({
        lines: [event.log('late')],
        hold: true,
        dispatched: gate.promise,
      }));
      const run = await c.plan(ref('queue'), 'dev');
      expect((await c.getRun(run.id)).status).toBe('queued');

      const res = await c.cancel(run.id);
      expect(res.status).toBe(200);
      expect(res.body.run).toMatchObject({
        id: run.id,
        status: 'cancelled',
        error: `cancelled by ${USERS.erin}`,
      });

      gate.resolve();
      const deadline = Date.now() + 5000;
      while (!dispatcher.cancelled.includes(run.id) && Date.now() < deadline) {
        await sleep(20);
      }
      expect(dispatcher.cancelled).toContain(run.id);
      expect((await c.getRun(run.id)).status).toBe('cancelled');
    });

    it.each(['succeeded', 'failed'] as const)(
      'refuses to cancel a %s run (409)',
      async status => {
        dispatcher.script(ref('billing'), 'prod', job =>
          status === 'succeeded'
            ? {
                lines: [
                  event.result({
                    status,
                    commitSha: job.commitSha,
                    plan: { add: 0, change: 0, destroy: 0 },
                    changes: [],
                    planSha256: planFileSha(job.runId),
                  }),
                ],
              }
            : { lines: [event.result({ status, error: 'boom' })] },
        );
        const run = await c.waitFor((await c.plan(ref('billing'), 'prod')).id);
        expect(run.status).toBe(status);
        const res = await c.cancel(run.id);
        expectError(
          res,
          409,
          'ConflictError',
          `run ${run.id} is ${status}; only queued or running runs can be cancelled`,
        );
      },
    );

    it.each([
      ['cancel', (id: string) => c.cancel(id)],
      ['approve', (id: string) => c.approve(id, USERS.pat)],
      ['apply', (id: string) => c.apply(id)],
    ])('answers %s of an unknown run with 404', async (_, action) => {
      expectError(await action(UNKNOWN_RUN), 404, 'NotFoundError');
    });

    it.each([
      ['cancel', 'cancel'],
      ['approve', 'approve'],
      ['apply', 'apply'],
    ])('refuses a body on %s (400)', async (_, action) => {
      const res = await c
        .api()
        .post(`${API}/runs/${UNKNOWN_RUN}/${action}`)
        .set(as(USERS.erin))
        .send({ force: true });
      expectError(res, 400, 'InputError');
    });
  });

  describe('runs, logs and streams', () => {
    it('runs a plan to success with its summary and changes', async () => {
      const queued = await c.plan(ref('billing'), 'dev');
      const run = await c.waitFor(queued.id);
      expect(run).toEqual({
        ...queued,
        status: 'succeeded',
        startedAt: expect.stringMatching(ISO),
        finishedAt: expect.stringMatching(ISO),
        plan: { add: 2, change: 0, destroy: 1 },
        changes: PLAN_CHANGES,
      });
      // Internal fields stay inside the backend.
      for (const key of [
        'job',
        'lockKey',
        'planSha256',
        'dispatchHandle',
        'attachedBy',
        'repository',
        'path',
      ]) {
        expect(run).not.toHaveProperty(key);
      }
      expect(dispatcher.released).toContain(run.id);
    });

    it('serves logs in pages with next and complete', async () => {
      const lines = Array.from({ length: 1200 }, (_, i) => `line ${i + 1}`);
      dispatcher.script(ref('chatty'), 'dev', job => ({
        lines: [...lines.map(event.log), event.emptyPlanResult(job)],
        perPoll: 500,
      }));
      const run = await c.succeededPlan(ref('chatty'), 'dev');
      const get = (query: Record<string, string>) =>
        c
          .api()
          .get(`${API}/runs/${run.id}/logs`)
          .query(query)
          .set(as(USERS.erin));

      const first = await get({});
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        lines: lines.slice(0, 1000),
        next: 1000,
        complete: false,
      });
      const second = await get({ after: '1000' });
      expect(second.body).toEqual({
        lines: lines.slice(1000),
        next: 1200,
        complete: true,
      });
      expect((await get({ after: '1199' })).body).toEqual({
        lines: ['line 1200'],
        next: 1200,
        complete: true,
      });
      expect((await get({ after: '1200' })).body).toEqual({
        lines: [],
        next: 1200,
        complete: true,
      });

      for (const bad of ['-1', 'abc', '1.5', '9999999999']) {
        expectError(await get({ after: bad }), 400, 'InputError');
      }
      expectError(await get({ page: '2' }), 400, 'InputError');
      expectError(
        await c
          .api()
          .get(`${API}/runs/${UNKNOWN_RUN}/logs`)
          .set(as(USERS.erin)),
        404,
        'NotFoundError',
      );
      expectError(
        await c.api().get(`${API}/runs/not-a-uuid/logs`).set(as(USERS.erin)),
        400,
        'InputError',
      );
    });

    it('streams the lines of a finished run and ends with a complete event', async () => {
      const run = await c.succeededPlan(ref('billing'), 'dev');
      const res = await c.stream(
        `${API}/runs/${run.id}/logs/stream`,
        as(USERS.erin),
      );
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(parseEvents(res.body)).toEqual([
        { id: '1', event: 'message', data: `Checked out ${run.commitSha}` },
        {
          id: '2',
          event: 'message',
          data: 'Plan: 2 to add, 0 to change, 1 to destroy.',
        },
        { id: undefined, event: 'complete', data: { status: 'succeeded' } },
      ]);

      const resumed = await c.stream(`${API}/runs/${run.id}/logs/stream`, {
        ...as(USERS.erin),
        'Last-Event-ID': '1',
      });
      expect(parseEvents(resumed.body).map(e => e.data)).toEqual([
        'Plan: 2 to add, 0 to change, 1 to destroy.',
        { status: 'succeeded' },
      ]);
      // Nothing left of an ended run: 204 stops an EventSource reconnecting.
      const after = await c.stream(
        `${API}/runs/${run.id}/logs/stream?after=2`,
        as(USERS.erin),
      );
      expect(after.status).toBe(204);
      expect(after.body).toBe('');
    });

    it('streams the lines of a live run as they arrive', async () => {
      const lines = ['one', 'two\rthree', 'four', 'five', 'six'];
      dispatcher.script(ref('streamer'), 'dev', job => ({
        lines: [...lines.map(event.log), event.emptyPlanResult(job)],
        perPoll: 1,
      }));
      const run = await c.plan(ref('streamer'), 'dev');
      const res = await c.stream(
        `${API}/runs/${run.id}/logs/stream`,
        as(USERS.erin),
      );
      expect(res.status).toBe(200);
      expect(parseEvents(res.body)).toEqual([
        ...lines.map((line, i) => ({
          id: String(i + 1),
          event: 'message',
          data: line,
        })),
        { id: undefined, event: 'complete', data: { status: 'succeeded' } },
      ]);
    });

    it.each([
      [
        'an unknown run',
        `${API}/runs/${UNKNOWN_RUN}/logs/stream`,
        404,
        'NotFoundError',
      ],
      [
        'a bad Last-Event-ID',
        `${API}/runs/${UNKNOWN_RUN}/logs/stream`,
        400,
        'InputError',
      ],
    ])(
      'answers a stream of %s with a JSON error',
      async (what, path, status, name) => {
        const headers: Record<string, string> = as(USERS.erin);
        if (what === 'a bad Last-Event-ID') {
          headers['Last-Event-ID'] = 'x';
        }
        const res = await c.api().get(path).set(headers);
        expectError(res, status, name);
      },
    );

    it('answers GET /runs/:id for unknown and malformed ids', async () => {
      expectError(
        await c.api().get(`${API}/runs/${UNKNOWN_RUN}`).set(as(USERS.erin)),
        404,
        'NotFoundError',
      );
      expectError(
        await c.api().get(`${API}/runs/..%2f..%2fetc`).set(as(USERS.erin)),
        400,
        'InputError',
      );
    });
  });

  describe('runner output is never trusted', () => {
    it('fails a run whose runner exited without a result', async () => {
      dispatcher.script(ref('crashy'), 'dev', () => ({
        lines: [event.log('starting'), event.phase('init')],
      }));
      const run = await c.waitFor((await c.plan(ref('crashy'), 'dev')).id);
      expect(run).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(
          /the runner stopped without reporting a result \(fake runner ended\)/,
        ),
      });
      expect(run.plan).toBeUndefined();
    });

    it('fails a run whose runner was lost', async () => {
      dispatcher.script(ref('lost'), 'dev', () => ({
        lines: [],
        endState: 'lost',
      }));
      const run = await c.waitFor((await c.plan(ref('lost'), 'dev')).id);
      expect(run).toMatchObject({
        status: 'failed',
        error: expect.stringContaining('without reporting a result'),
      });
    });

    it('fails a run whose runner reports another commit', async () => {
      const other = 'f'.repeat(40);
      dispatcher.script(ref('liar'), 'dev', job => ({
        lines: [
          event.result({
            status: 'succeeded',
            commitSha: other,
            plan: { add: 1, change: 0, destroy: 0 },
            changes: [{ address: 'terraform_data.x', actions: ['create'] }],
            planSha256: planFileSha(job.runId),
          }),
        ],
      }));
      const run = await c.waitFor((await c.plan(ref('liar'), 'dev')).id);
      expect(run).toMatchObject({
        status: 'failed',
        error: `the runner reported commit ${other} instead of ${run.commitSha}`,
      });
      expect(run.plan).toBeUndefined();
      expect(run.changes).toBeUndefined();
      // A failed plan cannot be applied.
      expectError(
        await c.apply(run.id),
        409,
        'ConflictError',
        /only a succeeded plan/,
      );
    });

    it('fails a succeeded plan without its saved plan', async () => {
      dispatcher.script(ref('sloppy'), 'dev', job => ({
        lines: [
          event.result({
            status: 'succeeded',
            commitSha: job.commitSha,
            plan: { add: 0, change: 0, destroy: 0 },
            changes: [],
          }),
        ],
      }));
      const run = await c.waitFor((await c.plan(ref('sloppy'), 'dev')).id);
      expect(run).toMatchObject({
        status: 'failed',
        error: expect.stringContaining('without its summary or saved plan'),
      });
    });

    it('keeps malformed output as visible log lines and carries on', async () => {
      dispatcher.script(ref('noisy'), 'dev', job => ({
        lines: [
          'not json',
          event.log('fine'),
          JSON.stringify({ type: 'exec', command: 'rm -rf /' }),
          JSON.stringify({ type: 'log', line: 'sneaky', extra: true }),
          JSON.stringify({
            type: 'result',
            status: 'succeeded',
            commitSha: 'HEAD',
          }),
          'y'.repeat(10_000),
          '',
          'null',
          event.result({
            status: 'succeeded',
            commitSha: job.commitSha,
            plan: { add: 0, change: 1, destroy: 0 },
            changes: [{ address: 'terraform_data.x', actions: ['update'] }],
            planSha256: planFileSha(job.runId),
          }),
        ],
        perPoll: 3,
      }));
      const run = await c.waitFor((await c.plan(ref('noisy'), 'dev')).id);
      expect(run).toMatchObject({
        status: 'succeeded',
        plan: { add: 0, change: 1, destroy: 0 },
      });
      const logs = await c
        .api()
        .get(`${API}/runs/${run.id}/logs`)
        .set(as(USERS.erin));
      const prefix =
        '[sealed-runner backend] ignored malformed runner output: ';
      expect(logs.body).toEqual({
        lines: [
          `${prefix}not json`,
          'fine',
          `${prefix}{"type":"exec","command":"rm -rf /"}`,
          `${prefix}{"type":"log","line":"sneaky","extra":true}`,
          `${prefix}{"type":"result","status":"succeeded","commitSha":"HEAD"}`,
          `${prefix}${'y'.repeat(200)}`,
          prefix,
          `${prefix}null`,
        ],
        next: 8,
        complete: true,
      });
    });
  });

  describe('approvals and applies', () => {
    it('enforces four-eyes and the approvers list, then applies exactly the approved plan', async () => {
      const plan = await c.succeededPlan(ref('checkout'), 'prod');

      expectError(
        await c.apply(plan.id),
        409,
        'ConflictError',
        /needs 1 more approval from someone other than user:default\/erin/,
      );

      expectError(
        await c.approve(plan.id, USERS.erin),
        403,
        'NotAllowedError',
        /four-eyes/,
      );
      expectError(
        await c.approve(plan.id, USERS.sam),
        403,
        'NotAllowedError',
        /only group:default\/platform-team may approve plans for prod/,
      );
      const byService = await c
        .api()
        .post(`${API}/runs/${plan.id}/approve`)
        .set('Authorization', mockCredentials.service.header())
        .send({});
      expectError(
        byService,
        403,
        'NotAllowedError',
        /only people can approve plans: a service principal \(service:external:test-service\)/,
      );
      expect((await c.getRun(plan.id)).approvals).toEqual([]);

      // The requester's own refused approval did not count.
      expectError(
        await c.apply(plan.id),
        409,
        'ConflictError',
        /needs 1 more approval/,
      );

      const approved = await c.approve(plan.id, USERS.pat);
      expect(approved.status).toBe(200);
      expect(approved.body.run).toMatchObject({
        id: plan.id,
        status: 'succeeded',
        approvals: [{ by: USERS.pat, at: expect.stringMatching(ISO) }],
      });
      // Approving again changes nothing.
      expect(
        (await c.approve(plan.id, USERS.pat)).body.run.approvals,
      ).toHaveLength(1);

      const applied = await c.apply(plan.id);
      expect(applied.status).toBe(202);
      expect(applied.body.run).toMatchObject({
        operation: 'apply',
        status: 'queued',
        planRunId: plan.id,
        ref: 'main',
        commitSha: plan.commitSha,
        requestedBy: USERS.erin,
        approvals: [],
      });
      const applyId = applied.body.run.id;
      expect(dispatcher.jobsOf(applyId)).toMatchObject({
        operation: 'apply',
        runId: applyId,
        commitSha: plan.commitSha,
        ref: 'main',
        path: 'live/prod/checkout',
        plan: { runId: plan.id, sha256: planFileSha(plan.id) },
      });

      const done = await c.waitFor(applyId);
      expect(done).toMatchObject({
        status: 'succeeded',
        planRunId: plan.id,
        // The apply shows the changes of the plan it applied.
        plan: { add: 2, change: 0, destroy: 1 },
        changes: PLAN_CHANGES,
      });
      expect(await c.getRun(plan.id)).toMatchObject({ applyRunId: applyId });

      expectError(
        await c.apply(plan.id),
        409,
        'ConflictError',
        `already been applied by run ${applyId}`,
      );
      expectError(
        await c.approve(plan.id, USERS.pat),
        409,
        'ConflictError',
        /already been applied/,
      );
      // An apply run is not a plan.
      expectError(
        await c.apply(applyId),
        409,
        'ConflictError',
        /is an apply, not a plan/,
      );
      expectError(
        await c.approve(applyId, USERS.pat),
        409,
        'ConflictError',
        /is an apply, not a plan/,
      );
    });

    it('voids approvals of an older plan when a new plan of the target exists', async () => {
      const older = await c.succeededPlan(ref('invoices'), 'prod');
      expect((await c.approve(older.id, USERS.pat)).status).toBe(200);

      const newer = await c.succeededPlan(ref('invoices'), 'prod', {
        user: USERS.sam,
      });
      expect(newer.approvals).toEqual([]);
      expect(await c.getRun(older.id)).toMatchObject({
        supersededBy: newer.id,
      });

      expectError(
        await c.apply(older.id),
        409,
        'ConflictError',
        new RegExp(`stale: newer plan ${newer.id}`),
      );
      expectError(
        await c.approve(older.id, USERS.pat),
        409,
        'ConflictError',
        /stale/,
      );
      expectError(
        await c.apply(newer.id, USERS.sam),
        409,
        'ConflictError',
        /needs 1 more approval/,
      );
      expect(dispatcher.jobs.filter(j => j.plan?.runId === older.id)).toEqual(
        [],
      );
    });

    it('refuses to apply a plan whose branch has moved', async () => {
      const plan = await c.succeededPlan(ref('refunds'), 'prod');
      expect((await c.approve(plan.id, USERS.pat)).status).toBe(200);
      const moved = repo.commit('main');
      const res = await c.apply(plan.id);
      expectError(
        res,
        409,
        'ConflictError',
        `branch main moved since this plan (planned ${plan.commitSha.slice(
          0,
          12,
        )}, now ${moved.slice(0, 12)})`,
      );
      expect(dispatcher.jobs.filter(j => j.plan?.runId === plan.id)).toEqual(
        [],
      );
    });

    it('refuses to apply a plan whose branch was deleted', async () => {
      repo.commit('short-lived');
      const plan = await c.succeededPlan(ref('ephemeral'), 'dev', {
        ref: 'short-lived',
      });
      repo.deleteBranch('short-lived');
      expectError(
        await c.apply(plan.id),
        409,
        'ConflictError',
        /branch short-lived no longer exists/,
      );
    });

    it('refuses to approve (409) or apply (403) a branch that is not an apply branch of the environment', async () => {
      const plan = await c.succeededPlan(ref('reports'), 'prod', {
        ref: 'feature',
      });
      expectError(
        await c.approve(plan.id, USERS.pat),
        409,
        'ConflictError',
        'branch feature may not be applied to prod (apply branches: main); its plan cannot be approved',
      );
      expectError(
        await c.apply(plan.id),
        403,
        'NotAllowedError',
        'branch feature may not be applied to prod (apply branches: main)',
      );
    });

    it('applies any branch without approvals where the environment allows it', async () => {
      const plan = await c.succeededPlan(ref('sandbox'), 'dev', {
        ref: 'feature',
      });
      const res = await c.apply(plan.id);
      expect(res.status).toBe(202);
      expect(await c.waitFor(res.body.run.id)).toMatchObject({
        status: 'succeeded',
        ref: 'feature',
      });
    });
  });

  describe('GET /runs', () => {
    it('lists runs newest first, with filters and a limit', async () => {
      const a = await c.succeededPlan(ref('payments'), 'dev');
      dispatcher.script(ref('payments'), 'prod', () => ({
        lines: [event.result({ status: 'rejected', error: 'unvetted module' })],
      }));
      const b = await c.waitFor((await c.plan(ref('payments'), 'prod')).id);
      expect(b.status).toBe('rejected');
      const d = await c.succeededPlan(ref('payments'), 'dev');

      const list = async (query: Record<string, string>) => {
        const res = await c
          .api()
          .get(`${API}/runs`)
          .query(query)
          .set(as(USERS.erin));
        expect(res.status).toBe(200);
        return (res.body.items as Run[]).map(r => r.id);
      };
      expect(await list({ entityRef: ref('payments') })).toEqual([
        d.id,
        b.id,
        a.id,
      ]);
      expect(
        await list({ entityRef: ref('payments'), environment: 'dev' }),
      ).toEqual([d.id, a.id]);
      expect(
        await list({ entityRef: ref('payments'), status: 'rejected' }),
      ).toEqual([b.id]);
      expect(await list({ entityRef: ref('payments'), limit: '1' })).toEqual([
        d.id,
      ]);
      expect(await list({ entityRef: ref('nope') })).toEqual([]);
      expect((await list({ limit: '200' })).length).toBeGreaterThan(3);
      const all = await list({});
      expect(all.slice(0, 3)).toEqual([d.id, b.id, a.id]);
    });

    it.each([
      ['limit 0', { limit: '0' }],
      ['limit 201', { limit: '201' }],
      ['a negative limit', { limit: '-1' }],
      ['a non-numeric limit', { limit: 'ten' }],
      ['an unknown status', { status: 'done' }],
      ['a malformed entityRef', { entityRef: 'payments' }],
      ['an unknown parameter', { sort: 'asc' }],
      ['a repeated parameter', { environment: ['dev', 'prod'] }],
    ])('refuses %s (400)', async (_, query) => {
      const res = await c
        .api()
        .get(`${API}/runs`)
        .query(query)
        .set(as(USERS.erin));
      expectError(res, 400, 'InputError');
    });
  });

  describe('audit', () => {
    it('records plan, approve, apply and their outcomes', async () => {
      auditor.createEvent.mockClear();
      const plan = await c.succeededPlan(ref('audited'), 'prod');
      await c.approve(plan.id, USERS.erin);
      await c.approve(plan.id, USERS.pat);
      const apply = await c.waitFor((await c.apply(plan.id)).body.run.id);
      expect(apply.status).toBe('succeeded');

      const events = await Promise.all(
        auditor.createEvent.mock.calls.map(async ([options], i) => ({
          options,
          event: (await auditor.createEvent.mock.results[i].value) as {
            success: jest.Mock;
            fail: jest.Mock;
          },
        })),
      );
      const find = (eventId: string, meta: Record<string, unknown>) =>
        events.filter(
          e =>
            e.options.eventId === eventId &&
            Object.entries(meta).every(
              ([key, value]) => e.options.meta?.[key] === value,
            ),
        );

      const [planned] = find('run-plan', {
        actor: USERS.erin,
        entityRef: ref('audited'),
        environment: 'prod',
      });
      expect(planned.options).toMatchObject({
        severityLevel: 'medium',
        request: expect.anything(),
      });
      expect(planned.event.success).toHaveBeenCalledWith({
        meta: { runId: plan.id, commitSha: plan.commitSha },
      });

      const approvals = find('run-approve', { runId: plan.id });
      expect(approvals.map(e => e.options.meta!.actor)).toEqual([
        USERS.erin,
        USERS.pat,
      ]);
      expect(approvals.every(e => e.options.severityLevel === 'high')).toBe(
        true,
      );
      expect(approvals[0].event.fail).toHaveBeenCalledWith({
        error: expect.objectContaining({ name: 'NotAllowedError' }),
      });
      expect(approvals[0].event.success).not.toHaveBeenCalled();
      expect(approvals[1].event.success).toHaveBeenCalled();

      const [applied] = find('run-apply', {
        actor: USERS.erin,
        planRunId: plan.id,
      });
      expect(applied.options.severityLevel).toBe('high');
      expect(applied.event.success).toHaveBeenCalledWith({
        meta: {
          runId: apply.id,
          environment: 'prod',
          commitSha: plan.commitSha,
        },
      });

      const finished = find('run-finished', { entityRef: ref('audited') });
      expect(
        finished.map(e => [
          e.options.meta!.runId,
          e.options.meta!.operation,
          e.options.meta!.status,
        ]),
      ).toEqual([
        [plan.id, 'plan', 'succeeded'],
        [apply.id, 'apply', 'succeeded'],
      ]);
      expect(finished[1].options.severityLevel).toBe('high');
      expect(finished.every(e => e.event.success.mock.calls.length === 1)).toBe(
        true,
      );
    });
  });
});

type AskedPermission = { permission: { name: string }; resourceRef?: string };

/**
 * A permission service with rules like the demo policy's, so the tests can
 * see which permission each endpoint asks for and for which target: owners
 * read, plan and cancel their targets and apply dev; platform members do
 * everything and alone may approve and apply prod.
 */
function rulePermissionsFactory(
  owners: Record<string, string>,
  asked: AskedPermission[],
) {
  return createServiceFactory({
    service: coreServices.permissions,
    deps: {},
    factory: (): PermissionsService => ({
      async authorize(requests, options) {
        const { credentials } = options as {
          credentials: BackstageCredentials;
        };
        const principal = credentials.principal as {
          type: string;
          userEntityRef?: string;
        };
        const claims = principal.userEntityRef
          ? OWNERSHIP[principal.userEntityRef] ?? []
          : [];
        return requests.map(r => {
          asked.push(r);
          const target = parseTargetRef(
            (r as { resourceRef?: string }).resourceRef ?? '',
          );
          const owner = target && owners[target.entityRef];
          const isOwner = owner !== undefined && claims.includes(owner);
          const isPlatform = claims.includes(GROUPS.platform);
          const name = r.permission.name;
          let allowed = false;
          if (isPlatform) allowed = true;
          else if (name === 'sealed-runner.run.approve') allowed = false;
          else if (name === 'sealed-runner.run.apply')
            allowed = isOwner && target?.environment === 'dev';
          else allowed = isOwner;
          return {
            result: allowed ? AuthorizeResult.ALLOW : AuthorizeResult.DENY,
          };
        });
      },
      async authorizeConditional() {
        throw new Error('not used by the plugin');
      },
    }),
  });
}

describe('sealed-runner plugin (permissions)', () => {
  let repo: GitRepository;
  let server: Server;
  const asked: AskedPermission[] = [];
  const c = client(() => server);

  beforeAll(async () => {
    repo = GitRepository.create();
    const entities = [
      service('payments', repo.url),
      service('platform-tool', repo.url, { owner: GROUPS.platform }),
    ];
    const backend = await startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(new FakeDispatcher()),
        mockServices.rootConfig.factory({
          data: { sealedRunner: sealedRunnerConfig(repo.url) },
        }),
        mockServices.httpAuth.factory({
          defaultCredentials: mockCredentials.none(),
        }),
        rulePermissionsFactory(
          {
            [ref('payments')]: GROUPS.payments,
            [ref('platform-tool')]: GROUPS.platform,
          },
          asked,
        ),
        userInfoFactory,
        catalogServiceMock.factory({ entities }),
      ],
    });
    server = backend.server;
  });

  afterAll(() => repo?.remove());

  it('asks for the plan permission on the target and refuses non-owners (403)', async () => {
    asked.length = 0;
    expectError(
      await c.requestPlan(ref('payments'), 'prod', { user: USERS.quinn }),
      403,
      'NotAllowedError',
      'you may not plan component:default/payments in prod',
    );
    expect(asked).toEqual([
      expect.objectContaining({
        permission: expect.objectContaining({ name: 'sealed-runner.run.plan' }),
        resourceRef: `${ref('payments')}#prod`,
      }),
    ]);
    expectError(
      await c.requestPlan(ref('platform-tool'), 'dev'),
      403,
      'NotAllowedError',
      /you may not plan/,
    );
  });

  it('hides targets and runs the caller may not read', async () => {
    const plan = await c.succeededPlan(ref('payments'), 'dev');
    const targets = await c
      .api()
      .get(`${API}/targets`)
      .query({ entityRef: ref('payments') })
      .set(as(USERS.quinn));
    expect(targets.status).toBe(200);
    expect(targets.body).toEqual({ items: [] });
    const mine = await c
      .api()
      .get(`${API}/targets`)
      .query({ entityRef: ref('payments') })
      .set(as(USERS.erin));
    expect(
      mine.body.items.map((t: { environment: string }) => t.environment),
    ).toEqual(['dev', 'prod']);

    const runs = await c.api().get(`${API}/runs`).set(as(USERS.quinn));
    expect(runs.body).toEqual({ items: [] });
    const visible = await c.api().get(`${API}/runs`).set(as(USERS.erin));
    expect(visible.body.items.map((r: Run) => r.id)).toContain(plan.id);

    // A run the caller may not read does not exist for them: 404, without
    // revealing its entity or environment.
    for (const path of [
      `/runs/${plan.id}`,
      `/runs/${plan.id}/logs`,
      `/runs/${plan.id}/logs/stream`,
      `/runs/${plan.id}/history`,
    ]) {
      expectError(
        await c.api().get(`${API}${path}`).set(as(USERS.quinn)),
        404,
        'NotFoundError',
        `run ${plan.id} does not exist`,
      );
    }
    for (const action of ['approve', 'apply', 'cancel']) {
      expectError(
        await c
          .api()
          .post(`${API}/runs/${plan.id}/${action}`)
          .set(as(USERS.quinn))
          .send({}),
        404,
        'NotFoundError',
        `run ${plan.id} does not exist`,
      );
    }
  });

  it('lets owners apply dev but only platform members approve and apply prod', async () => {
    const dev = await c.succeededPlan(ref('payments'), 'dev');
    const devApply = await c.apply(dev.id, USERS.sam);
    expect(devApply.status).toBe(202);
    await c.waitFor(devApply.body.run.id);

    const prod = await c.succeededPlan(ref('payments'), 'prod');
    asked.length = 0;
    expectError(
      await c.approve(prod.id, USERS.sam),
      403,
      'NotAllowedError',
      'you may not approve plans of component:default/payments in prod',
    );
    expect(asked.map(a => a.permission.name)).toEqual([
      'sealed-runner.run.read',
      'sealed-runner.run.approve',
    ]);
    expect((await c.approve(prod.id, USERS.pat)).status).toBe(200);

    expectError(
      await c.apply(prod.id, USERS.erin),
      403,
      'NotAllowedError',
      'you may not apply component:default/payments in prod',
    );
    const applied = await c.apply(prod.id, USERS.pat);
    expect(applied.status).toBe(202);
    expect(applied.body.run).toMatchObject({
      requestedBy: USERS.pat,
      planRunId: prod.id,
    });
    await c.waitFor(applied.body.run.id);
  });

  it('asks for the cancel permission', async () => {
    const plan = await c.succeededPlan(ref('platform-tool'), 'dev', {
      user: USERS.pat,
    });
    asked.length = 0;
    // erin may not read platform-tool's runs at all: for her it does not exist.
    expectError(await c.cancel(plan.id, USERS.erin), 404, 'NotFoundError');
    // pat may; the run has ended, so it is a state conflict.
    expectError(await c.cancel(plan.id, USERS.pat), 409, 'ConflictError');
    expect(asked.map(a => a.permission.name)).toEqual([
      'sealed-runner.run.read',
      'sealed-runner.run.read',
      'sealed-runner.run.cancel',
    ]);
  });
});

describe('sealed-runner plugin (everything denied)', () => {
  let repo: GitRepository;
  let server: Server;
  const c = client(() => server);

  beforeAll(async () => {
    repo = GitRepository.create();
    const backend = await startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(new FakeDispatcher()),
        mockServices.rootConfig.factory({
          data: { sealedRunner: sealedRunnerConfig(repo.url) },
        }),
        mockServices.permissions.factory({ result: AuthorizeResult.DENY }),
        userInfoFactory,
        catalogServiceMock.factory({
          entities: [service('payments', repo.url)],
        }),
      ],
    });
    server = backend.server;
  });

  afterAll(() => repo?.remove());

  it('refuses a plan (403) and shows nothing', async () => {
    expectError(
      await c.requestPlan(ref('payments'), 'dev'),
      403,
      'NotAllowedError',
      'you may not plan component:default/payments in dev',
    );
    const targets = await c
      .api()
      .get(`${API}/targets`)
      .query({ entityRef: ref('payments') })
      .set(as(USERS.erin));
    expect(targets.body).toEqual({ items: [] });
    const runs = await c.api().get(`${API}/runs`).set(as(USERS.erin));
    expect(runs.body).toEqual({ items: [] });
  });

  it('still answers health', async () => {
    expect((await c.api().get(`${API}/health`)).body).toEqual({ status: 'ok' });
  });
});
