import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import {
  createMockDirectory,
  mockServices,
  startTestBackend,
  TestBackend,
} from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import type { AlphaEntity } from '@backstage/catalog-model/alpha';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import type { ModuleUsage } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { catalogModuleSealedRunner } from './module';

jest.setTimeout(90_000);

const MODULE_SOURCE =
  'git::https://github.com/acme/service-catalog.git//modules/web-service';
const REPO = 'https://github.com/acme/infrastructure-live.git';

function component(
  name: string,
  annotations: Record<string, string>,
  type = 'service',
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, annotations },
    spec: { type, owner: 'group:default/platform', lifecycle: 'production' },
  };
}

const webServiceModule = component(
  'web-service-module',
  {
    'sealed-runner.io/module-source': MODULE_SOURCE,
    'sealed-runner.io/module-versions': 'v1.0.0, v1.1.0',
  },
  'terraform-module',
);
const payments = component('payments', {
  'sealed-runner.io/repository': REPO,
  'sealed-runner.io/target.dev': 'live/dev/payments',
});
const orders = (target: string) =>
  component('orders', {
    'sealed-runner.io/repository': REPO,
    'sealed-runner.io/target.dev': target,
  });
const evil = component('evil', {
  'sealed-runner.io/repository': REPO,
  'sealed-runner.io/target.dev': '../../etc',
});

/** What the fake gate knows: module usage per entity ref; others are 404. */
const USAGE: Record<string, ModuleUsage[]> = {
  'component:default/payments': [
    {
      environment: 'dev',
      runId: '5f0c7a1e-0000-4000-8000-000000000001',
      commitSha: 'a'.repeat(40),
      source: MODULE_SOURCE,
      version: 'v1.1.0',
      moduleRefs: ['component:default/web-service-module'],
    },
  ],
};

/**
 * A stand-in for the sealed-runner gate plugin: just `GET /modules`, with
 * the gate's authentication of service callers.
 */
function fakeGate(calls: Array<{ entityRef: unknown; subject: string }>) {
  return createBackendPlugin({
    pluginId: 'sealed-runner',
    register(env) {
      env.registerInit({
        deps: {
          httpRouter: coreServices.httpRouter,
          httpAuth: coreServices.httpAuth,
        },
        async init({ httpRouter, httpAuth }) {
          httpRouter.use(async (req, res, next) => {
            if (req.method !== 'GET' || req.path !== '/modules') {
              next();
              return;
            }
            try {
              const credentials = await httpAuth.credentials(req, {
                allow: ['service'],
              });
              const entityRef = req.query.entityRef;
              calls.push({ entityRef, subject: credentials.principal.subject });
              const items =
                typeof entityRef === 'string' ? USAGE[entityRef] : undefined;
              if (!items) {
                res.status(404).json({
                  error: { name: 'NotFoundError', message: 'unknown entity' },
                  response: { statusCode: 404 },
                });
                return;
              }
              res.json({ items });
            } catch (error) {
              next(error);
            }
          });
        },
      });
    },
  });
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

describe('catalogModuleSealedRunner', () => {
  const mockDir = createMockDirectory();
  let backend: TestBackend | undefined;

  afterEach(async () => {
    await backend?.stop();
    backend = undefined;
  });

  function writeCatalog(entities: Entity[]) {
    mockDir.setContent({
      'catalog-info.yaml': entities.map(e => JSON.stringify(e)).join('\n---\n'),
    });
  }

  async function start() {
    const calls: Array<{ entityRef: unknown; subject: string }> = [];
    backend = await startTestBackend({
      features: [
        catalogPlugin,
        catalogModuleSealedRunner,
        fakeGate(calls),
        mockServices.rootConfig.factory({
          data: {
            catalog: {
              locations: [
                { type: 'file', target: mockDir.resolve('catalog-info.yaml') },
              ],
              rules: [{ allow: ['Component', 'Location'] }],
            },
            sealedRunner: {
              repositories: ['https://github.com/acme/*'],
              environments: {
                dev: { applyBranches: ['*'], requiredApprovals: 0 },
              },
            },
          },
        }),
      ],
    });
    const { port } = backend.server.address() as { port: number };
    const api = `http://localhost:${port}/api/catalog`;
    const getEntity = async (name: string) => {
      const res = await fetch(
        `${api}/entities/by-name/component/default/${name}`,
      );
      return res.status === 200
        ? ((await res.json()) as AlphaEntity)
        : undefined;
    };
    return { api, calls, getEntity };
  }

  it('relates a deployable entity to the module its targets use, as the gate reports', async () => {
    writeCatalog([webServiceModule, payments]);
    const { calls, getEntity } = await start();

    const related = await waitFor(
      'payments to depend on the module',
      async () => {
        const entity = await getEntity('payments');
        return entity?.relations?.some(
          r =>
            r.type === 'dependsOn' &&
            r.targetRef === 'component:default/web-service-module',
        )
          ? entity
          : undefined;
      },
    );
    expect(related.relations).toContainEqual({
      type: 'dependsOn',
      targetRef: 'component:default/web-service-module',
    });

    const module = await waitFor(
      'the module to show its dependent',
      async () => {
        const entity = await getEntity('web-service-module');
        return entity?.relations?.some(r => r.type === 'dependencyOf')
          ? entity
          : undefined;
      },
    );
    expect(module.relations).toContainEqual({
      type: 'dependencyOf',
      targetRef: 'component:default/payments',
    });
    expect(module.status?.items ?? []).toEqual([]);

    // The catalog asked the gate as itself, and only about deployable entities.
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call).toEqual({
        entityRef: 'component:default/payments',
        subject: 'plugin:catalog',
      });
    }
  });

  it('refuses entities with hostile annotations with a processing error', async () => {
    writeCatalog([payments, orders('live/dev/orders'), evil]);
    const { api, getEntity } = await start();

    // A valid entity is ingested; an entity whose target leaves the
    // repository never is.
    const before = await waitFor('orders to be ingested', () =>
      getEntity('orders'),
    );
    expect(before.status?.items ?? []).toEqual([]);
    await waitFor('payments to be ingested', () => getEntity('payments'));
    expect(await getEntity('evil')).toBeUndefined();

    // The catalog's own validation endpoint runs the processors and says why.
    const validation = await fetch(`${api}/validate-entity`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        entity: evil,
        location:
          'url:https://github.com/acme/evil/blob/main/catalog-info.yaml',
      }),
    });
    expect(validation.status).toBe(400);
    expect(await validation.json()).toEqual({
      errors: [
        expect.objectContaining({
          name: 'InputError',
          message:
            'sealed-runner.io/target.dev: path "../../etc" must not contain \'..\' segments',
        }),
      ],
    });

    // An ingested entity edited to a hostile target keeps its last good
    // version, and shows the error in its status.
    writeCatalog([payments, orders('../../etc'), evil]);
    const refresh = await fetch(`${api}/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ entityRef: 'component:default/orders' }),
    });
    expect(refresh.status).toBe(200);
    const after = await waitFor('the processing error on orders', async () => {
      const entity = await getEntity('orders');
      return entity?.status?.items?.length ? entity : undefined;
    });
    expect(after.metadata.annotations?.['sealed-runner.io/target.dev']).toBe(
      'live/dev/orders',
    );
    expect(after.status?.items).toEqual([
      expect.objectContaining({
        type: 'backstage.io/catalog-processing',
        level: 'error',
        message:
          'InputError: sealed-runner.io/target.dev: path "../../etc" must not contain \'..\' segments',
      }),
    ]);
  });
});
