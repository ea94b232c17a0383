import { resolve } from 'node:path';
import { ANNOTATION_ORIGIN_LOCATION, Entity } from '@backstage/catalog-model';

/**
 * A `modules.locations` or `targets.locations` entry as the catalog spells
 * origin locations: a relative `file:` target resolves against the working
 * directory, as the catalog resolves the app-config's file locations.
 *
 * @public
 */
export function resolveLocationRef(entry: string): string {
  return entry.startsWith('file:') && !entry.startsWith('file:/')
    ? `file:${resolve(entry.slice('file:'.length))}${
        entry.endsWith('/*') ? '/*' : ''
      }`
    : entry;
}

/**
 * Whether the catalog recorded an entity as coming from one of these
 * locations (exact, or under one ending in `*`). The origin location is
 * the catalog's own record — it overwrites whatever an entity's YAML
 * claims — so who registers an entity cannot choose it.
 *
 * @public
 */
export function isFromLocation(
  entity: Entity,
  locations: readonly string[],
): boolean {
  const origin = entity.metadata.annotations?.[ANNOTATION_ORIGIN_LOCATION];
  return (
    typeof origin === 'string' &&
    locations.some(location =>
      location.endsWith('*')
        ? origin.startsWith(location.slice(0, -1))
        : origin === location,
    )
  );
}

/**
 * How trusted an entity's origin is: the index of the first of `locations`
 * it comes from (the platform team lists its own first), or undefined if
 * none. Without a list every entity ranks 0.
 *
 * @public
 */
export function locationRank(
  entity: Entity,
  locations: readonly string[] | undefined,
): number | undefined {
  if (!locations) {
    return 0;
  }
  const rank = locations.findIndex(location =>
    isFromLocation(entity, [location]),
  );
  return rank === -1 ? undefined : rank;
}

/** The origin location the catalog recorded for an entity, for reasons. */
export function originLocationOf(entity: Entity): string | undefined {
  const origin = entity.metadata.annotations?.[ANNOTATION_ORIGIN_LOCATION];
  return typeof origin === 'string' ? origin : undefined;
}
