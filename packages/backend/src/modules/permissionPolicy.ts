import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import {
  breakGlassPermission,
  lockReleasePermission,
  runApprovePermission,
  runReadPermission,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  createSealedRunnerTargetConditionalDecision,
  sealedRunnerTargetConditions,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';

const ALLOW: PolicyDecision = { result: AuthorizeResult.ALLOW };
const DENY: PolicyDecision = { result: AuthorizeResult.DENY };

/**
 * This app's rules for the sealed runner:
 * - every signed-in user may read targets, runs and logs;
 * - owners of an entity may plan, apply and cancel its targets (the gate
 *   still demands the environment's approvals before an apply);
 * - platform-team members may do all of that for every entity, and only
 *   they may approve and force-release locks;
 * - only break-glass groups may use break-glass.
 * Other plugins' permissions (catalog, scaffolder) are allowed: this policy
 * is about the path to production.
 */
export class SealedRunnerPermissionPolicy implements PermissionPolicy {
  constructor(
    private readonly platformGroups: string[],
    private readonly breakGlassGroups: string[],
  ) {}

  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    const { permission } = request;
    if (!permission.name.startsWith('sealed-runner.')) {
      return ALLOW;
    }
    if (!user) {
      return DENY;
    }
    const claims = user.info.ownershipEntityRefs;
    const memberOf = (groups: string[]) =>
      groups.some(group => claims.includes(group));

    if (permission.name === runReadPermission.name) {
      return ALLOW;
    }
    if (permission.name === breakGlassPermission.name) {
      return memberOf(this.breakGlassGroups) ? ALLOW : DENY;
    }
    if (
      permission.name === runApprovePermission.name ||
      permission.name === lockReleasePermission.name
    ) {
      return memberOf(this.platformGroups) ? ALLOW : DENY;
    }
    if (memberOf(this.platformGroups)) {
      return ALLOW;
    }
    if (isResourcePermission(permission, 'sealed-runner-target')) {
      return createSealedRunnerTargetConditionalDecision(
        permission,
        sealedRunnerTargetConditions.isTargetOwner({ claims }),
      );
    }
    return DENY;
  }
}

/** Installs {@link SealedRunnerPermissionPolicy}, configured by `sealedRunnerPolicy`. */
export const sealedRunnerPermissionPolicyModule = createBackendModule({
  pluginId: 'permission',
  moduleId: 'sealed-runner-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint, config: coreServices.rootConfig },
      async init({ policy, config }) {
        policy.setPolicy(
          new SealedRunnerPermissionPolicy(
            config.getStringArray('sealedRunnerPolicy.platformGroups'),
            config.getOptionalStringArray(
              'sealedRunnerPolicy.breakGlassGroups',
            ) ?? [],
          ),
        );
      },
    });
  },
});
