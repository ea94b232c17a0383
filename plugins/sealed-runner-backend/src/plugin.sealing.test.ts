import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from 'node:http';
import { AuditorService } from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  ServiceMock,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  Run,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { fixtureGit } from '@sealed-runner/demo';
import request from 'supertest';
import {
  FakeDispatcher,
  fakeDispatcherModule,
} from './__testUtils__/FakeDispatcher';
import { GitRepository } from './__testUtils__/gitRepository';
import {
  GROUPS,
  sealedRunnerConfig,
  service,
  terraformModule,
  userInfoFactory,
  USERS,
} from './__testUtils__/world';
import { sealedRunnerPlugin } from './plugin';

/*
 * The gate's part of sealing the runner: one folder, one owner (an entity
 * cannot claim another's folder, lock it, supersede its plans or void its
 * approvals); deployable entities only from the platform team's catalog
 * locations; vetted versions pinned to commits.
 */

jest.setTimeout(60_000);

const API = '/api/sealed-runner';
const as = (user: string) => ({
  Authorization: mockCredentials.user.header(user),
});
const ORIGIN = 'backstage.io/managed-by-origin-location';
const PLATFORM_LOCATION =
  'url:https://git.example.com/acme/catalog/blob/main/catalog-info.yaml';
const REVIEW_LOCATIONS = 'url:https://git.example.com/acme/live/*';

function from(location: string, entity: Entity): Entity {
  return {
    ...entity,
    metadata: {
      ...entity.metadata,
      annotations: { ...entity.metadata.annotations, [ORIGIN]: location },
    },
  };
}

