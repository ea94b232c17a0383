import { randomUUID } from 'node:crypto';
import {
  AuditorService,
  AuthService,
  BackstageCredentials,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  breakGlassPermission,
  BreakGlassSession,
  DEFAULT_BREAK_GLASS_DURATION_MINUTES,
  runReadPermission,
  sameEntityRef,
  stringifyTargetRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { BreakGlassStore } from '../../database/BreakGlassStore';
import { createAudited } from '../audit';
import { actorOf, requireHuman } from '../principals';
import { listReadable } from '../readable';
import { TargetResolver } from '../TargetResolver/TargetResolver';
import { BreakGlassService } from './types';

export function createBreakGlassService(options: {
  store: BreakGlassStore;
  targets: TargetResolver;
  permissions: PermissionsService;
  auth: AuthService;
  auditor: AuditorService;
  config: Pick<SealedRunnerConfig, 'breakGlass'>;
}): BreakGlassService {
  const { store, targets, permissions, auth, auditor, config } = options;
  const audited = createAudited(auditor);
  const now = () => new Date().toISOString();

  async function allowed(
    permission: typeof breakGlassPermission,
    target: { entityRef: string; environment: string },
    credentials: BackstageCredentials,
  ): Promise<boolean> {
    const [decision] = await permissions.authorize(
      [{ permission, resourceRef: stringifyTargetRef(target) }],
      { credentials },
    );
    return decision.result === AuthorizeResult.ALLOW;
  }

  async function requireBreakGlass(
    target: { entityRef: string; environment: string },
    credentials: BackstageCredentials,
  ) {
    if (!(await allowed(breakGlassPermission, target, credentials))) {
      throw new NotAllowedError(
        `you may not use break-glass on ${target.entityRef} in ${target.environment}`,
      );
    }
  }

  /** A session the caller may read; one they may not read does not exist for them. */
  async function loadSession(id: string, credentials: BackstageCredentials) {
    const session = await store.getSession(id);
    if (!session || !(await allowed(runReadPermission, session, credentials))) {
      throw new NotFoundError(`break-glass session ${id} does not exist`);
    }
    return session;
  }

  async function auditExpired(session: BreakGlassSession) {
    const event = await auditor.createEvent({
      eventId: 'break-glass-expire',
      severityLevel: 'critical',
      meta: {
        sessionId: session.id,
        entityRef: session.entityRef,
        environment: session.environment,
        openedBy: session.openedBy,
        expiresAt: session.expiresAt,
        uses: session.uses.map(u => u.runId),
      },
    });
    await event.success();
  }

  async function expireSessions(): Promise<number> {
    const expired = await store.expireSessions(now());
    for (const session of expired) {
      await auditExpired(session);
    }
    return expired.length;
  }

  return {
    async open(request, { credentials, request: httpRequest }) {
      const actor = actorOf(auth, credentials);
      return audited(
        httpRequest,
        'break-glass-open',
        'critical',
        {
          actor,
          entityRef: request.entityRef,
          environment: request.environment,
          reason: request.reason,
          ticket: request.ticket ?? null,
          durationMinutes: request.durationMinutes ?? null,
        },
        async () => {
          requireHuman(auth, credentials, 'open a break-glass session');
          const max = config.breakGlass.maxDurationMinutes;
          const minutes =
            request.durationMinutes ??
            Math.min(DEFAULT_BREAK_GLASS_DURATION_MINUTES, max);
          if (minutes > max) {
            throw new InputError(
              `Invalid request body: durationMinutes must be at most ${max} (sealedRunner.breakGlass.maxDurationMinutes)`,
            );
          }
          const target = await targets.getTarget(
            request.entityRef,
            request.environment,
            { credentials },
          );
          await requireBreakGlass(target, credentials);
          if (!target.deployable) {
            throw new ConflictError(
              `${target.entityRef} is not deployable to ${target.environment}: ${target.reason}; break-glass does not change that`,
            );
          }
          const openedAt = new Date();
          const { session, expired } = await store.openSession({
            id: randomUUID(),
            entityRef: target.entityRef,
            environment: target.environment,
            openedBy: credentials.principal.userEntityRef,
            reason: request.reason,
            ...(request.ticket ? { ticket: request.ticket } : {}),
            openedAt: openedAt.toISOString(),
            expiresAt: new Date(
              openedAt.getTime() + minutes * 60_000,
            ).toISOString(),
          });
          for (const old of expired) {
            await auditExpired(old);
          }
          return session;
        },
        session => ({ sessionId: session.id, expiresAt: session.expiresAt }),
      );
    },

    async list(query, { credentials }) {
      const at = now();
      return listReadable({
        permissions,
        credentials,
        limit: query.limit ?? 50,
        readPage: page => store.listSessions({ ...query, now: at, ...page }),
      });
    },

    async close(sessionId, note, { credentials, request: httpRequest }) {
      const actor = actorOf(auth, credentials);
      return audited(
        httpRequest,
        'break-glass-close',
        'critical',
        { actor, sessionId, note: note ?? null },
        async () => {
          requireHuman(auth, credentials, 'close a break-glass session');
          const session = await loadSession(sessionId, credentials);
          if (!sameEntityRef(session.openedBy, actor)) {
            await requireBreakGlass(session, credentials);
          }
          // A session whose time ran out is recorded (and audited) as expired first.
          await expireSessions();
          return store.closeSession(sessionId, { by: actor, note, now: now() });
        },
        session => ({
          entityRef: session.entityRef,
          environment: session.environment,
          openedBy: session.openedBy,
          uses: session.uses.map(u => u.runId),
        }),
      );
    },

    expireSessions,

    async usableSession(target, credentials) {
      if (!auth.isPrincipal(credentials, 'user')) {
        return undefined;
      }
      const session = await store.activeSession(
        target.entityRef,
        target.environment,
        now(),
      );
      if (
        !session ||
        !sameEntityRef(session.openedBy, credentials.principal.userEntityRef)
      ) {
        return undefined;
      }
      // The session's power lasts only while its opener holds the permission.
      if (!(await allowed(breakGlassPermission, target, credentials))) {
        throw new NotAllowedError(
          `break-glass session ${session.id} is open, but you no longer hold sealed-runner.breakglass on ${target.entityRef} in ${target.environment}`,
        );
      }
      return session;
    },

    async auditUse(session, run, bypassed, request) {
      const event = await auditor.createEvent({
        eventId: 'break-glass-use',
        severityLevel: 'critical',
        request,
        meta: {
          sessionId: session.id,
          runId: run.id,
          planRunId: run.planRunId ?? null,
          operation: run.operation,
          entityRef: run.entityRef,
          environment: run.environment,
          ref: run.ref,
          commitSha: run.commitSha,
          actor: run.requestedBy,
          bypassed,
        },
      });
      await event.success();
    },
  };
}
