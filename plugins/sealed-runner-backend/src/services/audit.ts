import {
  AuditorService,
  AuditorServiceEventSeverityLevel,
} from '@backstage/backend-plugin-api';
import { JsonObject } from '@backstage/types';
import { Request } from 'express';

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
  return async (
    request,
    eventId,
    severityLevel,
    meta,
    action,
    successMeta = () => ({}),
  ) => {
    const event = await auditor.createEvent({
      eventId,
      severityLevel,
      meta,
      request,
    });
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
