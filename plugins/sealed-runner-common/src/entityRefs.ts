/**
 * The form an entity ref is compared and indexed by. Backstage compares
 * entity refs case-insensitively (`user:default/Pat` is
 * `user:default/pat`), so every comparison, map key and lookup of a ref in
 * the suite goes through this.
 *
 * @public
 */
export function entityRefKey(ref: string): string {
  return ref.toLocaleLowerCase('en-US');
}

/**
 * Whether two entity refs name the same entity, as Backstage compares them.
 *
 * @public
 */
export function sameEntityRef(a: string, b: string): boolean {
  return entityRefKey(a) === entityRefKey(b);
}

/**
 * Whether a ref is one of a list of refs.
 *
 * @public
 */
export function includesEntityRef(
  refs: readonly string[],
  ref: string,
): boolean {
  return refs.some(other => sameEntityRef(other, ref));
}
