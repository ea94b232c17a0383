import { AuthService } from '@backstage/backend-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  entityRefKey,
  parseTargetRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerTargetResource } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/**
 * Loads target resources for conditional permission decisions: the entity's
 * owners come from the catalog, read with the plugin's own credentials.
 */
export function createTargetResourceLoader(options: {
  catalog: CatalogService;
  auth: AuthService;
}) {
  return async (
    resourceRefs: string[],
  ): Promise<Array<SealedRunnerTargetResource | undefined>> => {
    const targets = resourceRefs.map(parseTargetRef);
    const entityRefs = [
      ...new Set(targets.flatMap(t => (t ? [t.entityRef] : []))),
    ];
    const { items } = await options.catalog.getEntitiesByRefs(
      { entityRefs },
      { credentials: await options.auth.getOwnServiceCredentials() },
    );
    const owners = new Map<string, string[]>();
    for (const entity of items) {
      if (entity) {
        owners.set(
          entityRefKey(stringifyEntityRef(entity)),
          (entity.relations ?? [])
            .filter(r => r.type === 'ownedBy')
            .map(r => r.targetRef),
        );
      }
    }
    return targets.map(target => {
      const entityOwners = target && owners.get(entityRefKey(target.entityRef));
      return target && entityOwners
        ? {
            entityRef: target.entityRef,
            environment: target.environment,
            owners: entityOwners,
          }
        : undefined;
    });
  };
}
