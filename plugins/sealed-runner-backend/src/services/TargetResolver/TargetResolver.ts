import {
  AuthService,
  BackstageCredentials,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { CatalogModule, MODULE_ENTITY_SPEC_TYPE } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  readVettedModuleEntities,
  TargetCheck,
  VettedModuleEntity,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { SealedRunnerConfig } from '../../config';
import { readCatalogModules, ResolvedTarget, resolveTargets } from './resolveTargets';

/** Resolves deployment targets from the catalog and the environment config. */
export interface TargetResolver {
  /** All targets of an entity the caller can see; NotFoundError if it cannot. */
  listTargets(entityRef: string, options: { credentials: BackstageCredentials }): Promise<ResolvedTarget[]>;
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
}

export function createTargetResolver(options: {
  catalog: CatalogService;
  auth: AuthService;
  logger: LoggerService;
  config: SealedRunnerConfig;
  targetChecks: TargetCheck[];
}): TargetResolver {
  const { catalog, auth, logger, config, targetChecks } = options;

  const applyTargetChecks = async (target: ResolvedTarget): Promise<ResolvedTarget> => {
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

  const listTargets: TargetResolver['listTargets'] = async (entityRef, { credentials }) => {
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
      throw new NotFoundError(`entity ${entityRef} was not found in the catalog`);
    }
    return Promise.all(resolveTargets(entity, config).map(applyTargetChecks));
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
        throw new NotFoundError(`entity ${entityRef} has no target for environment ${environment}`);
      }
      return target;
    },
    async catalogModules() {
      return readCatalogModules(await moduleEntities(), config.modules, warnInvalid);
    },
    async vettedModuleEntities() {
      return readVettedModuleEntities(await moduleEntities(), config.modules, warnInvalid);
    },
  };
}
