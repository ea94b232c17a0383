import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { PolicyQueryUser } from '@backstage/plugin-permission-node';
import {
  breakGlassPermission,
  lockReleasePermission,
  runApplyPermission,
  runApprovePermission,
  runReadPermission,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerPermissionPolicy } from './permissionPolicy';

const PLATFORM = 'group:default/platform-team';
const ADMINS = 'group:default/platform-admins';

function user(ref: string, groups: string[]): PolicyQueryUser {
  return {
    identity: {
      type: 'user',
      userEntityRef: ref,
      ownershipEntityRefs: [ref, ...groups],
    },
    info: { userEntityRef: ref, ownershipEntityRefs: [ref, ...groups] },
    credentials: {} as PolicyQueryUser['credentials'],
    token: 'token',
    expiresInSeconds: 3600,
  } as PolicyQueryUser;
}

const pat = user('user:default/pat', [PLATFORM]);
const erin = user('user:default/erin', ['group:default/payments-team']);
const root = user('user:default/root', [ADMINS]);

describe('SealedRunnerPermissionPolicy', () => {
  // The demo's configuration: platform-team approves and holds break-glass.
  const demo = new SealedRunnerPermissionPolicy([PLATFORM], [PLATFORM]);
  // Production's: break-glass only for a separate admin group.
  const production = new SealedRunnerPermissionPolicy([PLATFORM], [ADMINS]);
  const unset = new SealedRunnerPermissionPolicy([PLATFORM], []);

  it.each([
    [
      'the demo: Pat (platform-team) holds break-glass',
      demo,
      pat,
      AuthorizeResult.ALLOW,
    ],
    ['the demo: Erin (an owner) does not', demo, erin, AuthorizeResult.DENY],
    [
      'production: platform-team alone does not',
      production,
      pat,
      AuthorizeResult.DENY,
    ],
    ['production: platform-admins do', production, root, AuthorizeResult.ALLOW],
    ['no break-glass groups: nobody', unset, pat, AuthorizeResult.DENY],
    ['no user at all: nobody', demo, undefined, AuthorizeResult.DENY],
  ] as const)('%s', async (_, policy, who, result) => {
    expect(
      await policy.handle({ permission: breakGlassPermission }, who),
    ).toEqual({ result });
  });

  it('does not let break-glass groups approve, release locks or apply beyond what they otherwise may', async () => {
    const breakGlassOnly = new SealedRunnerPermissionPolicy(
      [PLATFORM],
      [ADMINS],
    );
    for (const permission of [runApprovePermission, lockReleasePermission]) {
      expect(await breakGlassOnly.handle({ permission }, root)).toEqual({
        result: AuthorizeResult.DENY,
      });
    }
    // Applying is decided by ownership (a conditional decision), not by break-glass.
    expect(
      await breakGlassOnly.handle({ permission: runApplyPermission }, root),
    ).toMatchObject({
      result: AuthorizeResult.CONDITIONAL,
    });
    expect(
      await breakGlassOnly.handle({ permission: runReadPermission }, root),
    ).toEqual({
      result: AuthorizeResult.ALLOW,
    });
  });
});
