/*
 * The gate with the real permission framework: the permission backend, the
 * demo app's own policy (packages/backend), and this plugin's registered
 * resource type, rules and resource loader, which the permission backend
 * calls to resolve conditional (owner) decisions.
 *
 * `@backstage/plugin-permission-backend` is a dependency of packages/backend,
 * not of this plugin; it resolves here through the workspace. Declaring it
 * as a devDependency of this plugin would make that explicit.
 */
import {
  coreServices,
  createServiceFactory,
  HttpAuthService,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import permissionPlugin from '@backstage/plugin-permission-backend';
import {
  Run,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { Server } from 'node:http';
import request from 'supertest';
// The demo app's real policy, exercised through this plugin's resource loader.
// eslint-disable-next-line @backstage/no-relative-monorepo-imports
import { sealedRunnerPermissionPolicyModule } from '../../../packages/backend/src/modules/permissionPolicy';
import {
  event,
  FakeDispatcher,
  fakeDispatcherModule,
} from './__testUtils__/FakeDispatcher';
import { GitRepository } from './__testUtils__/gitRepository';
import {
  GROUPS,
  sealedRunnerConfig,
  service,
  userInfoFactory,
  USERS,
} from './__testUtils__/world';
import { sealedRunnerPlugin } from './plugin';

jest.setTimeout(60_000);

const API = '/api/sealed-runner';
const as = (user: string) => ({
  Authorization: mockCredentials.user.header(user),
});
const ref = (name: string) => `component:default/${name}`;

/**
 * The mock httpAuth, except that an on-behalf-of token keeps its calling
 * plugin as the actor, as real Backstage tokens do. The permission backend
 * calls this plugin's apply-conditions endpoint with such a token, and the
 * endpoint refuses plain user credentials; the stock mock drops the actor.
 */
const httpAuthWithActors = createServiceFactory({
  service: coreServices.httpAuth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }): HttpAuthService {
    const inner = mockServices.httpAuth({
      pluginId: plugin.getId(),
      defaultCredentials: mockCredentials.none(),
    });
    return {
      credentials: (async (
        req: Parameters<HttpAuthService['credentials']>[0],
        options?: object,
      ) => {
        const credentials = await inner.credentials(req, options);
        const onBehalfOf = /^Bearer mock-service-token:/.test(
          req.headers.authorization ?? '',
        );
        const principal = credentials.principal as {
          type: string;
          userEntityRef?: string;
        };
        if (
          onBehalfOf &&
          principal.type === 'user' &&
          principal.userEntityRef
        ) {
          const { userEntityRef } = principal;
          return mockCredentials.user(userEntityRef, {
            actor: { subject: 'plugin:permission' },
          });
        }
        return credentials;
      }) as HttpAuthService['credentials'],
      issueUserCookie: (res, options) => inner.issueUserCookie(res, options),
    };
  },
});

