import { Entity } from '@backstage/catalog-model';
import {
  ANNOTATION_REPOSITORY,
  ANNOTATION_TARGET_PREFIX,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * Whether an entity declares deployment targets (or a repository for them),
 * so it gets the Deployments tab and card. Module entities, which only
 * carry `module-source`/`module-versions`, do not.
 *
 * @public
 */
export function isSealedRunnerAvailable(entity: Entity): boolean {
  return Object.keys(entity.metadata.annotations ?? {}).some(
    key =>
      key === ANNOTATION_REPOSITORY || key.startsWith(ANNOTATION_TARGET_PREFIX),
  );
}
