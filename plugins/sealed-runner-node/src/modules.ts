import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ANNOTATION_MODULE_SOURCE,
  ANNOTATION_MODULE_VERSIONS,
  CatalogModule,
  includesEntityRef,
  MODULE_ENTITY_SPEC_TYPE,
  parseCatalogModule,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { isFromLocation } from './locations';

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
 * Who may vet a module (`sealedRunner.modules`). A catalog entity's owner
 * is whatever its YAML says, so `owners` alone lets anyone who can register
 * a location claim the platform team's name; `locations` names where vetted
 * modules may come from, checked against the origin location the catalog
 * itself records (it overwrites whatever the YAML claims).
 *
 * @public
 */
export interface ModuleVetting {
  /** Only entities owned by these refs count. */
  owners?: string[];
  /**
   * Only entities whose origin location is one of these location refs
   * (`url:https://…`, `file:/abs/path`), or starts with one ending in `*`.
   */
  locations?: string[];
}

/**
 * The `terraform-module` entities that count as vetted: with
 * `modules.owners` set, only entities owned by those refs; with
 * `modules.locations` set, only entities from those catalog locations —
 * whoever can register an entity must not be able to vet their own module.
 * Entities with malformed annotations are reported and skipped. The gate,
 * the scaffolder actions and the catalog module all vet with this.
 *
 * @public
 */
export function readVettedModuleEntities(
  entities: Entity[],
  vetting: ModuleVetting | undefined,
  onInvalid: (entityRef: string, reason: string) => void,
): VettedModuleEntity[] {
  const owners = vetting?.owners;
  const locations = vetting?.locations;
  const vetted: VettedModuleEntity[] = [];
  for (const entity of entities) {
    if (
      (entity.spec as { type?: unknown } | undefined)?.type !==
      MODULE_ENTITY_SPEC_TYPE
    ) {
      continue;
    }
    if (owners) {
      const ownedBy = (entity.relations ?? [])
        .filter(r => r.type === 'ownedBy')
        .map(r => r.targetRef);
      if (!owners.some(o => includesEntityRef(ownedBy, o))) {
        continue;
      }
    }
    if (locations && !isFromLocation(entity, locations)) {
      continue;
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
      vetted.push({
        entityRef: stringifyEntityRef(entity),
        module: module.value,
      });
    } else {
      onInvalid(stringifyEntityRef(entity), module.reason);
    }
  }
  return vetted;
}
