import {
  AuthService,
  BackstageCredentials,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { NotFoundError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  ANNOTATION_TARGET_PREFIX,
  CatalogModule,
  MODULE_ENTITY_SPEC_TYPE,
  repositoryIdentity,
  sameEntityRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { TargetClaimStore } from '../../database/TargetClaimStore';
import {
  locationRank,
  readVettedModuleEntities,
  TargetCheck,
  VettedModuleEntity,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  readCatalogModules,
  ResolvedTarget,
  resolveTargets,
} from './resolveTargets';

/** Resolves deployment targets from the catalog and the environment config. */
export interface TargetResolver {
  /** All targets of an entity the caller can see; NotFoundError if it cannot. */
  listTargets(
    entityRef: string,
    options: { credentials: BackstageCredentials },
  ): Promise<ResolvedTarget[]>;
  /** One target; NotFoundError if the entity or its target annotation is missing. */
  getTarget(
    entityRef: string,
    environment: string,
    options: { credentials: BackstageCredentials },
  ): Promise<ResolvedTarget>;
  /** The vetted module snapshot a job carries to the runner. */
  catalogModules(): Promise<CatalogModule[]>;
  /** The vetted modules with the entities that declare them. */
  vettedModuleEntities(): Promise<VettedModuleEntity[]>;
  /** Who owns the targets of one repository. */
  targetOwners(
    repository: string,
  ): Promise<Array<{ environment: string; path: string; entityRef: string }>>;
}

export function createTargetResolver(options: {
  catalog: CatalogService;
  auth: AuthService;
  logger: LoggerService;
  config: SealedRunnerConfig;
  targetChecks: TargetCheck[];
  claims: TargetClaimStore;
}): TargetResolver {
  const { catalog, auth, logger, config, targetChecks, claims } = options;

  const serviceCredentials = () => auth.getOwnServiceCredentials();

  /** The entities that declare this target deployably now, most trusted first. */
  const declarers = async (target: ResolvedTarget & { lockKey: string }) => {
    const { items } = await catalog.getEntities(
      {
        filter: {
          [`metadata.annotations.${ANNOTATION_TARGET_PREFIX}${target.environment}`]:
            target.path,
        },
      },
      { credentials: await serviceCredentials() },
    );
    return [target.entity, ...items]
      .filter(entity =>
        resolveTargets(entity, config).some(
          t => t.deployable && t.lockKey === target.lockKey,
        ),
      )
      .map(entity => ({
        entityRef: stringifyEntityRef(entity),
        rank: locationRank(entity, config.targets?.locations) ?? Infinity,
      }))
      .sort(
        (x, y) => x.rank - y.rank || x.entityRef.localeCompare(y.entityRef),
      );
  };

  /**
   * One folder, one owner: a target belongs to exactly one entity. The
   * owner is the entity the gate recorded; while it still declares the
   * target, any other entity declaring it is not deployable — it can
   * neither lock it, nor supersede its plans, nor void their approvals. A
   * target without an owner (or whose owner no longer declares it) goes to
   * the most trusted entity declaring it: the one from the first of
   * `targets.locations`, never simply whoever asked first.
   */
  const applyOwnership = async (
    target: ResolvedTarget,
    attempt = 0,
  ): Promise<ResolvedTarget> => {
    if (!target.deployable || !target.lockKey) {
      return target;
    }
    const lockKey = target.lockKey;
    const claim = await claims.getClaim({ lockKey });
    if (claim && sameEntityRef(claim.entityRef, target.entityRef)) {
      return target;
    }
    const notOwned = (owner: string): ResolvedTarget => ({
      ...target,
      deployable: false,
      lockKey: undefined,
      reason: `${target.path} of ${target.repository} in ${target.environment} is the target of ${owner}: a folder belongs to one entity`,
    });
    if (claim) {
      const owner = await catalog.getEntityByRef(claim.entityRef, {
        credentials: await serviceCredentials(),
      });
      if (
        owner &&
        resolveTargets(owner, config).some(
          t => t.deployable && t.lockKey === lockKey,
        )
      ) {
        return notOwned(claim.entityRef);
      }
    }
    const [winner] = await declarers({ ...target, lockKey });
    const now = new Date().toISOString();
    const settled = claim
      ? await claims.transfer({
          lockKey,
          from: claim.entityRef,
          to: winner.entityRef,
          now,
        })
      : sameEntityRef(
          (
            await claims.claim({
              lockKey,
              entityRef: winner.entityRef,
              environment: target.environment,
              repository:
                repositoryIdentity(target.repository) ?? target.repository,
              path: target.path,
              now,
            })
          ).entityRef,
          winner.entityRef,
        );
    if (settled) {
      if (claim) {
        logger.info(
          `Target ${target.path} (${target.environment}) moved from ${claim.entityRef}, which no longer declares it, to ${winner.entityRef}`,
        );
      }
      return sameEntityRef(winner.entityRef, target.entityRef)
        ? target
        : notOwned(winner.entityRef);
    }
    // Another replica settled it first: decide again against its answer.
    return attempt < 3
      ? applyOwnership(target, attempt + 1)
      : {
          ...target,
          deployable: false,
          lockKey: undefined,
          reason: 'its owner is changing; try again',
        };
  };

  const applyTargetChecks = async (
    target: ResolvedTarget,
  ): Promise<ResolvedTarget> => {
    if (!target.deployable) {
      return target;
    }
    for (const check of targetChecks) {
      const reason = await check({
        entity: target.entity,
        environment: target.environment,
        repository: target.repository,
        path: target.path,
      });
      if (reason) {
        return { ...target, deployable: false, reason, lockKey: undefined };
      }
    }
    return target;
  };

  const listTargets: TargetResolver['listTargets'] = async (
    entityRef,
    { credentials },
  ) => {
    // Users see the catalog as the catalog's own permissions allow. A
    // service principal (a CI token) is scoped by its access restrictions
    // to sealed-runner permissions, which the gate checks; it reads the
    // catalog through the plugin rather than needing catalog access too.
    const entity = await catalog.getEntityByRef(entityRef, {
      credentials: auth.isPrincipal(credentials, 'service')
        ? await auth.getOwnServiceCredentials()
        : credentials,
    });
    if (!entity) {
      throw new NotFoundError(
        `entity ${entityRef} was not found in the catalog`,
      );
    }
    const resolved = await Promise.all(
      resolveTargets(entity, config).map(applyTargetChecks),
    );
    return Promise.all(resolved.map(target => applyOwnership(target)));
  };

  // Vetting is the platform team's decision, not the caller's view of the
  // catalog: read it with the plugin's own credentials.
  const moduleEntities = async () => {
    const { items } = await catalog.getEntities(
      { filter: { kind: 'component', 'spec.type': MODULE_ENTITY_SPEC_TYPE } },
      { credentials: await auth.getOwnServiceCredentials() },
    );
    return items;
  };
  const warnInvalid = (ref: string, reason: string) =>
    logger.warn(`Ignoring invalid service-catalog module ${ref}: ${reason}`);

  return {
    listTargets,
    async getTarget(entityRef, environment, { credentials }) {
      const target = (await listTargets(entityRef, { credentials })).find(
        t => t.environment === environment,
      );
      if (!target) {
        throw new NotFoundError(
          `entity ${entityRef} has no target for environment ${environment}`,
        );
      }
      return target;
    },
    async catalogModules() {
      return readCatalogModules(
        await moduleEntities(),
        config.modules,
        warnInvalid,
      );
    },
    async vettedModuleEntities() {
      return readVettedModuleEntities(
        await moduleEntities(),
        config.modules,
        warnInvalid,
      );
    },
    async targetOwners(repository) {
      const identity = repositoryIdentity(repository);
      if (!identity) {
        return [];
      }
      // Only owners that still declare their target: a stale claim passes
      // to the next declarer, which must not be refused meanwhile.
      const owners = [];
      for (const claim of await claims.listClaims({ repository: identity })) {
        const owner = await catalog.getEntityByRef(claim.entityRef, {
          credentials: await serviceCredentials(),
        });
        if (
          owner &&
          resolveTargets(owner, config).some(
            t => t.deployable && t.lockKey === claim.lockKey,
          )
        ) {
          owners.push({
            environment: claim.environment,
            path: claim.path,
            entityRef: claim.entityRef,
          });
        }
      }
      return owners;
    },
  };
}
