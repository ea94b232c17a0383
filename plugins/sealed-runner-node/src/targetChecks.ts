import { createExtensionPoint } from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';

/**
 * What an extra target check sees: the entity, the environment, and the
 * target as the gate resolved it.
 *
 * @public
 */
export interface TargetCheckContext {
  entity: Entity;
  environment: string;
  repository: string;
  path: string;
}

/**
 * A platform team's own rule for deployability. Returns a reason to make
 * the target non-deployable, or undefined to let it pass. Checks can only
 * refuse, never allow something the built-in rules refuse.
 *
 * @public
 */
export type TargetCheck = (
  context: TargetCheckContext,
) => Promise<string | undefined> | string | undefined;

/** @public */
export interface SealedRunnerTargetChecksExtensionPoint {
  addTargetCheck(check: TargetCheck): void;
}

/** @public */
export const sealedRunnerTargetChecksExtensionPoint =
  createExtensionPoint<SealedRunnerTargetChecksExtensionPoint>({
    id: 'sealed-runner.target-checks',
  });
