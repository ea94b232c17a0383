import { ResponseError } from '@backstage/errors';
import {
  Run,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerGateClient } from '@sealed-runner/backstage-plugin-sealed-runner-node';

export const PLAN_RUN_ID = '0b9e5d0e-8a53-4a57-9f5e-3f1d2a7c6b11';
export const APPLY_RUN_ID = '5f2c7a19-1e44-4d0b-8c3e-9a6b0d2e4f73';
export const COMMIT = 'a'.repeat(40);

/** A run as the gate returns it. */
export function aRun(changes: Partial<Run> = {}): Run {
  return {
    id: PLAN_RUN_ID,
    entityRef: 'component:default/payments',
    environment: 'dev',
    operation: 'plan',
    status: 'succeeded',
    ref: 'new-service/payments',
    commitSha: COMMIT,
    requestedBy: 'user:default/erin',
    createdAt: '2025-01-01T00:00:00.000Z',
    approvals: [],
    ...changes,
  };
}

export function aTarget(changes: Partial<Target> = {}): Target {
  return {
    entityRef: 'component:default/payments',
    environment: 'dev',
    repository: 'https://git.example.com/acme/live.git',
    path: 'live/dev/payments',
    applyBranches: ['main'],
    requiredApprovals: 0,
    deployable: true,
    locked: false,
    sandboxed: true,
    ...changes,
  };
}

/**
 * The error the real gate client throws for a refusal: a `ResponseError`
 * read from the gate's error body.
 */
export async function gateRefusal(
  status: number,
  name: string,
  message: string,
): Promise<ResponseError> {
  const statusText: Record<number, string> = {
    400: 'Bad Request',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
  };
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name, message },
        request: { method: 'POST', url: '/runs' },
        response: { statusCode: status },
      }),
      {
        status,
        statusText: statusText[status] ?? 'Error',
        headers: { 'content-type': 'application/json' },
      },
    ),
  );
}

export type LogPage = { lines: string[]; next: number; complete: boolean };

/** Log pages in the shape the gate serves them, `next` counting lines so far. */
export function logPages(
  ...pages: Array<{ lines: string[]; complete?: boolean }>
): LogPage[] {
  let next = 0;
  return pages.map(({ lines, complete = false }) => {
    next += lines.length;
    return { lines, next, complete };
  });
}

export type FakeGate = jest.Mocked<SealedRunnerGateClient>;

/**
 * A gate whose every call is a jest mock; by default a plan and an apply
 * that succeed at once with an empty, complete log.
 */
export function fakeGate(): FakeGate {
  const gate: SealedRunnerGateClient = {
    listTargets: async () => [aTarget()],
    listModuleUsage: async () => [],
    listTargetOwners: async () => [],
    requestPlan: async () => aRun({ status: 'queued' }),
    apply: async () =>
      aRun({
        id: APPLY_RUN_ID,
        operation: 'apply',
        planRunId: PLAN_RUN_ID,
        status: 'queued',
      }),
    getRun: async runId =>
      runId === APPLY_RUN_ID
        ? aRun({ id: APPLY_RUN_ID, operation: 'apply', planRunId: PLAN_RUN_ID })
        : aRun({ id: runId, plan: { add: 1, change: 0, destroy: 0 } }),
    getLogs: async () => ({ lines: [], next: 0, complete: true }),
  };
  for (const method of Object.keys(gate) as Array<
    keyof SealedRunnerGateClient
  >) {
    jest.spyOn(gate, method);
  }
  return gate as FakeGate;
}
