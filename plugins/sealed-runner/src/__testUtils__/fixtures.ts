import { Entity } from '@backstage/catalog-model';
import {
  BreakGlassSession,
  Run,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerApi } from '../api';

/** The entity the fixtures deploy. */
export const ENTITY_REF = 'component:default/payments';

export const ALICE = 'user:default/alice';
export const BOB = 'user:default/bob';
export const PLATFORM_TEAM = 'group:default/platform-team';

/** A finished, approvable plan of `main` in prod, requested by Alice. */
export function makeRun(overrides: Partial<Run> = {}): Run {
  return {
    id: 'run-plan-1',
    entityRef: ENTITY_REF,
    environment: 'prod',
    operation: 'plan',
    status: 'succeeded',
    ref: 'main',
    commitSha: '0123456789abcdef0123456789abcdef01234567',
    requestedBy: ALICE,
    createdAt: '2024-05-01T10:00:00.000Z',
    startedAt: '2024-05-01T10:00:05.000Z',
    finishedAt: '2024-05-01T10:01:00.000Z',
    plan: { add: 2, change: 0, destroy: 0 },
    approvals: [],
    ...overrides,
  };
}

/**
 * An open break-glass session of Bob (a platform admin) on the prod target,
 * ending an hour from now.
 */
export function makeSession(
  overrides: Partial<BreakGlassSession> = {},
): BreakGlassSession {
  const session: BreakGlassSession = {
    id: 'session-1',
    entityRef: ENTITY_REF,
    environment: 'prod',
    openedBy: BOB,
    reason: 'payments API down, hotfix INC-4711',
    ticket: 'INC-4711',
    openedAt: new Date(Date.now() - 60_000).toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    uses: [],
    ...overrides,
  };
  if (session.ticket === undefined) {
    delete session.ticket;
  }
  return session;
}

/** A deployable, unlocked prod target of the entity needing one approval. */
export function makeTarget(overrides: Partial<Target> = {}): Target {
  return {
    entityRef: ENTITY_REF,
    environment: 'prod',
    repository: 'https://github.com/acme/infrastructure-live',
    path: 'payments/prod',
    applyBranches: ['main'],
    requiredApprovals: 1,
    deployable: true,
    sandboxed: true,
    locked: false,
    ...overrides,
  };
}

/** The catalog entity the fixtures' targets belong to. */
export const deployableEntity: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: {
    name: 'payments',
    namespace: 'default',
    annotations: {
      'sealed-runner.io/repository':
        'https://github.com/acme/infrastructure-live',
      'sealed-runner.io/target.dev': 'payments/dev',
    },
  },
  spec: {
    type: 'service',
    owner: 'group:default/payments-team',
    lifecycle: 'production',
  },
};

/**
 * A `SealedRunnerApi` whose every method is a `jest.fn`. By default nothing
 * exists and a log stream ends at once; override per test.
 */
export function mockSealedRunnerApi(
  overrides: Partial<SealedRunnerApi> = {},
): jest.Mocked<SealedRunnerApi> {
  return {
    listTargets: jest.fn(async () => []),
    listModuleUsage: jest.fn(async () => []),
    requestPlan: jest.fn(async () => makeRun({ status: 'queued' })),
    approve: jest.fn(async (id: string) => makeRun({ id })),
    apply: jest.fn(async () =>
      makeRun({ id: 'run-apply-1', operation: 'apply', status: 'queued' }),
    ),
    cancel: jest.fn(async (id: string) => makeRun({ id, status: 'cancelled' })),
    getRun: jest.fn(async (id: string) => makeRun({ id })),
    listRuns: jest.fn(async () => []),
    getLogs: jest.fn(async () => ({ lines: [], next: 0, complete: true })),
    streamLogs: jest.fn(async () => undefined),
    listBreakGlass: jest.fn(async () => []),
    openBreakGlass: jest.fn(async request =>
      makeSession({
        entityRef: request.entityRef,
        environment: request.environment,
        reason: request.reason,
        ticket: request.ticket,
      }),
    ),
    closeBreakGlass: jest.fn(async (id: string) =>
      makeSession({
        id,
        closedAt: '2024-05-01T10:30:00.000Z',
        closeReason: 'closed',
      }),
    ),
    ...overrides,
  } as jest.Mocked<SealedRunnerApi>;
}
