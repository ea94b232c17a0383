import {
  AuthService,
  BackstageCredentials,
  BackstageUserPrincipal,
} from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';

/**
 * How a service principal is recorded: never as a user ref, whatever its
 * token's subject looks like (a static token may be given the subject
 * `user:default/pat`; a jwks token's subject is the issuer's claim).
 */
export const SERVICE_ACTOR_PREFIX = 'service:';

/** True for an actor `actorOf` recorded for a service principal. */
export function isServiceActor(actor: string): boolean {
  return actor.startsWith(SERVICE_ACTOR_PREFIX);
}

/** Who is asking: a user entity ref, or `service:<subject>` for a service principal. */
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
