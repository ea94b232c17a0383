import { mockServices } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import type {
  CatalogProcessorCache,
  CatalogProcessorResult,
  LocationSpec,
} from '@backstage/plugin-catalog-node';
import type {
  ModuleUsage,
  TargetOwner,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import type { TargetOwnerSource } from '../services/TargetOwnerSource/types';
import type { ModuleUsageSource } from '../services/ModuleUsageSource/types';
import { SealedRunnerEntityProcessor } from './SealedRunnerEntityProcessor';

const LOCATION: LocationSpec = {
  type: 'url',
  target: 'https://github.com/acme/payments/blob/main/catalog-info.yaml',
};
const REPO = 'https://github.com/acme/infrastructure-live.git';
const TTL = 60_000;
const MODULE = 'component:default/web-service-module';

function usage(environment: string, moduleRefs: string[]): ModuleUsage {
  return {
    environment,
    runId: `run-${environment}`,
    commitSha: 'a'.repeat(40),
    source:
      'git::https://github.com/acme/service-catalog.git//modules/web-service',
    version: 'v1.1.0',
    moduleRefs,
  };
}

function component(
  name: string,
  annotations: Record<string, string>,
  type = 'service',
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, annotations },
    spec: { type, owner: 'team-a', lifecycle: 'production' },
  };
}

const payments = component('payments', {
  'sealed-runner.io/repository': REPO,
  'sealed-runner.io/target.dev': 'live/dev/payments',
  'sealed-runner.io/target.prod': 'live/prod/payments',
});

/** A module usage source whose answers the test scripts, like a fake gate. */
class FakeModuleUsageSource implements ModuleUsageSource {
  readonly calls: string[] = [];
  answer: (entityRef: string) => Promise<ModuleUsage[]> = async () => [];

  async listModuleUsage(entityRef: string) {
    this.calls.push(entityRef);
    return this.answer(entityRef);
  }
}

/** The per-entity processor cache as the catalog keeps it between runs. */
class FakeProcessorCache implements CatalogProcessorCache {
  readonly values = new Map<string, unknown>();
  async get(key: string) {
    return this.values.get(key) as never;
  }
  async set(key: string, value: unknown) {
    this.values.set(key, value);
  }
}

/** The gate's answer to "who owns the targets of this repository". */
class FakeTargetOwnerSource implements TargetOwnerSource {
  owners: TargetOwner[] = [];
  fails = false;
  readonly calls: string[] = [];

  async listTargetOwners(repository: string) {
    this.calls.push(repository);
    if (this.fails) {
      throw new Error('gate unavailable');
    }
    return this.owners;
  }
}

function setup(
  options: { maxEntries?: number; targetOwners?: TargetOwnerSource } = {},
) {
  const source = new FakeModuleUsageSource();
  const logger = mockServices.logger.mock();
  const clock = { now: 1_000_000 };
  const processor = new SealedRunnerEntityProcessor({
    rules: {
      environments: ['dev', 'prod'],
      repositories: ['https://github.com/acme/*'],
    },
    moduleUsage: source,
    targetOwners: options.targetOwners,
    logger,
    cacheTtlMs: TTL,
    cacheMaxEntries: options.maxEntries,
    now: () => clock.now,
  });
  const process = async (
    entity: Entity,
    cache: CatalogProcessorCache = new FakeProcessorCache(),
  ) => {
    const emitted: CatalogProcessorResult[] = [];
    const result = await processor.postProcessEntity(
      entity,
      LOCATION,
      r => emitted.push(r),
      cache,
    );
    expect(result).toBe(entity);
    return emitted;
  };
  return { source, logger, clock, processor, process };
}

function relationsOf(emitted: CatalogProcessorResult[]) {
  return emitted.flatMap(r =>
    r.type === 'relation'
      ? [
          `${r.relation.source.kind}:${r.relation.source.namespace}/${r.relation.source.name} ${r.relation.type} ${r.relation.target.kind}:${r.relation.target.namespace}/${r.relation.target.name}`,
        ]
      : [],
  );
}

function errorsOf(emitted: CatalogProcessorResult[]) {
  return emitted.flatMap(r =>
    r.type === 'error'
      ? [{ name: r.error.name, message: r.error.message, location: r.location }]
      : [],
  );
}

