import { Entity } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import { readSealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  lockKeyOf,
  readCatalogModules,
  resolveTargets,
} from './resolveTargets';

const REPO = 'https://git.example.com/acme/live.git';

// Through the real config parser, as the plugin reads it.
const config = readSealedRunnerConfig(
  new ConfigReader({
    sealedRunner: {
      repositories: [REPO, 'https://git.example.com/other/*'],
      environments: {
        dev: { applyBranches: ['*'], requiredApprovals: 0 },
        prod: {
          applyBranches: ['main'],
          requiredApprovals: 1,
          approvers: ['group:default/platform-team'],
        },
      },
    },
  }),
);

function entity(
  annotations: Record<string, string>,
  overrides: Partial<Entity> = {},
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'payments', namespace: 'default', annotations },
    spec: { type: 'service' },
    ...overrides,
  };
}

const NO_REPOSITORY = Symbol('no repository annotation');

const target = (
  env: string,
  path: string,
  repository: string | typeof NO_REPOSITORY = REPO,
) =>
  entity({
    ...(repository !== NO_REPOSITORY
      ? { 'sealed-runner.io/repository': repository }
      : {}),
    [`sealed-runner.io/target.${env}`]: path,
  });

describe('lockKeyOf', () => {
  it.each([
    ['https://git.example.com/acme/live', REPO],
    ['https://GIT.example.com/Acme/live.git', REPO],
    ['git@git.example.com:acme/live.git', REPO],
    ['ssh://git@git.example.com/acme/live', REPO],
  ])(
    'makes %s the same target as %s: one folder, one lock and one owner',
    (spelled, canonical) => {
      expect(lockKeyOf('prod', spelled, 'live/prod/payments')).toBe(
        lockKeyOf('prod', canonical, 'live/prod/payments'),
      );
    },
  );

  it('keeps environments, folders and repositories apart', () => {
    const keys = [
      lockKeyOf('prod', REPO, 'live/prod/payments'),
      lockKeyOf('dev', REPO, 'live/prod/payments'),
      lockKeyOf('prod', REPO, 'live/prod/Payments'),
      lockKeyOf(
        'prod',
        'https://git.example.com/acme/live2.git',
        'live/prod/payments',
      ),
    ];
    expect(new Set(keys).size).toBe(4);
  });
});

describe('resolveTargets: sealedRunner.targets.locations', () => {
  const withLocations = readSealedRunnerConfig(
    new ConfigReader({
      sealedRunner: {
        repositories: [REPO],
        environments: {
          prod: { applyBranches: ['main'], requiredApprovals: 1 },
        },
        targets: { locations: ['url:https://git.example.com/acme/catalog/*'] },
      },
    }),
  );
  const from = (origin?: string) =>
    entity({
      'sealed-runner.io/repository': REPO,
      'sealed-runner.io/target.prod': 'live/prod/payments',
      ...(origin ? { 'backstage.io/managed-by-origin-location': origin } : {}),
    });

  it('lets an entity from an allowed location deploy', () => {
    expect(
      resolveTargets(
        from('url:https://git.example.com/acme/catalog/blob/main/x.yaml'),
        withLocations,
      )[0],
    ).toMatchObject({
      deployable: true,
    });
  });

  it.each([
    ['another location', 'url:https://git.example.com/erin/catalog/x.yaml'],
    [
      'a look-alike prefix',
      'url:https://git.example.com/acme/catalog-evil/x.yaml',
    ],
    ['no recorded location', undefined],
  ])(
    'refuses every target of an entity from %s, naming the location',
    (_, origin) => {
      const [resolved] = resolveTargets(from(origin), withLocations);
      expect(resolved).toMatchObject({
        deployable: false,
        reason: `the entity comes from catalog location ${
          origin ?? '(none recorded)'
        }, which is not in sealedRunner.targets.locations`,
      });
      expect(resolved.lockKey).toBeUndefined();
    },
  );
});

