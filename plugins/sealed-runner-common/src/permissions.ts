import { createPermission } from '@backstage/plugin-permission-common';

/**
 * Resource type of sealed-runner permissions: a target, that is one entity in
 * one environment. Policies can condition on its owners and environment.
 *
 * @public
 */
export const SEALED_RUNNER_TARGET_RESOURCE_TYPE = 'sealed-runner-target';

/** @public */
export const runReadPermission = createPermission({
  name: 'sealed-runner.run.read',
  attributes: { action: 'read' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/** @public */
export const runPlanPermission = createPermission({
  name: 'sealed-runner.run.plan',
  attributes: { action: 'create' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/** @public */
export const runApplyPermission = createPermission({
  name: 'sealed-runner.run.apply',
  attributes: { action: 'update' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/** @public */
export const runApprovePermission = createPermission({
  name: 'sealed-runner.run.approve',
  attributes: { action: 'update' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/** @public */
export const runCancelPermission = createPermission({
  name: 'sealed-runner.run.cancel',
  attributes: { action: 'update' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/** @public */
export const breakGlassPermission = createPermission({
  name: 'sealed-runner.breakglass',
  attributes: { action: 'update' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/**
 * Force-releases a target's lock by ending the run holding it (a stuck or
 * unreachable runner). An admin action, always audited as critical.
 * Extension beyond the v1 contract.
 *
 * @public
 */
export const lockReleasePermission = createPermission({
  name: 'sealed-runner.lock.release',
  attributes: { action: 'update' },
  resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
});

/**
 * Every permission of the suite, for registration by the backend.
 *
 * @public
 */
export const sealedRunnerPermissions = [
  runReadPermission,
  runPlanPermission,
  runApplyPermission,
  runApprovePermission,
  runCancelPermission,
  breakGlassPermission,
  lockReleasePermission,
];

/**
 * The resource ref of a target in permission requests:
 * `<entityRef>#<environment>`. Entity refs cannot contain `#`.
 *
 * @public
 */
export function stringifyTargetRef(target: {
  entityRef: string;
  environment: string;
}): string {
  return `${target.entityRef}#${target.environment}`;
}

/** @public */
export function parseTargetRef(
  ref: string,
): { entityRef: string; environment: string } | undefined {
  const hash = ref.lastIndexOf('#');
  if (hash <= 0 || hash === ref.length - 1) {
    return undefined;
  }
  return { entityRef: ref.slice(0, hash), environment: ref.slice(hash + 1) };
}
