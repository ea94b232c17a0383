import { approve } from './commands/approve';
import { apply } from './commands/apply';
import { cancel } from './commands/cancel';
import { releaseLock } from './commands/releaseLock';
import { requestPlan } from './commands/requestPlan';
import { createRunContext, RunServiceDeps } from './context';
import { followLogs, getLogs } from './queries/logs';
import { getHistory, getRun, listRuns } from './queries/runs';
import {
  listModuleUsage,
  listTargetOwners,
  listTargets,
} from './queries/targets';
import { RunService } from './types';

export type { BranchResolver, RunServiceDeps } from './context';

/**
 * The gate's run service: each command (plan, approve, apply, cancel,
 * release-lock) and query is a file of its own under `commands/` and
 * `queries/`; what they share (authorization, audit, loading a run, job
 * construction) is in `context.ts` and `newRun.ts`.
 */
export function createRunService(deps: RunServiceDeps): RunService {
  const ctx = createRunContext(deps);
  return {
    listTargets: (entityRef, options) => listTargets(ctx, entityRef, options),
    listModuleUsage: (entityRef, options) =>
      listModuleUsage(ctx, entityRef, options),
    listTargetOwners: (repository, options) =>
      listTargetOwners(ctx, repository, options),
    requestPlan: (request, options) => requestPlan(ctx, request, options),
    approve: (planRunId, options) => approve(ctx, planRunId, options),
    apply: (planRunId, options) => apply(ctx, planRunId, options),
    cancel: (runId, options) => cancel(ctx, runId, options),
    releaseLock: (runId, reason, options) =>
      releaseLock(ctx, runId, reason, options),
    getRun: (runId, options) => getRun(ctx, runId, options),
    listRuns: (query, options) => listRuns(ctx, query, options),
    getLogs: (runId, after, options) => getLogs(ctx, runId, after, options),
    getHistory: (runId, options) => getHistory(ctx, runId, options),
    followLogs: (runId, after, options) =>
      followLogs(ctx, runId, after, options),
  };
}