describe('sealed-runner plugin with the permission backend and the demo policy', () => {
  let repo: GitRepository;
  let server: Server;
  const dispatcher = new FakeDispatcher();
  const api = () => request(server);

  beforeAll(async () => {
    repo = GitRepository.create();
    const backend = await startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(dispatcher),
        permissionPlugin,
        sealedRunnerPermissionPolicyModule,
        mockServices.rootConfig.factory({
          data: {
            permission: { enabled: true },
            sealedRunnerPolicy: {
              platformGroups: [GROUPS.platform],
              breakGlassGroups: [GROUPS.platform],
            },
            sealedRunner: sealedRunnerConfig(repo.url),
          },
        }),
        httpAuthWithActors,
        userInfoFactory,
        catalogServiceMock.factory({
          entities: [
            service('payments', repo.url),
            service('platform-tool', repo.url, { owner: GROUPS.platform }),
          ],
        }),
      ],
    });
    server = backend.server;
  });

  afterAll(() => repo?.remove());

  const requestPlan = (name: string, environment: string, user: string) =>
    api()
      .post(`${API}/runs`)
      .set(as(user))
      .send({ entityRef: ref(name), environment, operation: 'plan' });

  async function waitFor(id: string): Promise<Run> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await api().get(`${API}/runs/${id}`).set(as(USERS.quinn));
      expect(res.status).toBe(200);
      if (
        TERMINAL_RUN_STATUSES.includes(res.body.run.status) ||
        Date.now() > deadline
      ) {
        return res.body.run;
      }
      await new Promise(resolve => setTimeout(resolve, 50));
    }
  }

  function expectDenied(res: request.Response, message: string) {
    expect({ status: res.status, body: res.body }).toEqual({
      status: 403,
      body: expect.objectContaining({
        error: expect.objectContaining({ name: 'NotAllowedError', message }),
        response: { statusCode: 403 },
      }),
    });
  }

  it('lets owners plan their targets (a conditional decision resolved by this plugin)', async () => {
    const res = await requestPlan('payments', 'prod', USERS.erin);
    expect(res.status).toBe(202);
    expect(await waitFor(res.body.run.id)).toMatchObject({
      status: 'succeeded',
    });
  });

  it.each([
    ['a user who owns nothing', 'payments', USERS.quinn],
    ['an owner of another entity', 'platform-tool', USERS.erin],
  ])('refuses a plan by %s (403)', async (_, name, user) => {
    expectDenied(
      await requestPlan(name, 'dev', user),
      `you may not plan ${ref(name)} in dev`,
    );
  });

  it('lets platform members plan anything', async () => {
    const res = await requestPlan('platform-tool', 'dev', USERS.pat);
    expect(res.status).toBe(202);
    await waitFor(res.body.run.id);
  });

  it('lets every signed-in user read targets and runs', async () => {
    const targets = await api()
      .get(`${API}/targets`)
      .query({ entityRef: ref('payments') })
      .set(as(USERS.quinn));
    expect(targets.status).toBe(200);
    expect(
      targets.body.items.map((t: { environment: string }) => t.environment),
    ).toEqual(['dev', 'prod']);
    const runs = await api()
      .get(`${API}/runs`)
      .query({ entityRef: ref('payments') })
      .set(as(USERS.quinn));
    expect(runs.status).toBe(200);
    expect(runs.body.items.length).toBeGreaterThan(0);
  });

  it('runs the four-eyes prod flow: owners plan and apply, only platform members approve', async () => {
    const planned = await requestPlan('payments', 'prod', USERS.erin);
    expect(planned.status).toBe(202);
    const plan = await waitFor(planned.body.run.id);
    expect(plan.status).toBe('succeeded');

    const approve = (user: string) =>
      api().post(`${API}/runs/${plan.id}/approve`).set(as(user)).send({});
    expectDenied(
      await approve(USERS.sam),
      `you may not approve plans of ${ref('payments')} in prod`,
    );
    expectDenied(
      await approve(USERS.quinn),
      `you may not approve plans of ${ref('payments')} in prod`,
    );
    // The policy lets the platform approve; the gate still refuses the requester.
    const own = await api()
      .post(`${API}/runs/${plan.id}/approve`)
      .set(as(USERS.erin))
      .send({});
    expect(own.status).toBe(403);
    expect((await approve(USERS.pat)).status).toBe(200);

    const apply = (user: string) =>
      api().post(`${API}/runs/${plan.id}/apply`).set(as(user)).send({});
    expectDenied(
      await apply(USERS.quinn),
      `you may not apply ${ref('payments')} in prod`,
    );
    const applied = await apply(USERS.erin);
    expect(applied.status).toBe(202);
    expect(await waitFor(applied.body.run.id)).toMatchObject({
      status: 'succeeded',
      planRunId: plan.id,
    });
  });

  it('lets owners but not others cancel a run', async () => {
    dispatcher.script(ref('payments'), 'dev', () => ({
      lines: [event.log('working')],
      hold: true,
    }));
    const planned = await requestPlan('payments', 'dev', USERS.erin);
    expect(planned.status).toBe(202);
    const id = planned.body.run.id;
    const cancel = (user: string) =>
      api().post(`${API}/runs/${id}/cancel`).set(as(user)).send({});
    expectDenied(
      await cancel(USERS.quinn),
      `you may not cancel runs of ${ref('payments')} in dev`,
    );
    const res = await cancel(USERS.sam);
    expect(res.status).toBe(200);
    expect(res.body.run.status).toBe('cancelled');
  });

  it('lets only break-glass groups (platform-team in the demo) open and use a break-glass session', async () => {
    const body = {
      entityRef: ref('payments'),
      environment: 'prod',
      reason: 'payments down, hotfix for INC-4711',
    };
    expectDenied(
      await api().post(`${API}/break-glass`).set(as(USERS.erin)).send(body),
      `you may not use break-glass on ${ref('payments')} in prod`,
    );
    const opened = await api()
      .post(`${API}/break-glass`)
      .set(as(USERS.pat))
      .send(body);
    expect(opened.status).toBe(201);
    const session = opened.body.session;

    // Everyone who may read the target sees it; only holders close it.
    const listed = await api()
      .get(`${API}/break-glass`)
      .query({ active: 'true' })
      .set(as(USERS.quinn));
    expect(listed.body.items.map((s: { id: string }) => s.id)).toContain(
      session.id,
    );
    expectDenied(
      await api()
        .post(`${API}/break-glass/${session.id}/close`)
        .set(as(USERS.erin))
        .send({}),
      `you may not use break-glass on ${ref('payments')} in prod`,
    );

    // Pat applies his own plan without an approval; Erin still needs one.
    const erins = await waitFor(
      (
        await requestPlan('payments', 'prod', USERS.erin)
      ).body.run.id,
    );
    const erinApply = await api()
      .post(`${API}/runs/${erins.id}/apply`)
      .set(as(USERS.erin))
      .send({});
    expect(erinApply.status).toBe(409);
    const pats = await waitFor(
      (
        await requestPlan('payments', 'prod', USERS.pat)
      ).body.run.id,
    );
    const patApply = await api()
      .post(`${API}/runs/${pats.id}/apply`)
      .set(as(USERS.pat))
      .send({});
    expect(patApply.status).toBe(202);
    expect(patApply.body.run.breakGlass).toEqual({
      sessionId: session.id,
      openedBy: USERS.pat,
      reason: body.reason,
    });
    expect(await waitFor(patApply.body.run.id)).toMatchObject({
      status: 'succeeded',
    });

    const closed = await api()
      .post(`${API}/break-glass/${session.id}/close`)
      .set(as(USERS.pat))
      .send({});
    expect(closed.status).toBe(200);
  });

  it('lets only platform members force-release a lock, not the target owners', async () => {
    dispatcher.script(ref('payments'), 'dev', () => ({
      lines: [event.log('stuck')],
      hold: true,
    }));
    const planned = await requestPlan('payments', 'dev', USERS.erin);
    expect(planned.status).toBe(202);
    const id = planned.body.run.id;
    const release = (user: string) =>
      api()
        .post(`${API}/runs/${id}/release-lock`)
        .set(as(user))
        .send({ reason: 'runner lost' });
    expectDenied(
      await release(USERS.erin),
      `you may not force-release the lock of ${ref('payments')} in dev`,
    );
    const res = await release(USERS.pat);
    expect(res.status).toBe(200);
    expect(res.body.run).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('runner lost'),
    });
  });
});
