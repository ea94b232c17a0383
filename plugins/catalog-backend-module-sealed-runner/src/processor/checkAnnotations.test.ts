import type { Entity } from '@backstage/catalog-model';
import {
  checkSealedRunnerAnnotations,
  MAX_PROBLEMS,
  SealedRunnerAnnotationRules,
} from './checkAnnotations';

const RULES: SealedRunnerAnnotationRules = {
  environments: ['dev', 'prod'],
  repositories: ['https://github.com/acme/*', 'git@github.com:acme/*'],
};
const REPO = 'https://github.com/acme/infrastructure-live.git';
const MODULE_SOURCE =
  'git::https://github.com/acme/service-catalog.git//modules/web-service';

// What must never reach a terminal or the catalog UI from a hostile value:
// C0/C1 controls, DEL, bidi and line-separator characters.
const UNSAFE_IN_MESSAGES =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Annotations go through JSON.parse, as YAML/JSON ingestion would: a
 * `__proto__` key becomes an own property instead of setting the prototype.
 */
function entity(
  annotations: Record<string, unknown>,
  options: { kind?: string; type?: string } = {},
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: options.kind ?? 'Component',
    metadata: {
      name: 'payments',
      annotations: JSON.parse(JSON.stringify(annotations)),
    },
    spec: {
      type: options.type ?? 'service',
      owner: 'team-a',
      lifecycle: 'production',
    },
  };
}

function withRawKey(key: string, value: unknown): Record<string, unknown> {
  return JSON.parse(
    `{${JSON.stringify('sealed-runner.io/repository')}:${JSON.stringify(
      REPO,
    )},${JSON.stringify(key)}:${JSON.stringify(value)}}`,
  );
}

const deployable = (targets: Record<string, unknown>) => ({
  'sealed-runner.io/repository': REPO,
  ...targets,
});

const moduleEntity = (annotations: Record<string, unknown>) =>
  entity(annotations, { type: 'terraform-module' });

