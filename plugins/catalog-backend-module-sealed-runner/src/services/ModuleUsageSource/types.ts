import type { ModuleUsage } from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * Where the module versions an entity's targets use come from. The default
 * asks the gate (`GET /api/sealed-runner/modules`), which knows what the
 * runner reported for each target's newest successful plan.
 *
 * @public
 */
export interface ModuleUsageSource {
  /**
   * The module usage of one entity's targets. Resolves to an empty list
   * when the source does not know the entity (yet); rejects when it cannot
   * answer.
   */
  listModuleUsage(entityRef: string): Promise<ModuleUsage[]>;
}