/** A module repository with tags v1.0.0 and v1.1.0, whose tags can be moved. */
function moduleRepository() {
  const root = mkdtempSync(join(tmpdir(), 'sealed-runner-modules-'));
  const work = join(root, 'work');
  fixtureGit(
    root,
    'init',
    '--quiet',
    '--bare',
    '--initial-branch=main',
    'catalog.git',
  );
  fixtureGit(root, 'clone', '--quiet', join(root, 'catalog.git'), 'work');
  const commit = (text: string) => {
    writeFileSync(join(work, 'main.tf'), `# ${text}\n`);
    fixtureGit(work, 'add', 'main.tf');
    fixtureGit(work, 'commit', '--quiet', '-m', text);
    return fixtureGit(work, 'rev-parse', 'HEAD');
  };
  const tag = (name: string) => {
    fixtureGit(work, 'tag', '--force', '-a', '-m', name, name);
    fixtureGit(
      work,
      'push',
      '--quiet',
      '--force',
      'origin',
      'HEAD:refs/heads/main',
      `refs/tags/${name}`,
    );
  };
  const tags: Record<string, string> = {};
  tags['v1.0.0'] = commit('v1.0.0');
  tag('v1.0.0');
  tags['v1.1.0'] = commit('v1.1.0');
  tag('v1.1.0');
  return {
    source: `git::file://${join(root, 'catalog.git')}//modules/web-service`,
    tags,
    /** Force-moves a tag to a new commit, as a module author could. */
    move(name: string) {
      const moved = commit(`moved ${name}`);
      tag(name);
      return moved;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

describe('sealed-runner plugin: sealing', () => {
  let repo: GitRepository;
  let modules: ReturnType<typeof moduleRepository>;
  let dispatcher: FakeDispatcher;
  let auditor: ServiceMock<AuditorService>;
  let server: Server;
  let pinnedModules: ReturnType<typeof moduleRepository>;
  const api = () => request(server);

  async function finished(id: string): Promise<Run> {
    for (let i = 0; i < 400; i++) {
      const res = await api().get(`${API}/runs/${id}`).set(as(USERS.erin));
      if (TERMINAL_RUN_STATUSES.includes(res.body.run.status)) {
        return res.body.run;
      }
      await new Promise(resolve => setTimeout(resolve, 25));
    }
    throw new Error(`run ${id} did not end`);
  }

  const plan = (entityRef: string, environment: string) =>
    api()
      .post(`${API}/runs`)
      .set(as(USERS.erin))
      .send({ entityRef, environment, operation: 'plan' });
  const targets = async (entityRef: string) =>
    (await api().get(`${API}/targets`).query({ entityRef }).set(as(USERS.erin)))
      .body.items;

  beforeAll(async () => {
    repo = GitRepository.create();
    modules = moduleRepository();
    pinnedModules = moduleRepository();
    dispatcher = new FakeDispatcher();
    auditor = mockServices.auditor.mock();
    const config = sealedRunnerConfig(repo.url);
    const entities = [
      from(PLATFORM_LOCATION, service('payments', repo.url)),
      // Registered by Erin from a review branch: an allowed location, but
      // it declares payments' folders.
      from(
        'url:https://git.example.com/acme/live/blob/feature/shadow.yaml',
        service('erin-shadow', repo.url, {
          annotations: {
            'sealed-runner.io/target.dev': 'live/dev/payments',
            'sealed-runner.io/target.prod': 'live/prod/payments',
          },
        }),
      ),
      from(
        'url:https://git.example.com/acme/live/blob/feature/orders.yaml',
        service('orders', repo.url),
      ),
      from(
        'url:https://evil.example.com/catalog-info.yaml',
        service('outsider', repo.url),
      ),
      from(
        PLATFORM_LOCATION,
        terraformModule(
          'web-service-module',
          GROUPS.platform,
          modules.source,
          'v1.0.0, v1.1.0',
        ),
      ),
      from(
        PLATFORM_LOCATION,
        terraformModule(
          'pinned-module',
          GROUPS.platform,
          pinnedModules.source,
          `v1.0.0@${pinnedModules.tags['v1.0.0']}, v1.1.0`,
        ),
      ),
    ];
    const backend = await startTestBackend({
      features: [
        sealedRunnerPlugin,
        fakeDispatcherModule(dispatcher),
        mockServices.rootConfig.factory({
          data: {
            sealedRunner: {
              ...config,
              targets: { locations: [PLATFORM_LOCATION, REVIEW_LOCATIONS] },
            },
          },
        }),
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

  afterAll(() => {
    repo?.remove();
    modules?.remove();
    pinnedModules?.remove();
  });

  describe('one folder, one owner', () => {
    it("refuses the shadow entity's targets, naming the owner — even when it is the first to ask", async () => {
      // Nobody has looked at payments yet: the owner is the entity from the
      // more trusted location, not whoever asks first.
      const shadow = await targets('component:default/erin-shadow');
      expect(shadow).toEqual([
        expect.objectContaining({
          environment: 'dev',
          deployable: false,
          reason: `live/dev/payments of ${repo.url} in dev is the target of component:default/payments: a folder belongs to one entity`,
        }),
        expect.objectContaining({
          environment: 'prod',
          deployable: false,
          reason: `live/prod/payments of ${repo.url} in prod is the target of component:default/payments: a folder belongs to one entity`,
        }),
      ]);
      expect(
        (await targets('component:default/payments')).map(
          (t: { deployable: boolean }) => t.deployable,
        ),
      ).toEqual([true, true]);
    });

    it("cannot supersede, lock or void the approval of the owner's approved prod plan", async () => {
      const planned = await plan('component:default/payments', 'prod');
      expect(planned.status).toBe(202);
      expect((await finished(planned.body.run.id)).status).toBe('succeeded');
      const approved = await api()
        .post(`${API}/runs/${planned.body.run.id}/approve`)
        .set(as(USERS.pat))
        .send({});
      expect(approved.status).toBe(200);

      for (let i = 0; i < 3; i++) {
        const shadow = await plan('component:default/erin-shadow', 'prod');
        expect(shadow.status).toBe(409);
        expect(shadow.body.error.message).toContain(
          'is the target of component:default/payments',
        );
      }
      const run = await api()
        .get(`${API}/runs/${planned.body.run.id}`)
        .set(as(USERS.erin));
      expect(run.body.run.supersededBy).toBeUndefined();
      expect(run.body.run.approvals).toHaveLength(1);
      const apply = await api()
        .post(`${API}/runs/${planned.body.run.id}/apply`)
        .set(as(USERS.erin))
        .send({});
      expect(apply.status).toBe(202);
      expect((await finished(apply.body.run.id)).status).toBe('succeeded');
    });

    it('lets an entity from an allowed review location deploy its own folders', async () => {
      expect(
        (await targets('component:default/orders')).every(
          (t: { deployable: boolean }) => t.deployable,
        ),
      ).toBe(true);
    });

    it('refuses every target of an entity from a location the platform team does not allow', async () => {
      expect(await targets('component:default/outsider')).toEqual([
        expect.objectContaining({
          deployable: false,
          reason:
            'the entity comes from catalog location url:https://evil.example.com/catalog-info.yaml, which is not in sealedRunner.targets.locations',
        }),
        expect.objectContaining({ deployable: false }),
      ]);
      expect((await plan('component:default/outsider', 'dev')).status).toBe(
        409,
      );
    });

    it('tells backend plugins (not users) who owns the targets of a repository, in any spelling of it', async () => {
      const asUser = await api()
        .get(`${API}/target-owners`)
        .query({ repository: repo.url })
        .set(as(USERS.pat));
      expect(asUser.status).toBe(403);
      const spelled = repo.url
        .replace(/\.git$/, '')
        .toUpperCase()
        .replace('FILE://', 'file://');
      const res = await api()
        .get(`${API}/target-owners`)
        .query({ repository: spelled })
        .set({ Authorization: mockCredentials.service.header() });
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual(
        expect.arrayContaining([
          {
            environment: 'dev',
            path: 'live/dev/payments',
            entityRef: 'component:default/payments',
          },
          {
            environment: 'prod',
            path: 'live/prod/payments',
            entityRef: 'component:default/payments',
          },
        ]),
      );
      expect(
        res.body.items.map((o: { entityRef: string }) => o.entityRef),
      ).not.toContain('component:default/erin-shadow');
    });

    it.each([['https://'], ['--upload-pack=x'], ['file:///etc/../x'], ['']])(
      'refuses a repository query %j with 400',
      async repository => {
        const res = await api()
          .get(`${API}/target-owners`)
          .query({ repository })
          .set({ Authorization: mockCredentials.service.header() });
        expect(res.status).toBe(400);
      },
    );
  });

  describe('vetted versions are commits', () => {
    const jobModules = async () => {
      const res = await plan('component:default/orders', 'dev');
      expect(res.status).toBe(202);
      await finished(res.body.run.id);
      return dispatcher.jobsOf(res.body.run.id)!.modules;
    };

    it('pins each vetted tag to its commit the first time it sees it vetted, and says so in the audit trail', async () => {
      const job = await jobModules();
      expect(job.find(m => m.source === modules.source)).toEqual({
        source: modules.source,
        versions: ['v1.0.0', 'v1.1.0'],
        commits: modules.tags,
      });
      expect(auditor.createEvent).toHaveBeenCalledWith(
        expect.objectContaining({
          eventId: 'module-pinned',
          meta: expect.objectContaining({
            source: modules.source,
            tag: 'v1.1.0',
            commitSha: modules.tags['v1.1.0'],
          }),
        }),
      );
    });

    it('keeps the vetted commit when the tag is moved: the runner will refuse the moved tag', async () => {
      const moved = modules.move('v1.1.0');
      expect(moved).not.toBe(modules.tags['v1.1.0']);
      const job = await jobModules();
      expect(job.find(m => m.source === modules.source)?.commits).toEqual(
        modules.tags,
      );
    });

    it('takes the commit the module entity names over the tag, and pins the rest on first sight', async () => {
      const moved = pinnedModules.move('v1.0.0');
      const job = await jobModules();
      expect(job.find(m => m.source === pinnedModules.source)?.commits).toEqual(
        {
          'v1.0.0': pinnedModules.tags['v1.0.0'],
          'v1.1.0': pinnedModules.tags['v1.1.0'],
        },
      );
      expect(moved).not.toBe(pinnedModules.tags['v1.0.0']);
    });
  });
});