describe('checkSealedRunnerAnnotations', () => {
  describe('accepts', () => {
    it.each<[string, Entity, SealedRunnerAnnotationRules?]>([
      [
        'a deployable entity with two configured targets',
        entity(
          deployable({
            'sealed-runner.io/target.dev': 'live/dev/payments',
            'sealed-runner.io/target.prod': 'live/prod/payments',
          }),
        ),
      ],
      ['an entity without annotations', entity({})],
      [
        'an entity with only other annotations',
        entity({
          'backstage.io/techdocs-ref': 'dir:.',
          'github.com/project-slug': 'acme/payments',
        }),
      ],
      [
        'a Resource as a deployable entity',
        entity(deployable({ 'sealed-runner.io/target.prod': 'live/prod/db' }), {
          kind: 'Resource',
          type: 'database',
        }),
      ],
      [
        'an allowlisted scp-like repository',
        entity({
          'sealed-runner.io/repository': 'git@github.com:acme/live.git',
          'sealed-runner.io/target.dev': 'live/dev',
        }),
      ],
      [
        'a repository without targets',
        entity({ 'sealed-runner.io/repository': REPO }),
      ],
      [
        'a deep target folder',
        entity(
          deployable({
            'sealed-runner.io/target.prod': 'live/prod/eu-west-1/payments_v2',
          }),
        ),
      ],
      [
        'a service-catalog module',
        moduleEntity({
          'sealed-runner.io/module-source': MODULE_SOURCE,
          'sealed-runner.io/module-versions': 'v1.0.0, v1.1.0',
        }),
      ],
      [
        'a module declared with a lowercase kind',
        entity(
          {
            'sealed-runner.io/module-source': MODULE_SOURCE,
            'sealed-runner.io/module-versions': 'v1.0.0',
          },
          { kind: 'component', type: 'terraform-module' },
        ),
      ],
      [
        'an environment called constructor when it is configured',
        entity(withRawKey('sealed-runner.io/target.constructor', 'live/c')),
        { environments: ['constructor'] },
      ],
      [
        'any well-formed environment and repository without sealedRunner config',
        entity({
          'sealed-runner.io/repository': 'https://gitlab.example.com/x/live',
          'sealed-runner.io/target.staging': 'live/staging',
        }),
        {},
      ],
    ])('%s', (_, value, rules = RULES) => {
      expect(checkSealedRunnerAnnotations(value, rules)).toEqual([]);
    });
  });

  describe('reports', () => {
    it.each<[string, Entity, RegExp[], SealedRunnerAnnotationRules?]>([
      // Unknown keys and typos
      [
        'a shortened annotation name',
        entity({ 'sealed-runner.io/repo': REPO }),
        [
          /^unknown annotation sealed-runner\.io\/repo; did you mean sealed-runner\.io\/repository\?/,
        ],
      ],
      [
        'a plural target key',
        entity(deployable({ 'sealed-runner.io/targets.dev': 'live/dev' })),
        [
          /^unknown annotation sealed-runner\.io\/targets\.dev; did you mean sealed-runner\.io\/target\.dev\?/,
        ],
      ],
      [
        'a target key with a dash',
        entity(deployable({ 'sealed-runner.io/target-prod': 'live/prod' })),
        [/did you mean sealed-runner\.io\/target\.prod\?/],
      ],
      [
        'a capitalised target key',
        entity(deployable({ 'sealed-runner.io/Target.dev': 'live/dev' })),
        [
          /^unknown annotation sealed-runner\.io\/Target\.dev; did you mean sealed-runner\.io\/target\.dev\?/,
        ],
      ],
      [
        'a target key without environment',
        entity(deployable({ 'sealed-runner.io/target': 'live/dev' })),
        [/did you mean sealed-runner\.io\/target\.<environment>\?/],
      ],
      [
        'a singular module-version key',
        moduleEntity({
          'sealed-runner.io/module-source': MODULE_SOURCE,
          'sealed-runner.io/module-version': 'v1.0.0',
        }),
        [
          /^unknown annotation sealed-runner\.io\/module-version; did you mean sealed-runner\.io\/module-versions\?/,
          /module-source is set but sealed-runner\.io\/module-versions is missing/,
        ],
      ],
      [
        'an empty annotation name',
        entity({ 'sealed-runner.io/': 'x' }),
        [
          /^unknown annotation sealed-runner\.io\/ \(sealed-runner\.io annotations are/,
        ],
      ],
      [
        'a constructor annotation',
        entity(withRawKey('sealed-runner.io/constructor', 'x')),
        [/^unknown annotation sealed-runner\.io\/constructor/],
      ],
      [
        'a __proto__ annotation',
        entity(withRawKey('sealed-runner.io/__proto__', 'x')),
        [/^unknown annotation sealed-runner\.io\/__proto__/],
      ],
      [
        'a misspelt prefix',
        entity({ 'sealed-runer.io/repository': REPO }),
        [
          /^annotation sealed-runer\.io\/repository looks like a sealed-runner annotation with a misspelt prefix; did you mean sealed-runner\.io\/repository\?/,
        ],
      ],
      [
        'a prefix without the dash',
        entity({ 'sealedrunner.io/target.dev': 'live/dev' }),
        [/misspelt prefix; did you mean sealed-runner\.io\/target\.dev\?/],
      ],
      [
        'an unknown key with an escape sequence',
        entity({ 'sealed-runner.io/x\u001b[2J': 'x' }),
        [/^unknown annotation "sealed-runner\.io\/x\\u001b\[2J"/],
      ],
      [
        'an unknown key with an RTL override',
        entity({ 'sealed-runner.io/a\u202eb': 'x' }),
        [/^unknown annotation "sealed-runner\.io\/a\\u202eb"/],
      ],
      [
        'a 100 kB unknown key',
        entity({ [`sealed-runner.io/${'k'.repeat(100_000)}`]: 'x' }),
        [/^unknown annotation "sealed-runner\.io\/k+…"/],
      ],

      // Repository
      [
        'targets without a repository',
        entity({ 'sealed-runner.io/target.dev': 'live/dev' }),
        [
          /^target annotations \(sealed-runner\.io\/target\.dev\) need a sealed-runner\.io\/repository annotation/,
        ],
      ],
      [
        'an ext:: transport repository',
        entity({
          'sealed-runner.io/repository': 'ext::sh -c touch% /tmp/pwned',
          'sealed-runner.io/target.dev': 'live/dev',
        }),
        [
          /^sealed-runner\.io\/repository: repository URL .* must not contain whitespace/,
        ],
      ],
      [
        'an ext:: transport without spaces',
        entity({ 'sealed-runner.io/repository': 'ext::sh' }),
        [/^sealed-runner\.io\/repository: .*transport syntax/],
      ],
      [
        'an --upload-pack option as repository',
        entity({ 'sealed-runner.io/repository': '--upload-pack=x' }),
        [/^sealed-runner\.io\/repository: .*must not start with '-'/],
      ],
      [
        'an ssh option as repository',
        entity({ 'sealed-runner.io/repository': '-oProxyCommand=x' }),
        [/must not start with '-'/],
      ],
      [
        'an option-like path segment in the repository',
        entity({
          'sealed-runner.io/repository': 'ssh://git@github.com/--upload-pack',
        }),
        [/segments starting with '-'/],
      ],
      [
        'a plain http repository',
        entity({
          'sealed-runner.io/repository': 'http://github.com/acme/live',
        }),
        [/plain http/],
      ],
      [
        'credentials in the repository URL',
        entity({
          'sealed-runner.io/repository': 'https://u:p@github.com/acme/live',
        }),
        [/without credentials/],
      ],
      [
        'a repository with a parent segment under an allowed prefix',
        entity({ 'sealed-runner.io/repository': 'https://github.com/acme/..' }),
        [/'\.' or '\.\.' segments/],
      ],
      [
        'a repository that is not allowlisted',
        entity(
          deployable({
            'sealed-runner.io/repository': 'https://github.com/evil/live',
            'sealed-runner.io/target.dev': 'live/dev',
          }),
        ),
        [
          /^sealed-runner\.io\/repository: repository "https:\/\/github\.com\/evil\/live" is not on the sealedRunner\.repositories allowlist$/,
        ],
      ],
      [
        'a repository with a newline',
        entity({ 'sealed-runner.io/repository': `${REPO}\n` }),
        [/control characters/],
      ],
      [
        'an empty repository',
        entity({ 'sealed-runner.io/repository': '' }),
        [/repository URL must not be empty/],
      ],
      [
        'a 1 MB repository',
        entity({
          'sealed-runner.io/repository': `https://github.com/acme/${'a'.repeat(
            1024 * 1024,
          )}`,
        }),
        [/longer than 2048/],
      ],
      [
        'a numeric repository',
        entity({ 'sealed-runner.io/repository': 42 }),
        [/^sealed-runner\.io\/repository: repository URL must be a string$/],
      ],
      [
        'a null repository',
        entity({ 'sealed-runner.io/repository': null }),
        [/repository URL must be a string/],
      ],
      [
        'an object repository',
        entity({ 'sealed-runner.io/repository': { url: REPO } }),
        [/repository URL must be a string/],
      ],

      // Target folders
      [
        'a parent-directory target',
        entity(deployable({ 'sealed-runner.io/target.dev': '../../etc' })),
        [
          /^sealed-runner\.io\/target\.dev: path "\.\.\/\.\.\/etc" must not contain '\.\.' segments$/,
        ],
      ],
      [
        'a parent segment inside a target',
        entity(deployable({ 'sealed-runner.io/target.dev': 'live/../../x' })),
        [/'\.\.' segments/],
      ],
      [
        'an absolute target',
        entity(deployable({ 'sealed-runner.io/target.prod': '/etc/passwd' })),
        [
          /^sealed-runner\.io\/target\.prod: path "\/etc\/passwd" must be relative/,
        ],
      ],
      [
        'a backslash in a target',
        entity(deployable({ 'sealed-runner.io/target.dev': 'live\\dev' })),
        [/must not contain backslashes/],
      ],
      [
        'a windows traversal target',
        entity(deployable({ 'sealed-runner.io/target.dev': '..\\..\\x' })),
        [/backslashes/],
      ],
      [
        'a percent-encoded traversal target',
        entity(deployable({ 'sealed-runner.io/target.dev': 'live/%2e%2e/x' })),
        [/percent-encoded/],
      ],
      [
        'a NUL byte in a target',
        entity(deployable({ 'sealed-runner.io/target.dev': 'live/\u0000x' })),
        [/control characters/],
      ],
      [
        'an escape sequence in a target',
        entity(
          deployable({ 'sealed-runner.io/target.dev': 'live/\u001b[2Jx' }),
        ),
        [/control characters/],
      ],
      [
        'an option-like target segment',
        entity(deployable({ 'sealed-runner.io/target.dev': '-rf' })),
        [/segments start with/],
      ],
      [
        'an empty target',
        entity(deployable({ 'sealed-runner.io/target.dev': '' })),
        [/path must not be empty/],
      ],
      [
        'a 1 MB target',
        entity(
          deployable({
            'sealed-runner.io/target.dev': 'a'.repeat(1024 * 1024),
          }),
        ),
        [/longer than 512/],
      ],
      [
        'a numeric target',
        entity(deployable({ 'sealed-runner.io/target.dev': 7 })),
        [/^sealed-runner\.io\/target\.dev: path must be a string$/],
      ],
      [
        'an array target',
        entity(deployable({ 'sealed-runner.io/target.dev': ['live/dev'] })),
        [/path must be a string/],
      ],

      // Environments
      [
        'an unconfigured environment',
        entity(
          deployable({ 'sealed-runner.io/target.staging': 'live/staging' }),
        ),
        [
          /^sealed-runner\.io\/target\.staging: environment "staging" is not configured in sealedRunner\.environments \(configured: dev, prod\)$/,
        ],
      ],
      [
        'a target.__proto__ key',
        entity(withRawKey('sealed-runner.io/target.__proto__', 'live/x')),
        [
          /^sealed-runner\.io\/target\.__proto__: environment "__proto__" must be 1-32 lowercase/,
        ],
      ],
      [
        'a target.constructor key that is not configured',
        entity(withRawKey('sealed-runner.io/target.constructor', 'live/x')),
        [/environment "constructor" is not configured/],
      ],
      [
        'a target.hasOwnProperty key',
        entity(withRawKey('sealed-runner.io/target.hasOwnProperty', 'live/x')),
        [/environment "hasOwnProperty" must be 1-32 lowercase/],
      ],
      [
        'an uppercase environment',
        entity(deployable({ 'sealed-runner.io/target.Prod': 'live/prod' })),
        [/environment "Prod" must be 1-32 lowercase/],
      ],
      [
        'an empty environment',
        entity(deployable({ 'sealed-runner.io/target.': 'live/prod' })),
        [/environment "" must be/],
      ],
      [
        'an environment with a dot',
        entity(deployable({ 'sealed-runner.io/target.prod.eu': 'live/prod' })),
        [/environment "prod\.eu" must be/],
      ],
      [
        'an environment with a #',
        entity(deployable({ 'sealed-runner.io/target.dev#x': 'live/dev' })),
        [/environment "dev#x" must be/],
      ],
      [
        'an option-like environment',
        entity(deployable({ 'sealed-runner.io/target.--force': 'live/dev' })),
        [/environment "--force" must be/],
      ],
      [
        'an environment with a newline',
        entity(deployable({ 'sealed-runner.io/target.dev\n': 'live/dev' })),
        [/^"sealed-runner\.io\/target\.dev\\n": environment "dev\\n" must be/],
      ],
      [
        'a 40-character environment',
        entity(
          deployable({
            [`sealed-runner.io/target.${'a'.repeat(40)}`]: 'live/x',
          }),
        ),
        [/must be 1-32 lowercase/],
      ],
      [
        'a bad environment and a bad folder in one target',
        entity(deployable({ 'sealed-runner.io/target.PROD': '/etc' })),
        [/environment "PROD" must be/, /must be relative/],
      ],

      // Service-catalog modules
      [
        'a module source without versions',
        moduleEntity({ 'sealed-runner.io/module-source': MODULE_SOURCE }),
        [
          /^sealed-runner\.io\/module-source is set but sealed-runner\.io\/module-versions is missing/,
        ],
      ],
      [
        'module versions without a source',
        moduleEntity({ 'sealed-runner.io/module-versions': 'v1.0.0' }),
        [
          /^sealed-runner\.io\/module-versions is set but sealed-runner\.io\/module-source is missing/,
        ],
      ],
      [
        'module annotations on a Resource',
        entity(
          {
            'sealed-runner.io/module-source': MODULE_SOURCE,
            'sealed-runner.io/module-versions': 'v1.0.0',
          },
          { kind: 'Resource', type: 'terraform-module' },
        ),
        [
          /^sealed-runner\.io\/module-source and sealed-runner\.io\/module-versions belong only on a Component with spec\.type terraform-module \(this entity has kind Resource, spec\.type terraform-module\)$/,
        ],
      ],
      [
        'module annotations on a service Component',
        entity({
          'sealed-runner.io/module-source': MODULE_SOURCE,
          'sealed-runner.io/module-versions': 'v1.0.0',
        }),
        [
          /belong only on a Component with spec\.type terraform-module \(this entity has kind Component, spec\.type service\)/,
        ],
      ],
      [
        'a lone module source on a service Component',
        entity({ 'sealed-runner.io/module-source': MODULE_SOURCE }),
        [
          /^sealed-runner\.io\/module-source belongs only on/,
          /module-versions is missing/,
        ],
      ],
      [
        'a module source pinned with ?ref=',
        moduleEntity({
          'sealed-runner.io/module-source': `${MODULE_SOURCE}?ref=v1.0.0`,
          'sealed-runner.io/module-versions': 'v1.0.0',
        }),
        [/^service-catalog module: .*must not include \?ref=/],
      ],
      [
        'a registry module source',
        moduleEntity({
          'sealed-runner.io/module-source': 'hashicorp/consul/aws',
          'sealed-runner.io/module-versions': 'v1.0.0',
        }),
        [/is not a git:: source/],
      ],
      [
        'a module source over the ext:: transport',
        moduleEntity({
          'sealed-runner.io/module-source': 'git::ext::sh -c x',
          'sealed-runner.io/module-versions': 'v1.0.0',
        }),
        [/^service-catalog module: module source .* has an invalid repository/],
      ],
      [
        'a module source with a traversing subdirectory',
        moduleEntity({
          'sealed-runner.io/module-source':
            'git::https://github.com/acme/sc.git//../../etc',
          'sealed-runner.io/module-versions': 'v1.0.0',
        }),
        [/invalid subdirectory/],
      ],
      [
        'an option among the module versions',
        moduleEntity({
          'sealed-runner.io/module-source': MODULE_SOURCE,
          'sealed-runner.io/module-versions': 'v1.0.0, --force',
        }),
        [
          /^service-catalog module: module versions: tag "--force" must not start with '-'/,
        ],
      ],
      [
        'an empty module version',
        moduleEntity({
          'sealed-runner.io/module-source': MODULE_SOURCE,
          'sealed-runner.io/module-versions': 'v1.0.0,,v1.1.0',
        }),
        [/tag must not be empty/],
      ],
      [
        'a numeric module source',
        moduleEntity({
          'sealed-runner.io/module-source': 1,
          'sealed-runner.io/module-versions': 'v1.0.0',
        }),
        [/module source must be a string/],
      ],
      [
        'module annotations on a Component without spec',
        {
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'Component',
          metadata: {
            name: 'x',
            annotations: {
              'sealed-runner.io/module-source': MODULE_SOURCE,
              'sealed-runner.io/module-versions': 'v1.0.0',
            },
          },
        },
        [/\(this entity has kind Component, spec\.type unset\)/],
      ],
    ])('%s', (_, value, expected, rules = RULES) => {
      const problems = checkSealedRunnerAnnotations(value, rules);
      expect(problems).toEqual(expected.map(e => expect.stringMatching(e)));
      for (const problem of problems) {
        expect(problem).not.toMatch(UNSAFE_IN_MESSAGES);
        expect(problem.length).toBeLessThan(1000);
      }
    });
  });

  describe('without sealedRunner config', () => {
    it('still checks the syntax of environments, folders and repositories', () => {
      expect(
        checkSealedRunnerAnnotations(
          entity({
            'sealed-runner.io/repository': '--upload-pack=x',
            'sealed-runner.io/target.Prod': '../x',
          }),
        ),
      ).toEqual([
        expect.stringMatching(/must not start with '-'/),
        expect.stringMatching(/environment "Prod" must be/),
        expect.stringMatching(/'\.\.' segments/),
      ]);
    });

    it('refuses every repository when the allowlist is configured but empty', () => {
      expect(
        checkSealedRunnerAnnotations(
          entity({ 'sealed-runner.io/repository': REPO }),
          {
            repositories: [],
          },
        ),
      ).toEqual([expect.stringMatching(/allowlist/)]);
    });

    it('refuses every environment when none is configured', () => {
      expect(
        checkSealedRunnerAnnotations(
          entity(deployable({ 'sealed-runner.io/target.dev': 'live/dev' })),
          { environments: [] },
        ),
      ).toEqual([expect.stringMatching(/\(configured: none\)/)]);
    });
  });

  describe('never throws', () => {
    it.each<[string, unknown]>([
      ['null', null],
      ['undefined', undefined],
      ['a string', 'component:default/x'],
      ['an entity without metadata', { kind: 'Component' }],
      [
        'null annotations',
        { kind: 'Component', metadata: { annotations: null } },
      ],
      [
        'array annotations',
        { kind: 'Component', metadata: { annotations: ['x'] } },
      ],
      [
        'string annotations',
        { kind: 'Component', metadata: { annotations: 'x' } },
      ],
    ])('on %s, reporting nothing', (_, value) => {
      expect(checkSealedRunnerAnnotations(value as Entity)).toEqual([]);
    });

    it('refuses annotations that cannot be read', () => {
      const annotations = new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('boom');
          },
        },
      );
      expect(
        checkSealedRunnerAnnotations({
          ...entity({}),
          metadata: {
            name: 'x',
            annotations: annotations as Record<string, string>,
          },
        }),
      ).toEqual([
        'the sealed-runner.io annotations of this entity could not be read',
      ]);
    });

    it('reads neither inherited keys nor the prototype of annotations', () => {
      const annotations = Object.create({
        'sealed-runner.io/target.dev': '../../etc',
      });
      expect(
        checkSealedRunnerAnnotations({
          ...entity({}),
          metadata: { name: 'x', annotations },
        }),
      ).toEqual([]);
    });
  });

  it('caps the problems of an entity with thousands of hostile annotations', () => {
    const annotations: Record<string, string> = {
      'sealed-runner.io/repository': REPO,
    };
    for (let i = 0; i < 5000; i++) {
      annotations[`sealed-runner.io/target.env-${i}`] = '../x';
    }
    const problems = checkSealedRunnerAnnotations(entity(annotations), RULES);
    expect(problems).toHaveLength(MAX_PROBLEMS);
    expect(problems[MAX_PROBLEMS - 1]).toBe(
      `…and ${
        10_000 - (MAX_PROBLEMS - 1)
      } more problems with sealed-runner.io annotations`,
    );
  });

  it('names at most five target keys when the repository is missing', () => {
    const annotations: Record<string, string> = {};
    for (const env of ['a', 'b', 'c', 'd', 'e', 'f']) {
      annotations[`sealed-runner.io/target.${env}`] = 'live/x';
    }
    expect(checkSealedRunnerAnnotations(entity(annotations), {})).toEqual([
      'target annotations (sealed-runner.io/target.a, sealed-runner.io/target.b, sealed-runner.io/target.c, sealed-runner.io/target.d, sealed-runner.io/target.e, …) need a sealed-runner.io/repository annotation naming the infrastructure-live git repository',
    ]);
  });
});
