/** The commit a vetted tag of a catalog module is pinned to. */
export interface ModulePin {
  /** Canonical module source without `?ref=`. */
  source: string;
  tag: string;
  commitSha: string;
  /** `catalog`: named in the module entity; `resolved`: the tag's commit when the gate first saw it vetted. */
  origin: 'catalog' | 'resolved';
  pinnedAt: string;
}

/**
 * Persistence of module pins: the first pin of a tag wins (across
 * replicas), and only a pin the catalog names replaces another.
 */
export interface ModulePinStore {
  /** The pins of these tags of one source that exist. */
  listPins(options: {
    source: string;
    tags: readonly string[];
  }): Promise<ModulePin[]>;
  /**
   * Records a pin. A `resolved` pin is added only where the tag has none
   * (the existing one is returned); a `catalog` pin replaces any other.
   * `replaced` is the pin it replaced, when the commit changed.
   */
  pin(
    pin: Omit<ModulePin, 'pinnedAt'> & { now: string },
  ): Promise<{ pin: ModulePin; replaced?: ModulePin }>;
}
