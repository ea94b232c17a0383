import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModulePinStore } from '../../database/DatabaseModulePinStore';
import { createModulePinService } from './createModulePinService';

const SOURCE =
  'git::https://github.com/acme/service-catalog.git//modules/web-service';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

async function setup(tags: Record<string, string>) {
  const knex = await databases.init('SQLITE_3');
  const auditor = mockServices.auditor.mock();
  const logger = mockServices.logger.mock();
  const resolveTags = jest.fn(async () => new Map(Object.entries(tags)));
  const service = createModulePinService({
    store: await DatabaseModulePinStore.create({
      database: mockServices.database({ knex }),
    }),
    resolveTags,
    auditor,
    logger,
  });
  return { service, auditor, logger, resolveTags, tags };
}

describe('createModulePinService', () => {
  it('pins unpinned tags once, with one ls-remote per module, and audits each first pin', async () => {
    const { service, auditor, resolveTags } = await setup({
      'v1.0.0': A,
      'v1.1.0': B,
    });
    const module = { source: SOURCE, versions: ['v1.0.0', 'v1.1.0'] };
    expect(await service.pinned([module])).toEqual([
      { ...module, commits: { 'v1.0.0': A, 'v1.1.0': B } },
    ]);
    expect(resolveTags).toHaveBeenCalledTimes(1);
    expect(resolveTags).toHaveBeenCalledWith(
      'https://github.com/acme/service-catalog.git',
    );
    expect(auditor.createEvent).toHaveBeenCalledTimes(2);
    await service.pinned([module]);
    expect(resolveTags).toHaveBeenCalledTimes(1);
  });

  it('keeps the pin when the tag moves', async () => {
    const { service, tags } = await setup({ 'v1.0.0': A });
    await service.pinned([{ source: SOURCE, versions: ['v1.0.0'] }]);
    tags['v1.0.0'] = C;
    expect(
      (await service.pinned([{ source: SOURCE, versions: ['v1.0.0'] }]))[0]
        .commits,
    ).toEqual({ 'v1.0.0': A });
  });

  it('takes the commit the catalog names over a recorded one, audited as a changed pin', async () => {
    const { service, auditor } = await setup({ 'v1.0.0': A });
    await service.pinned([{ source: SOURCE, versions: ['v1.0.0'] }]);
    const named = await service.pinned([
      { source: SOURCE, versions: ['v1.0.0'], commits: { 'v1.0.0': C } },
    ]);
    expect(named[0].commits).toEqual({ 'v1.0.0': C });
    expect(auditor.createEvent).toHaveBeenCalledWith(
      expect.objectContaining({
        eventId: 'module-pin-changed',
        severityLevel: 'high',
        meta: expect.objectContaining({
          tag: 'v1.0.0',
          commitSha: C,
          previousCommitSha: A,
        }),
      }),
    );
  });

  it('leaves a tag the repository does not have, or cannot be read, unpinned and says so', async () => {
    const { service, logger, resolveTags } = await setup({});
    expect(
      await service.pinned([{ source: SOURCE, versions: ['v9'] }]),
    ).toEqual([{ source: SOURCE, versions: ['v9'] }]);
    resolveTags.mockRejectedValueOnce(new Error('unreachable'));
    expect(
      await service.pinned([{ source: SOURCE, versions: ['v9'] }]),
    ).toEqual([{ source: SOURCE, versions: ['v9'] }]);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining('unreachable'),
    );
  });
});
