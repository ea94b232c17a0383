import {
  AuditorService,
  AuditorServiceEventSeverityLevel,
  AuthService,
  BackstageCredentials,
} from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import { JsonObject } from '@backstage/types';
import { Request } from 'express';

/** Who is asking: a user entity ref, or a service principal's subject. */
export function actorOf(auth: AuthService, credentials: BackstageCredentials): string {
  if (auth.isPrincipal(credentials, 'user')) {
    return credentials.principal.userEntityRef;
  }
  if (auth.isPrincipal(credentials, 'service')) {
    return credentials.principal.subject;
  }
  throw new NotAllowedError('anonymous callers cannot use the sealed runner');
}

/** Records an audit event around an action, with its outcome. */
export type Audited = <T>(
  request: Request | undefined,
  eventId: string,
  severityLevel: AuditorServiceEventSeverityLevel,
  meta: JsonObject,
  action: () => Promise<T>,
  successMeta?: (result: T) => JsonObject,
) => Promise<T>;

export function createAudited(auditor: AuditorService): Audited {
  return async (request, eventId, severityLevel, meta, action, successMeta = () => ({})) => {
    const event = await auditor.createEvent({ eventId, severityLevel, meta, request });
    try {
      const result = await action();
      await event.success({ meta: successMeta(result) });
      return result;
    } catch (error) {
      await event.fail({ error: error as Error });
      throw error;
    }
  };
}
