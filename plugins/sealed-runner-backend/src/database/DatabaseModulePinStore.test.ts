import {
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { DatabaseModulePinStore } from './DatabaseModulePinStore';

jest.setTimeout(60_000);

const SOURCE =
  'git::https://github.com/acme/service-catalog.git//modules/web-service';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

async function setup(databaseId: TestDatabaseId) {
  const knex = await databases.init(databaseId);
  return DatabaseModulePinStore.create({
    database: mockServices.database({ knex }),
  });
}

describe.each(databases.eachSupportedId())(
  'DatabaseModulePinStore (%s)',
  databaseId => {
    it('keeps the first commit a tag was seen at: a moved tag does not move the pin', async () => {
      const store = await setup(databaseId);
      const first = await store.pin({
        source: SOURCE,
        tag: 'v1.1.0',
        commitSha: A,
        origin: 'resolved',
        now: '2026-01-01T00:00:00.000Z',
      });
      expect(first).toEqual({
        pin: {
          source: SOURCE,
          tag: 'v1.1.0',
          commitSha: A,
          origin: 'resolved',
          pinnedAt: '2026-01-01T00:00:00.000Z',
        },
      });
      const moved = await store.pin({
        source: SOURCE,
        tag: 'v1.1.0',
        commitSha: B,
        origin: 'resolved',
        now: '2026-02-01T00:00:00.000Z',
      });
      expect(moved.pin.commitSha).toBe(A);
      expect(moved.replaced).toBeUndefined();
      expect(
        await store.listPins({ source: SOURCE, tags: ['v1.1.0', 'v9'] }),
      ).toEqual([first.pin]);
    });

    it('lets a pin the catalog names replace one, reporting the replaced commit once', async () => {
      const store = await setup(databaseId);
      await store.pin({
        source: SOURCE,
        tag: 'v1.0.0',
        commitSha: A,
        origin: 'resolved',
        now: '2026-01-01T00:00:00.000Z',
      });
      const named = await store.pin({
        source: SOURCE,
        tag: 'v1.0.0',
        commitSha: B,
        origin: 'catalog',
        now: '2026-03-01T00:00:00.000Z',
      });
      expect(named.pin).toMatchObject({ commitSha: B, origin: 'catalog' });
      expect(named.replaced).toMatchObject({
        commitSha: A,
        origin: 'resolved',
      });
      const again = await store.pin({
        source: SOURCE,
        tag: 'v1.0.0',
        commitSha: B,
        origin: 'catalog',
        now: '2026-04-01T00:00:00.000Z',
      });
      expect(again).toEqual({ pin: named.pin });
    });

    it('settles 20 concurrent first pins of one tag on one commit', async () => {
      const store = await setup(databaseId);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.pin({
            source: SOURCE,
            tag: 'v2',
            commitSha: i % 2 ? A : B,
            origin: 'resolved',
            now: new Date().toISOString(),
          }),
        ),
      );
      expect(new Set(results.map(r => r.pin.commitSha)).size).toBe(1);
      expect(
        await store.listPins({ source: SOURCE, tags: ['v2'] }),
      ).toHaveLength(1);
    });

    it('lists nothing for no tags', async () => {
      const store = await setup(databaseId);
      expect(await store.listPins({ source: SOURCE, tags: [] })).toEqual([]);
    });
  },
);