describe('resolveTargets', () => {
  it('resolves a deployable target with its environment config and lock key', () => {
    const [resolved, ...rest] = resolveTargets(
      target('prod', 'live/prod/payments'),
      config,
    );
    expect(rest).toEqual([]);
    expect(resolved).toMatchObject({
      entityRef: 'component:default/payments',
      environment: 'prod',
      repository: REPO,
      path: 'live/prod/payments',
      environmentConfig: config.environments.prod,
      deployable: true,
      lockKey: lockKeyOf('prod', REPO, 'live/prod/payments'),
    });
    expect(resolved.reason).toBeUndefined();
    expect(resolved.lockKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a repository matched by an allowlist prefix', () => {
    const [resolved] = resolveTargets(
      target('dev', 'live/dev', 'https://git.example.com/other/live.git'),
      config,
    );
    expect(resolved).toMatchObject({ deployable: true });
  });

  it.each<[string, Entity, RegExp]>([
    [
      'no repository annotation',
      target('prod', 'live/prod', NO_REPOSITORY),
      /the entity has no sealed-runner\.io\/repository annotation/,
    ],
    [
      'an ext:: transport',
      target('prod', 'live/prod', 'ext::sh -c touch% /tmp/pwned'),
      /repository URL .* must not contain whitespace/,
    ],
    [
      'a file:: transport',
      target('prod', 'live/prod', 'file::/tmp/x'),
      /transport syntax/,
    ],
    [
      'a foreign host',
      target('prod', 'live/prod', 'https://evil.example.org/acme/live.git'),
      /is not on the sealedRunner\.repositories allowlist/,
    ],
    [
      'a repository deeper than an allowlist prefix',
      target('prod', 'live/prod', 'https://git.example.com/other/a/b.git'),
      /not on the sealedRunner\.repositories allowlist/,
    ],
    [
      'an option as repository',
      target('prod', 'live/prod', '--upload-pack=touch /tmp/x'),
      /repository URL/,
    ],
  ])('is not deployable with %s', (_, e, reason) => {
    const [resolved] = resolveTargets(e, config);
    expect(resolved).toMatchObject({
      environment: 'prod',
      deployable: false,
      reason: expect.stringMatching(reason),
    });
    expect(resolved.lockKey).toBeUndefined();
  });

  it('keeps a target of an unconfigured environment, explaining why', () => {
    const [resolved] = resolveTargets(
      target('staging', 'live/staging'),
      config,
    );
    expect(resolved).toMatchObject({
      environment: 'staging',
      deployable: false,
      reason: expect.stringMatching(/environment "staging" is not configured/),
    });
    expect(resolved.environmentConfig).toBeUndefined();
    expect(resolved.lockKey).toBeUndefined();
  });

  it.each([
    ['Prod'],
    ['a_b'],
    ['-dev'],
    ['dev-'],
    [''],
    ['x'.repeat(33)],
    ['dev/prod'],
    ['constructor'],
  ])(
    'keeps an annotation with environment name %j as a non-deployable target',
    name => {
      const resolved = resolveTargets(target(name, 'live/x'), config);
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({
        deployable: false,
        reason: expect.any(String),
      });
      expect(resolved[0].lockKey).toBeUndefined();
    },
  );

  it.each([['Prod'], ['a_b']])(
    'explains that %j is not a valid environment name',
    name => {
      const [resolved] = resolveTargets(target(name, 'live/x'), config);
      expect(resolved.reason).toMatch(
        /must be 1-32 lowercase letters, digits or '-'/,
      );
    },
  );

  it('does not treat an inherited object key as a configured environment', () => {
    // `constructor` is a valid environment name but must not resolve to
    // Object.prototype.constructor.
    const [resolved] = resolveTargets(target('constructor', 'live/x'), config);
    expect(resolved).toMatchObject({
      deployable: false,
      reason: expect.stringMatching(/not configured/),
    });
  });

  it.each([
    ['a parent segment', '../x', /must not contain '\.\.' segments/],
    [
      'a nested parent segment',
      'live/../../etc',
      /must not contain '\.\.' segments/,
    ],
    ['an absolute path', '/etc', /must be relative/],
    ['a backslash', 'a\\b', /backslashes/],
    ['percent-encoding', '%2e%2e/x', /percent-encoded/],
    ['a newline', 'live/prod\nx', /control characters/],
    ['a NUL byte', 'live\u0000', /control characters/],
    ['an empty segment', 'live//prod', /empty or '\.' segments/],
    ['a dot segment', './live', /empty or '\.' segments/],
    ['an empty path', '', /must not be empty/],
    ['1 MB', 'a/'.repeat(512 * 1024), /longer than 512 characters/],
  ])('is not deployable with a path containing %s', (_, path, reason) => {
    const [resolved] = resolveTargets(target('prod', path), config);
    expect(resolved).toMatchObject({
      deployable: false,
      reason: expect.stringMatching(/^sealed-runner\.io\/target\.prod: /),
    });
    expect(resolved.reason).toMatch(reason);
    expect(resolved.reason!.length).toBeLessThan(1000);
    expect(resolved.lockKey).toBeUndefined();
  });

  it('returns one target per environment, sorted by environment', () => {
    const resolved = resolveTargets(
      entity({
        'sealed-runner.io/repository': REPO,
        'sealed-runner.io/target.prod': 'live/prod',
        'sealed-runner.io/target.staging': 'live/staging',
        'sealed-runner.io/target.dev': 'live/dev',
        'backstage.io/techdocs-ref': 'dir:.',
        'sealed-runner.io/module-source': 'ignored',
      }),
      config,
    );
    expect(resolved.map(t => [t.environment, t.path, t.deployable])).toEqual([
      ['dev', 'live/dev', true],
      ['prod', 'live/prod', true],
      ['staging', 'live/staging', false],
    ]);
  });

  it('returns no targets for an entity without target annotations', () => {
    expect(
      resolveTargets(entity({ 'sealed-runner.io/repository': REPO }), config),
    ).toEqual([]);
    expect(
      resolveTargets(entity({}, { metadata: { name: 'x' } }), config),
    ).toEqual([]);
  });

  it('gives equal lock keys to equal (environment, repository, path) across entities', () => {
    const [a] = resolveTargets(target('prod', 'live/prod'), config);
    const [b] = resolveTargets(
      {
        ...target('prod', 'live/prod'),
        metadata: { ...target('prod', 'live/prod').metadata, name: 'other' },
      },
      config,
    );
    expect(a.entityRef).not.toBe(b.entityRef);
    expect(a.lockKey).toBe(b.lockKey);
  });

  it.each([
    ['environment', ['dev', REPO, 'live/prod']],
    [
      'repository',
      ['prod', 'https://git.example.com/other/live.git', 'live/prod'],
    ],
    ['path', ['prod', REPO, 'live/prod2']],
    // The separator must keep fields apart: ("a\nb", "c") ≠ ("a", "b\nc").
    ['field boundary', ['prod', `${REPO}/live`, 'prod']],
  ])(
    'gives a different lock key when the %s differs',
    (_, [environment, repository, path]) => {
      expect(lockKeyOf(environment, repository, path)).not.toBe(
        lockKeyOf('prod', REPO, 'live/prod'),
      );
    },
  );
});

describe('readCatalogModules', () => {
  const SOURCE =
    'git::https://git.example.com/acme/service-catalog.git//modules/web-service';

  function module(
    name: string,
    annotations: Record<string, string>,
    options: { owner?: string; type?: string; kind?: string } = {},
  ): Entity {
    return {
      apiVersion: 'backstage.io/v1alpha1',
      kind: options.kind ?? 'Component',
      metadata: { name, namespace: 'default', annotations },
      spec: { type: options.type ?? 'terraform-module' },
      relations: options.owner
        ? [{ type: 'ownedBy', targetRef: options.owner }]
        : [],
    };
  }

  const vetted = (
    name: string,
    versions: string,
    owner?: string,
    source = SOURCE,
  ) =>
    module(
      name,
      {
        'sealed-runner.io/module-source': source,
        'sealed-runner.io/module-versions': versions,
      },
      { owner },
    );

  it('merges the commits entities pin, and unpins a tag two entities pin to different commits', () => {
    const A = 'a'.repeat(40);
    const B = 'b'.repeat(40);
    const onInvalid = jest.fn();
    expect(
      readCatalogModules(
        [
          vetted('web', `v1.0.0@${A}, v1.1.0@${A}`),
          vetted('web-too', `v1.1.0@${B}, v1.2.0@${B}`),
        ],
        undefined,
        onInvalid,
      ),
    ).toEqual([
      {
        source: SOURCE,
        versions: ['v1.0.0', 'v1.1.0', 'v1.2.0'],
        commits: { 'v1.0.0': A, 'v1.2.0': B },
      },
    ]);
    expect(onInvalid).toHaveBeenCalledWith(
      'component:default/web-too',
      expect.stringContaining(
        'v1.1.0 of git::https://git.example.com/acme/service-catalog.git//modules/web-service is pinned to two commits',
      ),
    );
  });

  it('reads source and versions of every module when no owners are configured', () => {
    const onInvalid = jest.fn();
    expect(
      readCatalogModules(
        [vetted('web', 'v1.0.0, v1.1.0', 'user:default/anyone')],
        undefined,
        onInvalid,
      ),
    ).toEqual([{ source: SOURCE, versions: ['v1.0.0', 'v1.1.0'] }]);
    expect(onInvalid).not.toHaveBeenCalled();
  });

  it.each<[string, string | undefined, string[], boolean]>([
    [
      'owned by a listed owner',
      'group:default/platform-team',
      ['group:default/platform-team'],
      true,
    ],
    [
      'owned by a listed owner in another case',
      'group:default/Platform-Team',
      ['Group:default/platform-team'],
      true,
    ],
    [
      'owned by one of several listed owners',
      'user:default/pat',
      ['group:default/platform-team', 'user:default/pat'],
      true,
    ],
    [
      'owned by someone else',
      'group:default/payments-team',
      ['group:default/platform-team'],
      false,
    ],
    ['without an owner', undefined, ['group:default/platform-team'], false],
  ])(
    'with owners configured, decides whether a module %s counts (owner %s)',
    (_, owner, owners, counted) => {
      const modules = readCatalogModules(
        [vetted('web', 'v1.0.0', owner)],
        { owners },
        jest.fn(),
      );
      expect(modules).toEqual(
        counted ? [{ source: SOURCE, versions: ['v1.0.0'] }] : [],
      );
    },
  );

  it('ignores ownership expressed anywhere but ownedBy relations', () => {
    const e = vetted('web', 'v1.0.0');
    e.spec = { ...e.spec, owner: 'group:default/platform-team' };
    e.relations = [
      { type: 'dependsOn', targetRef: 'group:default/platform-team' },
    ];
    expect(
      readCatalogModules(
        [e],
        { owners: ['group:default/platform-team'] },
        jest.fn(),
      ),
    ).toEqual([]);
  });

  it.each([
    ['a service', { type: 'service' }],
    ['a website', { type: 'website' }],
  ])('ignores non-module entities (%s)', (_, options) => {
    const e = module(
      'svc',
      {
        'sealed-runner.io/module-source': SOURCE,
        'sealed-runner.io/module-versions': 'v1.0.0',
      },
      options,
    );
    const onInvalid = jest.fn();
    expect(readCatalogModules([e], undefined, onInvalid)).toEqual([]);
    expect(onInvalid).not.toHaveBeenCalled();
  });

  it('ignores a module entity without a module-source annotation', () => {
    const onInvalid = jest.fn();
    expect(readCatalogModules([module('x', {})], undefined, onInvalid)).toEqual(
      [],
    );
    expect(onInvalid).not.toHaveBeenCalled();
  });

  it.each([
    [
      'a source with ?ref=',
      `${SOURCE}?ref=v1.0.0`,
      'v1.0.0',
      /must not include \?ref=/,
    ],
    [
      'a non-git source',
      'registry.terraform.io/acme/web/aws',
      'v1.0.0',
      /not a git:: source/,
    ],
    ['an ext:: repository', 'git::ext::sh -c x//m', 'v1.0.0', /module source/],
    [
      'a traversal subdir',
      'git::https://git.example.com/acme/c.git//../x',
      'v1.0.0',
      /subdirectory/,
    ],
    [
      'no versions annotation',
      SOURCE,
      undefined,
      /module versions must be a string/,
    ],
    [
      'an option as version',
      SOURCE,
      'v1.0.0, --upload-pack=x',
      /module versions: tag/,
    ],
    ['an empty version', SOURCE, 'v1.0.0,,v1.1.0', /module versions/],
  ])(
    'reports %s through onInvalid and skips it',
    (_, source, versions, reason) => {
      const onInvalid = jest.fn();
      const bad = module('bad', {
        'sealed-runner.io/module-source': source,
        ...(versions !== undefined
          ? { 'sealed-runner.io/module-versions': versions }
          : {}),
      });
      const good = vetted('good', 'v1.0.0');
      expect(readCatalogModules([bad, good], undefined, onInvalid)).toEqual([
        { source: SOURCE, versions: ['v1.0.0'] },
      ]);
      expect(onInvalid).toHaveBeenCalledTimes(1);
      expect(onInvalid).toHaveBeenCalledWith(
        'component:default/bad',
        expect.stringMatching(reason),
      );
    },
  );

  it('merges entities declaring the same source, without duplicate versions', () => {
    const other =
      'git::https://git.example.com/acme/service-catalog.git//modules/queue';
    expect(
      readCatalogModules(
        [
          vetted('web-a', 'v1.0.0, v1.1.0'),
          vetted('queue', 'v3.0.0', undefined, other),
          vetted('web-b', 'v1.1.0, v2.0.0'),
        ],
        undefined,
        jest.fn(),
      ),
    ).toEqual([
      { source: SOURCE, versions: ['v1.0.0', 'v1.1.0', 'v2.0.0'] },
      { source: other, versions: ['v3.0.0'] },
    ]);
  });

  it('does not let an unlisted owner add versions to a vetted source', () => {
    expect(
      readCatalogModules(
        [
          vetted('web', 'v1.0.0', 'group:default/platform-team'),
          vetted('web-evil', 'v9.9.9', 'user:default/mallory'),
        ],
        { owners: ['group:default/platform-team'] },
        jest.fn(),
      ),
    ).toEqual([{ source: SOURCE, versions: ['v1.0.0'] }]);
  });

  describe('with locations configured', () => {
    const TRUSTED =
      'url:https://git.example.com/acme/service-catalog/blob/main/catalog-info.yaml';
    const fromLocation = (
      name: string,
      version: string,
      origin: string | undefined,
    ) => {
      const e = vetted(name, version, 'group:default/platform-team');
      e.metadata.annotations = {
        ...e.metadata.annotations,
        ...(origin
          ? { 'backstage.io/managed-by-origin-location': origin }
          : {}),
      };
      return e;
    };

    it.each([
      ['from the listed location', TRUSTED, [TRUSTED], true],
      [
        'from under a listed prefix',
        TRUSTED,
        ['url:https://git.example.com/acme/service-catalog/*'],
        true,
      ],
      [
        'from a location registered by someone else',
        'url:https://git.example.com/mallory/x/blob/main/m.yaml',
        [TRUSTED],
        false,
      ],
      [
        'from a look-alike prefix',
        'url:https://git.example.com/acme/service-catalog-evil/m.yaml',
        ['url:https://git.example.com/acme/service-catalog/*'],
        false,
      ],
      ['without an origin location', undefined, [TRUSTED], false],
    ])('counts a module %s: %s', (_, origin, locations, counted) => {
      const modules = readCatalogModules(
        [fromLocation('web', 'v1.0.0', origin)],
        { owners: ['group:default/platform-team'], locations },
        jest.fn(),
      );
      expect(modules).toEqual(
        counted ? [{ source: SOURCE, versions: ['v1.0.0'] }] : [],
      );
    });
  });
});
