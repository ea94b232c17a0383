import {
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { DatabaseTargetClaimStore } from './DatabaseTargetClaimStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const claim = (lockKey: string, entityRef: string) => ({
  lockKey,
  entityRef,
  environment: 'prod',
  repository: 'github.com/acme/live',
  path: 'live/prod/payments',
  now: new Date().toISOString(),
});

async function setup(databaseId: TestDatabaseId) {
  const knex = await databases.init(databaseId);
  return DatabaseTargetClaimStore.create({
    database: mockServices.database({ knex }),
  });
}

describe.each(databases.eachSupportedId())(
  'DatabaseTargetClaimStore (%s)',
  databaseId => {
    it('gives a target to its first claimant only, whoever claims after', async () => {
      const store = await setup(databaseId);
      expect(
        (await store.claim(claim('k1', 'component:default/payments')))
          .entityRef,
      ).toBe('component:default/payments');
      expect(
        (await store.claim(claim('k1', 'component:default/erin-shadow')))
          .entityRef,
      ).toBe('component:default/payments');
      expect(await store.getClaim({ lockKey: 'k1' })).toMatchObject({
        entityRef: 'component:default/payments',
      });
      expect(await store.getClaim({ lockKey: 'unknown' })).toBeUndefined();
    });

    it('settles 20 concurrent claims on one owner', async () => {
      const store = await setup(databaseId);
      const owners = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.claim(claim('k2', `component:default/e${i}`)),
        ),
      );
      expect(new Set(owners.map(o => o.entityRef)).size).toBe(1);
    });

    it('moves a claim only from the owner it names (compare and swap)', async () => {
      const store = await setup(databaseId);
      await store.claim(claim('k3', 'component:default/old'));
      expect(
        await store.transfer({
          lockKey: 'k3',
          from: 'component:default/someone',
          to: 'component:default/x',
          now: 'n',
        }),
      ).toBe(false);
      expect(
        await store.transfer({
          lockKey: 'k3',
          from: 'component:default/old',
          to: 'component:default/new',
          now: 'n',
        }),
      ).toBe(true);
      expect(
        await store.transfer({
          lockKey: 'k3',
          from: 'component:default/old',
          to: 'component:default/third',
          now: 'n',
        }),
      ).toBe(false);
      expect(await store.getClaim({ lockKey: 'k3' })).toMatchObject({
        entityRef: 'component:default/new',
      });
    });

    it('lists the claims of one repository', async () => {
      const store = await setup(databaseId);
      await store.claim(claim('k4', 'component:default/a'));
      await store.claim({
        ...claim('k5', 'component:default/b'),
        repository: 'github.com/acme/other',
      });
      expect(
        (await store.listClaims({ repository: 'github.com/acme/live' })).map(
          c => c.lockKey,
        ),
      ).toEqual(['k4']);
    });
  },
);
