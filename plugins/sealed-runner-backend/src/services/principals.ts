import {
  AuthService,
  BackstageCredentials,
  BackstageUserPrincipal,
} from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import { SERVICE_ACTOR_PREFIX } from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * Who is asking: a user entity ref, or `service:<subject>` for a service
 * principal — never a user ref, whatever its subject looks like (a static
 * token may be given the subject `user:default/pat`).
 */
export function actorOf(
  auth: AuthService,
  credentials: BackstageCredentials,
): string {
  if (auth.isPrincipal(credentials, 'user')) {
    return credentials.principal.userEntityRef;
  }
  if (auth.isPrincipal(credentials, 'service')) {
    return `${SERVICE_ACTOR_PREFIX}${credentials.principal.subject}`;
  }
  throw new NotAllowedError('anonymous callers cannot use the sealed runner');
}

/**
 * Refuses `action` to anything but a signed-in user. Backstage does not run
 * the permission policy for service principals (a token restricted to the
 * plugin without a permission list is allowed everything), so the actions
 * that must stay with people are refused here, by the gate itself.
 */
export function requireHuman(
  auth: AuthService,
  credentials: BackstageCredentials,
  action: string,
): asserts credentials is BackstageCredentials<BackstageUserPrincipal> {
  if (!auth.isPrincipal(credentials, 'user')) {
    throw new NotAllowedError(
      `only people can ${action}: a service principal (${actorOf(
        auth,
        credentials,
      )}) never can, whatever its token allows`,
    );
  }
}