describe('SealedRunnerEntityProcessor', () => {
  describe('one folder, one owner', () => {
    const shadow = component('erin-shadow', {
      'sealed-runner.io/repository': REPO,
      'sealed-runner.io/target.dev': 'live/dev/erin-shadow',
      'sealed-runner.io/target.prod': 'live/prod/payments',
    });

    it("refuses an entity declaring another entity's folder, naming the owner", async () => {
      const owners = new FakeTargetOwnerSource();
      owners.owners = [
        {
          environment: 'prod',
          path: 'live/prod/payments',
          entityRef: 'component:default/payments',
        },
        {
          environment: 'dev',
          path: 'live/dev/payments',
          entityRef: 'component:default/payments',
        },
      ];
      const { process } = setup({ targetOwners: owners });
      expect(errorsOf(await process(shadow))).toEqual([
        {
          name: 'InputError',
          message: `sealed-runner.io/target.prod: live/prod/payments of ${REPO} in prod is already the target of component:default/payments; a folder belongs to one entity`,
          location: LOCATION,
        },
      ]);
      expect(owners.calls).toEqual([REPO]);
    });

    it('accepts the owner itself, in any case of its ref', async () => {
      const owners = new FakeTargetOwnerSource();
      owners.owners = [
        {
          environment: 'prod',
          path: 'live/prod/payments',
          entityRef: 'Component:default/payments',
        },
      ];
      const { process } = setup({ targetOwners: owners });
      expect(errorsOf(await process(payments))).toEqual([]);
    });

    it('reports nothing when the gate cannot answer (the gate refuses the target itself)', async () => {
      const owners = new FakeTargetOwnerSource();
      owners.fails = true;
      const { process, logger } = setup({ targetOwners: owners });
      expect(errorsOf(await process(shadow))).toEqual([]);
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringContaining('gate unavailable'),
      );
    });

    it('does not ask the gate about an entity with annotation problems or no targets', async () => {
      const owners = new FakeTargetOwnerSource();
      const { process } = setup({ targetOwners: owners });
      await process(component('plain', {}));
      await process(
        component('bad', {
          'sealed-runner.io/repository': REPO,
          'sealed-runner.io/target.dev': '../x',
        }),
      );
      expect(owners.calls).toEqual([]);
    });
  });

  it('is named for the catalog', () => {
    expect(setup().processor.getProcessorName()).toBe(
      'SealedRunnerEntityProcessor',
    );
  });

  describe('annotation problems', () => {
    it('emits one input error per problem, at the entity location, without asking the gate', async () => {
      const { source, process } = setup();
      const emitted = await process(
        component('evil', {
          'sealed-runner.io/repository': '--upload-pack=x',
          'sealed-runner.io/target.dev': '../../etc',
          'sealed-runner.io/target.staging': 'live/staging',
          'sealed-runner.io/targte.prod': 'live/prod',
        }),
      );
      expect(errorsOf(emitted)).toEqual([
        {
          name: 'InputError',
          message: expect.stringMatching(
            /^sealed-runner\.io\/repository: .*must not start with '-'/,
          ),
          location: LOCATION,
        },
        {
          name: 'InputError',
          message:
            'sealed-runner.io/target.dev: path "../../etc" must not contain \'..\' segments',
          location: LOCATION,
        },
        {
          name: 'InputError',
          message:
            'sealed-runner.io/target.staging: environment "staging" is not configured in sealedRunner.environments (configured: dev, prod)',
          location: LOCATION,
        },
        {
          name: 'InputError',
          message: expect.stringMatching(
            /^unknown annotation sealed-runner\.io\/targte\.prod; did you mean sealed-runner\.io\/target\.prod\?/,
          ),
          location: LOCATION,
        },
      ]);
      expect(relationsOf(emitted)).toEqual([]);
      expect(source.calls).toEqual([]);
    });

    it('emits nothing for an entity without sealed-runner annotations', async () => {
      const { source, process } = setup();
      expect(await process(component('plain', {}))).toEqual([]);
      expect(source.calls).toEqual([]);
    });

    it('checks module entities without asking the gate about them', async () => {
      const { source, process } = setup();
      const emitted = await process(
        component(
          'web-service-module',
          {
            'sealed-runner.io/module-source':
              'git::https://github.com/acme/service-catalog.git//modules/web-service',
            'sealed-runner.io/module-versions': 'v1.0.0, v1.1.0',
          },
          'terraform-module',
        ),
      );
      expect(emitted).toEqual([]);
      expect(source.calls).toEqual([]);
    });
  });

  describe('module relations', () => {
    it('relates the entity to each module its targets use, both ways', async () => {
      const { source, process } = setup();
      source.answer = async () => [
        usage('dev', [MODULE]),
        usage('prod', [MODULE, 'component:default/db-module']),
      ];
      const emitted = await process(payments);
      expect(source.calls).toEqual(['component:default/payments']);
      expect(errorsOf(emitted)).toEqual([]);
      expect(relationsOf(emitted)).toEqual([
        'Component:default/payments dependsOn component:default/web-service-module',
        'component:default/web-service-module dependencyOf Component:default/payments',
        'Component:default/payments dependsOn component:default/db-module',
        'component:default/db-module dependencyOf Component:default/payments',
      ]);
    });

    it('ignores refs from the gate that are not entity refs, and the entity itself', async () => {
      const { source, process } = setup();
      source.answer = async () => [
        usage('dev', [
          'web-service-module',
          '',
          'component:default/payments',
          'Component:Default/Web-Service-Module',
        ]),
      ];
      expect(relationsOf(await process(payments))).toEqual([
        'Component:default/payments dependsOn component:default/web-service-module',
        'component:default/web-service-module dependencyOf Component:default/payments',
      ]);
    });

    it('relates at most 200 modules, whatever the gate answers', async () => {
      const { source, process } = setup();
      source.answer = async () => [
        usage(
          'dev',
          Array.from({ length: 5000 }, (_, i) => `component:default/m${i}`),
        ),
      ];
      expect(relationsOf(await process(payments))).toHaveLength(400);
    });

    it('emits no relations when no plan has reported modules yet', async () => {
      const { source, process } = setup();
      source.answer = async () => [];
      expect(await process(payments)).toEqual([]);
    });

    it('emits no relations and no error when the gate fails', async () => {
      const { source, logger, process } = setup();
      source.answer = async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:7007');
      };
      expect(await process(payments)).toEqual([]);
      expect(logger.warn).toHaveBeenCalledTimes(1);
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /^Could not read the modules used by component:default\/payments from the sealed-runner gate; no module relations until it answers: Error: connect ECONNREFUSED/,
        ),
      );
    });
  });

  describe('caching', () => {
    it('asks the gate at most once per entity per TTL', async () => {
      const { source, clock, process } = setup();
      source.answer = async () => [usage('dev', [MODULE])];
      await process(payments);
      clock.now += TTL - 1;
      expect(relationsOf(await process(payments))).toHaveLength(2);
      expect(source.calls).toHaveLength(1);

      source.answer = async () => [
        usage('dev', ['component:default/other-module']),
      ];
      clock.now += 1;
      expect(relationsOf(await process(payments))).toEqual([
        'Component:default/payments dependsOn component:default/other-module',
        'component:default/other-module dependencyOf Component:default/payments',
      ]);
      expect(source.calls).toHaveLength(2);
    });

    it('keeps serving the last good answer while the gate fails, warning once per TTL', async () => {
      const { source, logger, clock, process } = setup();
      source.answer = async () => [usage('dev', [MODULE])];
      await process(payments);

      source.answer = async () => {
        throw new Error('Request failed with 503 Service Unavailable');
      };
      for (let i = 0; i < 5; i++) {
        clock.now += TTL / 2;
        expect(relationsOf(await process(payments))).toEqual([
          'Component:default/payments dependsOn component:default/web-service-module',
          'component:default/web-service-module dependencyOf Component:default/payments',
        ]);
      }
      // t = 0.5, 1.0, 1.5, 2.0, 2.5 TTL: the failed answer is kept for a TTL
      // too, so the gate is asked at 1.0 and 2.0 only.
      expect(source.calls).toHaveLength(3);
      expect(logger.warn).toHaveBeenCalledTimes(2);
      expect(logger.warn).toHaveBeenLastCalledWith(
        expect.stringMatching(
          /keeping the dependsOn relations of its last answer: .*503 Service Unavailable/,
        ),
      );

      source.answer = async () => [];
      clock.now += TTL;
      expect(relationsOf(await process(payments))).toEqual([]);
    });

    it('falls back to the relations of the last processing run after a restart', async () => {
      const cache = new FakeProcessorCache();
      const before = setup();
      before.source.answer = async () => [usage('dev', [MODULE])];
      await before.process(payments, cache);
      expect(cache.values.get('moduleRefs')).toEqual([MODULE]);

      const after = setup();
      after.source.answer = async () => {
        throw new Error('gate is starting');
      };
      expect(relationsOf(await after.process(payments, cache))).toEqual([
        'Component:default/payments dependsOn component:default/web-service-module',
        'component:default/web-service-module dependencyOf Component:default/payments',
      ]);
    });

    it('ignores a processor cache value that is not a list of refs', async () => {
      const cache = new FakeProcessorCache();
      await cache.set('moduleRefs', { evil: true });
      const { source, process } = setup();
      source.answer = async () => {
        throw new Error('down');
      };
      expect(await process(payments, cache)).toEqual([]);
    });

    it('forgets the least recently used entities beyond its size bound', async () => {
      const { source, process } = setup({ maxEntries: 2 });
      source.answer = async () => [usage('dev', [MODULE])];
      const orders = component('orders', payments.metadata.annotations!);
      const billing = component('billing', payments.metadata.annotations!);
      await process(payments);
      await process(orders);
      await process(payments); // payments is now the most recently used
      await process(billing); // evicts orders
      await process(payments);
      await process(orders);
      expect(source.calls).toEqual([
        'component:default/payments',
        'component:default/orders',
        'component:default/billing',
        'component:default/orders',
      ]);
    });

    it('asks the gate once for concurrent processing of the same entity', async () => {
      const { source, process } = setup();
      let release = () => {};
      source.answer = () =>
        new Promise(resolve => {
          release = () => resolve([usage('dev', [MODULE])]);
        });
      const first = process(payments);
      const second = process(payments);
      await new Promise(resolve => setImmediate(resolve));
      release();
      const [a, b] = await Promise.all([first, second]);
      expect(relationsOf(a)).toHaveLength(2);
      expect(relationsOf(b)).toHaveLength(2);
      expect(source.calls).toHaveLength(1);
    });
  });
});
