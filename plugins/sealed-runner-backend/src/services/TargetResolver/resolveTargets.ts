import { createHash } from 'node:crypto';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ANNOTATION_REPOSITORY,
  ANNOTATION_TARGET_PREFIX,
  CatalogModule,
  checkEnvironmentName,
  checkRelativePath,
  checkRepositoryAllowed,
  repositoryIdentity,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  isFromLocation,
  ModuleVetting,
  originLocationOf,
  readVettedModuleEntities,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  EnvironmentConfig,
  SealedRunnerConfig,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';

/** A target as the annotations and config describe it. */
export interface ResolvedTarget {
  entity: Entity;
  entityRef: string;
  environment: string;
  /** The annotation values as written (may be invalid when not deployable). */
  repository: string;
  path: string;
  environmentConfig?: EnvironmentConfig;
  deployable: boolean;
  reason?: string;
  /** Identifies the one lock of environment + repository + folder. */
  lockKey?: string;
}

/**
 * The key of one target: environment, repository — by identity, so two
 * spellings of one repository are one target — and folder. Its lock, its
 * owner and the plans that supersede each other are keyed by it.
 */
export function lockKeyOf(
  environment: string,
  repository: string,
  path: string,
): string {
  return createHash('sha256')
    .update(
      `${environment}\n${
        repositoryIdentity(repository) ?? repository
      }\n${path}`,
    )
    .digest('hex');
}

/**
 * Reads an entity's `sealed-runner.io/*` annotations into one target per
 * environment, deciding deployability against the platform team's config.
 * Never silently drops a target: a wrong annotation makes it
 * non-deployable with the reason.
 */
export function resolveTargets(
  entity: Entity,
  config: SealedRunnerConfig,
): ResolvedTarget[] {
  const annotations = entity.metadata.annotations ?? {};
  const entityRef = stringifyEntityRef(entity);
  const repository = annotations[ANNOTATION_REPOSITORY];
  const targetLocations = config.targets?.locations;
  // Only the platform team's catalog locations may declare deployable
  // targets: whoever can register a location must not be able to claim one.
  const locationCheck =
    targetLocations && !isFromLocation(entity, targetLocations)
      ? {
          ok: false as const,
          reason: `the entity comes from catalog location ${
            originLocationOf(entity) ?? '(none recorded)'
          }, which is not in sealedRunner.targets.locations`,
        }
      : undefined;
  const repositoryCheck =
    locationCheck ??
    (repository === undefined
      ? {
          ok: false as const,
          reason: `the entity has no ${ANNOTATION_REPOSITORY} annotation`,
        }
      : checkRepositoryAllowed(repository, config.repositories));

  return Object.entries(annotations)
    .filter(([key]) => key.startsWith(ANNOTATION_TARGET_PREFIX))
    .map(([key, path]) => {
      const environment = key.slice(ANNOTATION_TARGET_PREFIX.length);
      const target: ResolvedTarget = {
        entity,
        entityRef,
        environment,
        repository: repository ?? '',
        path,
        deployable: false,
      };
      const environmentName = checkEnvironmentName(environment);
      if (!environmentName.ok) {
        return { ...target, reason: environmentName.reason };
      }
      const environmentConfig = config.environments[environment];
      if (!environmentConfig) {
        return {
          ...target,
          reason: `environment "${environment}" is not configured in sealedRunner.environments`,
        };
      }
      const withConfig = { ...target, environmentConfig };
      if (!repositoryCheck.ok) {
        return { ...withConfig, reason: repositoryCheck.reason };
      }
      const pathCheck = checkRelativePath(path);
      if (!pathCheck.ok) {
        return { ...withConfig, reason: `${key}: ${pathCheck.reason}` };
      }
      return {
        ...withConfig,
        deployable: true,
        lockKey: lockKeyOf(environment, repositoryCheck.value, pathCheck.value),
      };
    })
    .sort((a, b) => a.environment.localeCompare(b.environment));
}

/**
 * The vetted modules as the runner checks them: one entry per source, with
 * the versions of every entity that declares it, and the commits they pin.
 * Two entities pinning one tag to different commits vet neither commit.
 */
export function readCatalogModules(
  entities: Entity[],
  vetting: ModuleVetting | undefined,
  onInvalid: (entityRef: string, reason: string) => void,
): CatalogModule[] {
  const modules: CatalogModule[] = [];
  const conflicting = new Set<string>();
  for (const { entityRef, module } of readVettedModuleEntities(
    entities,
    vetting,
    onInvalid,
  )) {
    let existing = modules.find(m => m.source === module.source);
    if (!existing) {
      existing = { source: module.source, versions: [] };
      modules.push(existing);
    }
    existing.versions = [
      ...new Set([...existing.versions, ...module.versions]),
    ];
    for (const [tag, commitSha] of Object.entries(module.commits ?? {})) {
      const key = `${module.source}@${tag}`;
      const pinned = existing.commits?.[tag];
      if (
        conflicting.has(key) ||
        (pinned !== undefined && pinned !== commitSha)
      ) {
        if (!conflicting.has(key)) {
          onInvalid(
            entityRef,
            `${tag} of ${module.source} is pinned to two commits by different entities; it is unpinned`,
          );
        }
        conflicting.add(key);
        delete existing.commits?.[tag];
        continue;
      }
      existing.commits = { ...existing.commits, [tag]: commitSha };
    }
  }
  return modules;
}
