import { generateKeyPairSync } from 'node:crypto';
import {
  BackstageCredentials,
  BackstageUserInfo,
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { Entity } from '@backstage/catalog-model';
import { InputError } from '@backstage/errors';
import { JsonObject } from '@backstage/types';

/** The people of the tests and what they own or belong to. */
export const USERS = {
  erin: 'user:default/erin',
  sam: 'user:default/sam',
  pat: 'user:default/pat',
  quinn: 'user:default/quinn',
} as const;

export const GROUPS = {
  payments: 'group:default/payments-team',
  platform: 'group:default/platform-team',
} as const;

/** erin and sam own payments services; pat is a platform approver; quinn is nobody. */
export const OWNERSHIP: Record<string, string[]> = {
  [USERS.erin]: [USERS.erin, GROUPS.payments],
  [USERS.sam]: [USERS.sam, GROUPS.payments],
  [USERS.pat]: [USERS.pat, GROUPS.platform],
  [USERS.quinn]: [USERS.quinn],
};

/** `userInfo` that resolves the ownership refs above, as the catalog would. */
export const userInfoFactory = createServiceFactory({
  service: coreServices.userInfo,
  deps: {},
  factory: () => ({
    async getUserInfo(
      credentials: BackstageCredentials,
    ): Promise<BackstageUserInfo> {
      const principal = credentials.principal as {
        type: string;
        userEntityRef?: string;
      };
      if (principal.type !== 'user' || !principal.userEntityRef) {
        throw new InputError(
          `no user info for principal type '${principal.type}'`,
        );
      }
      const ref = principal.userEntityRef;
      return {
        userEntityRef: ref,
        ownershipEntityRefs: OWNERSHIP[ref] ?? [ref],
      };
    },
  }),
});

export const MODULE_SOURCE =
  'git::file:///srv/git/service-catalog.git//modules/web-service';

/** A deployable service with targets dev and prod, each in its own folder. */
export function service(
  name: string,
  repository: string,
  options: { owner?: string; annotations?: Record<string, string> } = {},
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name,
      namespace: 'default',
      annotations: {
        'sealed-runner.io/repository': repository,
        'sealed-runner.io/target.dev': `live/dev/${name}`,
        'sealed-runner.io/target.prod': `live/prod/${name}`,
        ...options.annotations,
      },
    },
    spec: {
      type: 'service',
      owner: options.owner ?? GROUPS.payments,
      lifecycle: 'production',
    },
    relations: [
      { type: 'ownedBy', targetRef: options.owner ?? GROUPS.payments },
    ],
  };
}

export function terraformModule(
  name: string,
  owner: string,
  source: string,
  versions: string,
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name,
      namespace: 'default',
      annotations: {
        'sealed-runner.io/module-source': source,
        'sealed-runner.io/module-versions': versions,
      },
    },
    spec: { type: 'terraform-module', owner, lifecycle: 'production' },
    relations: [{ type: 'ownedBy', targetRef: owner }],
  };
}

/** The gate's job signing key in the tests. */
export const JOB_SIGNING_KEYS = generateKeyPairSync('ed25519');

/** The `sealedRunner` config of the tests: dev is open, prod needs a platform approval of main. */
export function sealedRunnerConfig(repository: string): JsonObject {
  return {
    jobSigning: {
      privateKey: JOB_SIGNING_KEYS.privateKey
        .export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    },
    repositories: [repository],
    environments: {
      dev: { applyBranches: ['*'], requiredApprovals: 0 },
      prod: {
        applyBranches: ['main'],
        requiredApprovals: 1,
        approvers: [GROUPS.platform],
      },
    },
    modules: { owners: [GROUPS.platform] },
    runner: { type: 'fake', reconcileIntervalSeconds: 3600 },
  };
}
