import type {
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import {
  Entity,
  getCompoundEntityRef,
  parseEntityRef,
  RELATION_DEPENDENCY_OF,
  RELATION_DEPENDS_ON,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import type { Config } from '@backstage/config';
import { stringifyError } from '@backstage/errors';
import {
  CatalogProcessor,
  CatalogProcessorCache,
  CatalogProcessorEmit,
  LocationSpec,
  processingResult,
} from '@backstage/plugin-catalog-node';
import {
  ANNOTATION_REPOSITORY,
  ANNOTATION_TARGET_PREFIX,
  sameEntityRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { GateTargetOwnerSource } from '../services/TargetOwnerSource/GateTargetOwnerSource';
import type { TargetOwnerSource } from '../services/TargetOwnerSource/types';
import { GateModuleUsageSource } from '../services/ModuleUsageSource/GateModuleUsageSource';
import {
  MAX_MODULE_REFS,
  ModuleUsageCache,
} from '../services/ModuleUsageSource/ModuleUsageCache';
import type { ModuleUsageSource } from '../services/ModuleUsageSource/types';
import {
  checkSealedRunnerAnnotations,
  SealedRunnerAnnotationRules,
} from './checkAnnotations';
import { readAnnotationRules } from './readAnnotationRules';

/** Processor cache key of the last good module refs, kept across restarts and replicas. */
const CACHE_KEY = 'moduleRefs';

/** @public */
export interface SealedRunnerEntityProcessorOptions {
  /** Environment names and repository allowlist; unset rules are not checked. */
  rules: SealedRunnerAnnotationRules;
  /** Where module usage comes from; the gate in production. */
  moduleUsage: ModuleUsageSource;
  /** Who owns each target; the gate in production. Unset: not checked. */
  targetOwners?: TargetOwnerSource;
  logger: LoggerService;
  /** How long a module usage answer is kept. Default 60 s. */
  cacheTtlMs?: number;
  /** Entities whose answers are kept in memory. Default 10,000. */
  cacheMaxEntries?: number;
  /** Milliseconds clock, for tests. Default `Date.now`. */
  now?: () => number;
}

function hasTargets(entity: Entity): boolean {
  return Object.keys(entity.metadata.annotations ?? {}).some(key =>
    key.startsWith(ANNOTATION_TARGET_PREFIX),
  );
}

function cachedRefs(value: unknown): string[] {
  return Array.isArray(value)
    ? value
        .filter((v): v is string => typeof v === 'string')
        .slice(0, MAX_MODULE_REFS)
    : [];
}

/**
 * Checks `sealed-runner.io/*` annotations as the catalog ingests entities,
 * so a wrong target shows up as a processing error on the entity instead of
 * a refused plan later. For deployable entities it relates the entity to
 * the catalog modules its targets use (`dependsOn` / `dependencyOf`), as
 * the runner reported them to the gate.
 *
 * @public
 */
export class SealedRunnerEntityProcessor implements CatalogProcessor {
  /** The processor as the catalog module installs it: rules from app-config, usage from the gate. */
  static fromConfig(
    config: Config,
    options: {
      discovery: DiscoveryService;
      auth: AuthService;
      logger: LoggerService;
    },
  ): SealedRunnerEntityProcessor {
    return new SealedRunnerEntityProcessor({
      rules: readAnnotationRules(config),
      moduleUsage: GateModuleUsageSource.create(options),
      targetOwners: GateTargetOwnerSource.create(options),
      logger: options.logger,
    });
  }

  private readonly rules: SealedRunnerAnnotationRules;
  private readonly moduleUsage: ModuleUsageCache;
  private readonly targetOwners?: TargetOwnerSource;
  private readonly logger: LoggerService;

  constructor(options: SealedRunnerEntityProcessorOptions) {
    this.rules = options.rules;
    this.logger = options.logger;
    this.targetOwners = options.targetOwners;
    this.moduleUsage = new ModuleUsageCache({
      source: options.moduleUsage,
      logger: options.logger,
      ttlMs: options.cacheTtlMs,
      maxEntries: options.cacheMaxEntries,
      now: options.now,
    });
  }

  getProcessorName(): string {
    return 'SealedRunnerEntityProcessor';
  }

  async postProcessEntity(
    entity: Entity,
    location: LocationSpec,
    emit: CatalogProcessorEmit,
    cache: CatalogProcessorCache,
  ): Promise<Entity> {
    const problems = checkSealedRunnerAnnotations(entity, this.rules);
    if (problems.length === 0 && hasTargets(entity)) {
      problems.push(...(await this.ownershipProblems(entity)));
    }
    for (const problem of problems) {
      emit(processingResult.inputError(location, problem));
    }
    // An entity with errors is not stored, so its relations would be
    // dropped anyway; do not ask the gate about it.
    if (problems.length > 0 || !hasTargets(entity)) {
      return entity;
    }
    try {
      await this.emitModuleRelations(entity, emit, cache);
    } catch (error) {
      // Relations are decoration: nothing about them may fail processing.
      this.logger.warn(
        `Could not relate ${stringifyEntityRef(
          entity,
        )} to the modules it uses: ${stringifyError(error)}`,
      );
    }
    return entity;
  }

  /**
   * One folder, one owner: a target another entity owns is a processing
   * error on this one, naming the owner. A new entity with such an error
   * never enters the catalog; a changed one keeps its last good version.
   * When the gate cannot answer, nothing is reported (the gate refuses the
   * target itself when it is planned).
   */
  private async ownershipProblems(entity: Entity): Promise<string[]> {
    const annotations = entity.metadata.annotations ?? {};
    const repository = annotations[ANNOTATION_REPOSITORY];
    if (!this.targetOwners || typeof repository !== 'string') {
      return [];
    }
    const self = stringifyEntityRef(entity);
    let owners;
    try {
      owners = await this.targetOwners.listTargetOwners(repository);
    } catch (error) {
      this.logger.warn(
        `Could not check who owns the targets of ${self}: ${stringifyError(
          error,
        )}`,
      );
      return [];
    }
    const problems: string[] = [];
    for (const [key, path] of Object.entries(annotations)) {
      if (!key.startsWith(ANNOTATION_TARGET_PREFIX)) {
        continue;
      }
      const environment = key.slice(ANNOTATION_TARGET_PREFIX.length);
      const owner = owners.find(
        o => o.environment === environment && o.path === path,
      );
      if (owner && !sameEntityRef(owner.entityRef, self)) {
        problems.push(
          `${key}: ${path} of ${repository} in ${environment} is already the target of ${owner.entityRef}; a folder belongs to one entity`,
        );
      }
    }
    return problems;
  }

  private async emitModuleRelations(
    entity: Entity,
    emit: CatalogProcessorEmit,
    cache: CatalogProcessorCache,
  ) {
    const entityRef = stringifyEntityRef(entity);
    let moduleRefs = await this.moduleUsage.moduleRefs(entityRef);
    if (moduleRefs) {
      await cache.set(CACHE_KEY, moduleRefs);
    } else {
      // No answer since this replica started: keep what the last
      // processing run related, instead of dropping the relations while
      // the gate is away.
      moduleRefs = cachedRefs(await cache.get(CACHE_KEY));
    }
    const self = getCompoundEntityRef(entity);
    for (const ref of moduleRefs) {
      if (ref === entityRef) {
        continue;
      }
      const module = parseEntityRef(ref);
      emit(
        processingResult.relation({
          source: self,
          type: RELATION_DEPENDS_ON,
          target: module,
        }),
      );
      emit(
        processingResult.relation({
          source: module,
          type: RELATION_DEPENDENCY_OF,
          target: self,
        }),
      );
    }
  }
}
