import type { Entity } from '@backstage/catalog-model';
import {
  ANNOTATION_MODULE_SOURCE,
  ANNOTATION_MODULE_VERSIONS,
  ANNOTATION_REPOSITORY,
  ANNOTATION_TARGET_PREFIX,
  checkEnvironmentName,
  checkRelativePath,
  checkRepositoryAllowed,
  checkRepositoryUrl,
  MODULE_ENTITY_SPEC_TYPE,
  parseCatalogModule,
  showName,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * What the platform team configured, as far as the annotation check needs
 * it. Each rule is optional: without it, only the syntax is checked.
 *
 * @public
 */
export interface SealedRunnerAnnotationRules {
  /**
   * The environment names configured in `sealedRunner.environments`.
   * Unset: any syntactically valid environment name passes.
   */
  environments?: readonly string[];
  /**
   * The `sealedRunner.repositories` allowlist. Unset: any syntactically
   * valid git URL passes.
   */
  repositories?: readonly string[];
}

const PREFIX = 'sealed-runner.io/';
const PREFIX_HOST = PREFIX.slice(0, -1);
const NAME_REPOSITORY = ANNOTATION_REPOSITORY.slice(PREFIX.length);
const NAME_MODULE_SOURCE = ANNOTATION_MODULE_SOURCE.slice(PREFIX.length);
const NAME_MODULE_VERSIONS = ANNOTATION_MODULE_VERSIONS.slice(PREFIX.length);
const NAME_TARGET = ANNOTATION_TARGET_PREFIX.slice(PREFIX.length, -1);
const KNOWN_NAMES = [NAME_REPOSITORY, NAME_MODULE_SOURCE, NAME_MODULE_VERSIONS];
const KNOWN_KEYS = `${ANNOTATION_REPOSITORY}, ${ANNOTATION_TARGET_PREFIX}<environment>, ${ANNOTATION_MODULE_SOURCE}, ${ANNOTATION_MODULE_VERSIONS}`;

/**
 * An entity with thousands of hostile annotations must not turn into
 * thousands of catalog errors; the first ones are enough to act on.
 *
 * @public
 */
export const MAX_PROBLEMS = 20;

/** Edit distance, for "did you mean" hints on short names only. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** The annotation a misspelt name after `sealed-runner.io/` most likely meant. */
function suggestKey(name: string): string | undefined {
  if (name.length > 64) {
    return undefined;
  }
  const lower = name.toLocaleLowerCase('en-US');
  // targets.dev, target-dev, target_dev, target:dev, Target.dev
  const target = /^([a-z]{4,8})[._:/-](.*)$/.exec(lower);
  if (target && distance(target[1], NAME_TARGET) <= 2) {
    return `${ANNOTATION_TARGET_PREFIX}${target[2] || '<environment>'}`;
  }
  if (distance(lower, NAME_TARGET) <= 2) {
    return `${ANNOTATION_TARGET_PREFIX}<environment>`;
  }
  let best: string | undefined;
  let bestDistance = 4;
  for (const known of KNOWN_NAMES) {
    // `repo` for `repository`, `module` for either module annotation
    const d =
      lower.length >= 4 && known.startsWith(lower) ? 0 : distance(lower, known);
    if (d < bestDistance) {
      best = `${PREFIX}${known}`;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Whether a key's prefix is a near miss of `sealed-runner.io`
 * (`sealed-runer.io/…`, `sealedrunner.io/…`, `Sealed-Runner.io/…`): such an
 * annotation would otherwise be ignored without a word.
 */
function isMisspeltPrefix(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) {
    return false;
  }
  const prefix = key.slice(0, slash).toLocaleLowerCase('en-US');
  if (key.slice(0, slash) === PREFIX_HOST || prefix.length > 24) {
    return false;
  }
  return (
    prefix === PREFIX_HOST ||
    prefix.replace(/[^a-z0-9]/g, '') === 'sealedrunnerio' ||
    distance(prefix, PREFIX_HOST) <= 2
  );
}

function unknownKeyProblem(key: string): string {
  const suggestion = suggestKey(key.slice(PREFIX.length));
  return `unknown annotation ${showName(key)}${
    suggestion ? `; did you mean ${showName(suggestion)}?` : ''
  } (sealed-runner.io annotations are ${KNOWN_KEYS})`;
}

function misspeltPrefixProblem(key: string): string {
  const name = key.slice(key.indexOf('/') + 1);
  return `annotation ${showName(
    key,
  )} looks like a sealed-runner annotation with a misspelt prefix; did you mean ${showName(
    `${PREFIX}${name}`,
  )}?`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeEntity(kind: unknown, type: unknown): string {
  const parts = [
    `kind ${typeof kind === 'string' ? showName(kind) : 'unset'}`,
    `spec.type ${typeof type === 'string' ? showName(type) : 'unset'}`,
  ];
  return parts.join(', ');
}

function checkModuleAnnotations(
  kind: unknown,
  type: unknown,
  source: unknown,
  versions: unknown,
): string[] {
  if (source === undefined && versions === undefined) {
    return [];
  }
  const problems: string[] = [];
  const isModuleEntity =
    typeof kind === 'string' &&
    kind.toLocaleLowerCase('en-US') === 'component' &&
    type === MODULE_ENTITY_SPEC_TYPE;
  if (!isModuleEntity) {
    const present = [
      ...(source !== undefined ? [ANNOTATION_MODULE_SOURCE] : []),
      ...(versions !== undefined ? [ANNOTATION_MODULE_VERSIONS] : []),
    ];
    problems.push(
      `${present.join(' and ')} ${
        present.length === 1 ? 'belongs' : 'belong'
      } only on a Component with spec.type ${MODULE_ENTITY_SPEC_TYPE} (this entity has ${describeEntity(
        kind,
        type,
      )})`,
    );
  }
  if (source === undefined) {
    problems.push(
      `${ANNOTATION_MODULE_VERSIONS} is set but ${ANNOTATION_MODULE_SOURCE} is missing; a catalog module names its source, e.g. git::https://github.com/acme/service-catalog.git//modules/web-service`,
    );
  } else if (versions === undefined) {
    problems.push(
      `${ANNOTATION_MODULE_SOURCE} is set but ${ANNOTATION_MODULE_VERSIONS} is missing; a catalog module lists its vetted tags, e.g. "v1.0.0, v1.1.0"`,
    );
  } else {
    const module = parseCatalogModule(source, versions);
    if (!module.ok) {
      problems.push(`service-catalog module: ${module.reason}`);
    }
  }
  return problems;
}

function checkTarget(
  key: string,
  value: unknown,
  environments: ReadonlySet<string> | undefined,
): string[] {
  const problems: string[] = [];
  const environment = key.slice(ANNOTATION_TARGET_PREFIX.length);
  const name = checkEnvironmentName(environment);
  if (!name.ok) {
    problems.push(`${showName(key)}: ${name.reason}`);
  } else if (environments && !environments.has(name.value)) {
    const configured = [...environments].sort();
    const list =
      configured.length === 0
        ? 'none'
        : configured.slice(0, 20).join(', ') +
          (configured.length > 20 ? ', …' : '');
    problems.push(
      `${key}: environment "${name.value}" is not configured in sealedRunner.environments (configured: ${list})`,
    );
  }
  const path = checkRelativePath(value);
  if (!path.ok) {
    problems.push(`${showName(key)}: ${path.reason}`);
  }
  return problems;
}

function checkAnnotations(
  entity: unknown,
  rules: SealedRunnerAnnotationRules,
): string[] {
  const metadata = isRecord(entity) ? entity.metadata : undefined;
  const annotations = isRecord(metadata) ? metadata.annotations : undefined;
  if (!isRecord(annotations)) {
    return [];
  }
  // Own entries only, read once: `__proto__`, `constructor` and friends are
  // plain keys here, never the prototype's.
  const entries = Object.entries(annotations);
  const own = new Map(entries);
  const environments = rules.environments
    ? new Set(rules.environments)
    : undefined;
  const problems: string[] = [];

  const targetKeys: string[] = [];
  for (const [key, value] of entries) {
    if (key.startsWith(ANNOTATION_TARGET_PREFIX)) {
      targetKeys.push(key);
      problems.push(...checkTarget(key, value, environments));
    } else if (key.startsWith(PREFIX)) {
      if (
        key !== ANNOTATION_REPOSITORY &&
        key !== ANNOTATION_MODULE_SOURCE &&
        key !== ANNOTATION_MODULE_VERSIONS
      ) {
        problems.push(unknownKeyProblem(key));
      }
    } else if (isMisspeltPrefix(key)) {
      problems.push(misspeltPrefixProblem(key));
    }
  }

  const repositoryProblems: string[] = [];
  if (own.has(ANNOTATION_REPOSITORY)) {
    const repository = own.get(ANNOTATION_REPOSITORY);
    const check = rules.repositories
      ? checkRepositoryAllowed(repository, rules.repositories)
      : checkRepositoryUrl(repository);
    if (!check.ok) {
      repositoryProblems.push(`${ANNOTATION_REPOSITORY}: ${check.reason}`);
    }
  } else if (targetKeys.length > 0) {
    const shown = targetKeys
      .slice(0, 5)
      .map(key => showName(key))
      .join(', ');
    repositoryProblems.push(
      `target annotations (${shown}${
        targetKeys.length > 5 ? ', …' : ''
      }) need a ${ANNOTATION_REPOSITORY} annotation naming the infrastructure-live git repository`,
    );
  }

  const spec = isRecord(entity) ? entity.spec : undefined;
  const moduleProblems = checkModuleAnnotations(
    isRecord(entity) ? entity.kind : undefined,
    isRecord(spec) ? spec.type : undefined,
    own.get(ANNOTATION_MODULE_SOURCE),
    own.get(ANNOTATION_MODULE_VERSIONS),
  );

  return [...repositoryProblems, ...problems, ...moduleProblems];
}

/**
 * Checks an entity's `sealed-runner.io/*` annotations against the model
 * and the platform team's rules, returning one human-readable reason per
 * problem (at most {@link MAX_PROBLEMS}; an empty list means valid).
 *
 * It applies the primitives the gate and the runner apply, so an entity it
 * accepts is one the gate will not refuse for its annotations (target
 * checks that modules add to the gate still apply at plan time). Never
 * throws, whatever the entity holds.
 *
 * @public
 */
export function checkSealedRunnerAnnotations(
  entity: Entity,
  rules: SealedRunnerAnnotationRules = {},
): string[] {
  let problems: string[];
  try {
    problems = checkAnnotations(entity, rules);
  } catch {
    // Only an exotic object (a throwing getter or proxy) gets here; plain
    // JSON cannot. Refuse it rather than let it through unchecked.
    return [
      'the sealed-runner.io annotations of this entity could not be read',
    ];
  }
  if (problems.length > MAX_PROBLEMS) {
    const more = problems.length - (MAX_PROBLEMS - 1);
    return [
      ...problems.slice(0, MAX_PROBLEMS - 1),
      `…and ${more} more problems with sealed-runner.io annotations`,
    ];
  }
  return problems;
}
