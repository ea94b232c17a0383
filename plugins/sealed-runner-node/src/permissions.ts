import {
  createConditionExports,
  createPermissionResourceRef,
  makeCreatePermissionRule,
} from '@backstage/plugin-permission-node';
import { SEALED_RUNNER_TARGET_RESOURCE_TYPE } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';

/**
 * The resource that sealed-runner permissions are checked against: a target
 * (entity + environment) with the entity's owners.
 *
 * @public
 */
export interface SealedRunnerTargetResource {
  entityRef: string;
  environment: string;
  /** Entity refs from the entity's `ownedBy` relations. */
  owners: string[];
}

/** @public */
export type SealedRunnerTargetQuery = {
  owners?: string[];
  environments?: string[];
};

/** @public */
export const sealedRunnerTargetResourceRef = createPermissionResourceRef<
  SealedRunnerTargetResource,
  SealedRunnerTargetQuery
>().with({
  pluginId: 'sealed-runner',
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

const createTargetRule = makeCreatePermissionRule<
  SealedRunnerTargetResource,
  SealedRunnerTargetQuery,
  typeof SEALED_RUNNER_TARGET_RESOURCE_TYPE
>();

const isTargetOwner = createTargetRule({
  name: 'IS_TARGET_OWNER',
  description:
    'Allow when the user (or a group they belong to) owns the entity',
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
  paramsSchema: z.object({
    claims: z
      .array(z.string())
      .describe(
        'Ownership entity refs of the user, e.g. from user.info.ownershipEntityRefs',
      ),
  }),
  apply: (resource, { claims }) =>
    resource.owners.some(owner => claims.includes(owner)),
  toQuery: ({ claims }) => ({ owners: claims }),
});

const isEnvironment = createTargetRule({
  name: 'IS_ENVIRONMENT',
  description: 'Allow when the target is in one of the given environments',
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
  paramsSchema: z.object({
    environments: z.array(z.string()).describe('Environment names'),
  }),
  apply: (resource, { environments }) =>
    environments.includes(resource.environment),
  toQuery: ({ environments }) => ({ environments }),
});

/**
 * The permission rules of the sealed-runner target resource.
 *
 * @public
 */
export const sealedRunnerTargetRules = { isTargetOwner, isEnvironment };

const { conditions, createConditionalDecision } = createConditionExports({
  resourceRef: sealedRunnerTargetResourceRef,
  rules: sealedRunnerTargetRules,
});

/**
 * Condition factories for permission policies, e.g.
 * `sealedRunnerTargetConditions.isEnvironment({ environments: ['dev'] })`.
 *
 * @public
 */
export const sealedRunnerTargetConditions = conditions;

/**
 * Wraps sealed-runner target conditions into a conditional policy decision.
 *
 * @public
 */
export const createSealedRunnerTargetConditionalDecision =
  createConditionalDecision;
