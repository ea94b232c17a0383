import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  FakeDispatcher,
  fakeDispatcherModule,
} from './__testUtils__/FakeDispatcher';
import { GitRepository } from './__testUtils__/gitRepository';
import { sealedRunnerConfig, userInfoFactory } from './__testUtils__/world';
import { sealedRunnerPlugin } from './plugin';

/*
 * The dispatcher receives every signed job: a backend module may not take
 * over a built-in runner type unless the platform team says so by name.
 */
describe('sealed-runner plugin (a module replacing a built-in runner)', () => {
  let repo: GitRepository;
  beforeAll(() => {
    repo = GitRepository.create();
  });
  afterAll(() => repo?.remove());

  const start = (runner: object, logger = mockServices.logger.mock()) =>
    startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(new FakeDispatcher(), 'local'),
        mockServices.rootConfig.factory({
          data: {
            sealedRunner: {
              ...sealedRunnerConfig(repo.url),
              runner: {
                type: 'local',
                reconcileIntervalSeconds: 3600,
                ...runner,
              },
            },
          },
        }),
        logger.factory,
        userInfoFactory,
        catalogServiceMock.factory({ entities: [] }),
      ],
    });

  it('refuses to start when a module registers the built-in local runner', async () => {
    await expect(start({})).rejects.toThrow(
      /A backend module registered a dispatcher for the built-in runner type 'local'; it would receive every signed job\. Set sealedRunner\.runner\.allowReplacingBuiltIn: true/,
    );
  });

  it('starts with allowReplacingBuiltIn, and says so at warn', async () => {
    const logger = mockServices.logger.mock();
    const backend = await start({ allowReplacingBuiltIn: true }, logger);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^SECURITY: the built-in 'local' runner is replaced by a backend module's dispatcher \(sealedRunner\.runner\.allowReplacingBuiltIn: true\)/,
      ),
    );
    await backend.stop();
  });
});
