import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunRecord } from '../../database/RunStore';

/** The API shape of a run: internal fields never leave the backend. */
export function toApiRun(record: RunRecord): Run {
  const run: Run = {
    id: record.id,
    entityRef: record.entityRef,
    environment: record.environment,
    operation: record.operation,
    status: record.status,
    ref: record.ref,
    commitSha: record.commitSha,
    requestedBy: record.requestedBy,
    createdAt: record.createdAt,
    approvals: record.approvals,
  };
  const optional = {
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    planRunId: record.planRunId,
    plan: record.plan,
    changes: record.changes,
    error: record.error,
    supersededBy: record.supersededBy,
    applyRunId: record.applyRunId,
    breakGlass: record.breakGlass,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) {
      Object.assign(run, { [key]: value });
    }
  }
  return run;
}
