import {
  Approval,
  BreakGlassBypass,
  RunBreakGlass,
  PlanSummary,
  ResourceChange,
  Run,
  RunnerResult,
  RunOperation,
  RunStatus,
  SealedRunnerJob,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { JsonObject } from '@backstage/types';

/** A run with the fields only the backend sees. */
export interface RunRecord extends Run {
  repository: string;
  path: string;
  /** Identifies the target's lock: environment, repository and folder. */
  lockKey: string;
  phase?: string;
  planSha256?: string;
  moduleSources?: string[];
  job: SealedRunnerJob;
  dispatchHandle?: JsonObject;
  dispatchCursor?: string;
  /** Instance id of the replica supervising the run. */
  attachedBy?: string;
  heartbeatAt?: string;
  logCount: number;
  cancelRequestedBy?: string;
}

export interface NewRun {
  id: string;
  entityRef: string;
  environment: string;
  repository: string;
  path: string;
  lockKey: string;
  operation: RunOperation;
  ref: string;
  commitSha: string;
  requestedBy: string;
  createdAt: string;
  planRunId?: string;
  job: SealedRunnerJob;
  /**
   * The break-glass session an apply uses, and the rules it bypasses with
   * it. createRun records the use only while the session is open and was
   * opened by the requester, in the transaction that creates the run.
   */
  breakGlass?: RunBreakGlass & { bypassed: BreakGlassBypass[] };
}

/** A plan and everything that decides whether it may be approved or applied. */
export interface PlanSnapshot {
  plan: RunRecord;
  approvals: Approval[];
  /** Apply runs of this plan, newest first. */
  applyRuns: RunRecord[];
}

export interface RunFilter {
  entityRef?: string;
  environment?: string;
  operation?: RunOperation;
  status?: RunStatus;
  limit: number;
  offset?: number;
}

export interface RunHistoryEntry {
  at: string;
  actor: string;
  action: string;
  detail?: JsonObject;
}

/** The outcome a finished run records. */
export type RunOutcome = Omit<RunnerResult, 'type'>;

/** Thrown when a run has been taken over by another replica. */
export class RunDetachedError extends Error {}

/**
 * Persistence of runs, logs, approvals, history and target locks. Every
 * rule that must hold across backend replicas — one run per target,
 * approvals only on current plans, locks released exactly when a run ends —
 * is enforced here, in database transactions.
 */
export interface RunStore {
  /**
   * Inserts a queued run and takes its target's lock, in one transaction.
   * Throws ConflictError naming the holder if the target is locked. For a
   * plan, marks older plans of the target superseded. For an apply,
   * `verify` sees the plan as it is inside the transaction and throws to
   * refuse. A run with `breakGlass` is created only if that session is
   * open and the requester opened it (ConflictError otherwise); its use is
   * recorded on the session.
   */
  createRun(
    run: NewRun,
    options?: { verify?: (snapshot: PlanSnapshot) => void },
  ): Promise<RunRecord>;
  /** Adds an approval after `verify` accepted the plan inside the transaction. */
  addApproval(
    planRunId: string,
    approval: Approval,
    verify: (snapshot: PlanSnapshot) => void,
  ): Promise<RunRecord>;
  /** The plan and its approvals and applies, as of now. */
  getPlanSnapshot(planRunId: string): Promise<PlanSnapshot>;
  getRun(id: string): Promise<RunRecord | undefined>;
  listRuns(filter: RunFilter): Promise<RunRecord[]>;
  latestRun(
    entityRef: string,
    environment: string,
  ): Promise<RunRecord | undefined>;
  lockHolder(lockKey: string): Promise<string | undefined>;

  /** queued → running, recording how to find the runner. */
  markRunning(
    id: string,
    handle: JsonObject,
    instanceId: string,
  ): Promise<boolean>;
  /** Appends runner output; throws RunDetachedError if another replica took the run. */
  appendOutput(
    id: string,
    output: { lines: string[]; cursor: string; phase?: string },
    instanceId: string,
  ): Promise<void>;
  heartbeat(id: string, instanceId: string): Promise<boolean>;
  /** Takes over supervision of a running run whose heartbeat is older than `staleBefore`. */
  claimStaleRun(
    id: string,
    instanceId: string,
    staleBefore: string,
  ): Promise<boolean>;
  /** Records the end of a run and releases its lock; undefined if it had already ended. */
  finishRun(
    id: string,
    outcome: RunOutcome,
    actor: string,
  ): Promise<RunRecord | undefined>;
  requestCancel(id: string, actor: string): Promise<void>;

  /** Running runs with a stale heartbeat, and queued runs created before `queuedBefore`. */
  listRunsToReconcile(
    staleBefore: string,
    queuedBefore: string,
  ): Promise<RunRecord[]>;
  /** Deletes locks whose run has ended (a safety net; returns how many). */
  releaseOrphanLocks(): Promise<number>;

  getLogs(
    id: string,
    after: number,
    limit: number,
  ): Promise<{ seq: number; line: string }[]>;
  addHistory(
    id: string,
    actor: string,
    action: string,
    detail?: JsonObject,
  ): Promise<void>;
  listHistory(id: string): Promise<RunHistoryEntry[]>;
}

export type { PlanSummary, ResourceChange };
