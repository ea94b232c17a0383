import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ANNOTATION_MODULE_SOURCE,
  ANNOTATION_MODULE_VERSIONS,
  CatalogModule,
  MODULE_ENTITY_SPEC_TYPE,
  parseCatalogModule,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * A vetted service-catalog module and the catalog entity that declares it.
 *
 * @public
 */
export interface VettedModuleEntity {
  entityRef: string;
  module: CatalogModule;
}

/**
 * The `terraform-module` entities that count as vetted. With
 * `modules.owners` set, only entities owned by those refs count: whoever
 * can register an entity must not be able to vet their own module.
 * Entities with malformed annotations are reported and skipped. The gate,
 * the scaffolder actions and the catalog module all vet with this.
 *
 * @public
 */
export function readVettedModuleEntities(
  entities: Entity[],
  owners: string[] | undefined,
  onInvalid: (entityRef: string, reason: string) => void,
): VettedModuleEntity[] {
  const vetted: VettedModuleEntity[] = [];
  for (const entity of entities) {
    if ((entity.spec as { type?: unknown } | undefined)?.type !== MODULE_ENTITY_SPEC_TYPE) {
      continue;
    }
    if (owners) {
      const ownedBy = (entity.relations ?? [])
        .filter(r => r.type === 'ownedBy')
        .map(r => r.targetRef.toLocaleLowerCase('en-US'));
      if (!owners.some(o => ownedBy.includes(o.toLocaleLowerCase('en-US')))) {
        continue;
      }
    }
    const annotations = entity.metadata.annotations ?? {};
    if (annotations[ANNOTATION_MODULE_SOURCE] === undefined) {
      continue;
    }
    const module = parseCatalogModule(
      annotations[ANNOTATION_MODULE_SOURCE],
      annotations[ANNOTATION_MODULE_VERSIONS],
    );
    if (module.ok) {
      vetted.push({ entityRef: stringifyEntityRef(entity), module: module.value });
    } else {
      onInvalid(stringifyEntityRef(entity), module.reason);
    }
  }
  return vetted;
}
