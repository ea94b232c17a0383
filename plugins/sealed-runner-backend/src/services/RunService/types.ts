import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { Request } from 'express';
import {
  CreateRunRequest,
  ListRunsQuery,
  ModuleUsage,
  Run,
  RunStatus,
  Target,
  TargetOwner,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunHistoryEntry } from '../../database/RunStore';

export type LogStreamItem =
  | { seq: number; line: string }
  | { status: RunStatus };

export interface RequestOptions {
  credentials: BackstageCredentials;
  /** The HTTP request, so audit events carry the caller's details. */
  request?: Request;
}

/** The gate: every action on targets and runs goes through here. */
export interface RunService {
  listTargets(entityRef: string, options: RequestOptions): Promise<Target[]>;
  /** The module versions the newest successful plan of each readable target used. */
  listModuleUsage(
    entityRef: string,
    options: RequestOptions,
  ): Promise<ModuleUsage[]>;
  /** Who owns each target of a repository: for the catalog module (service principals only). */
  listTargetOwners(
    repository: string,
    options: RequestOptions,
  ): Promise<TargetOwner[]>;
  requestPlan(request: CreateRunRequest, options: RequestOptions): Promise<Run>;
  approve(planRunId: string, options: RequestOptions): Promise<Run>;
  apply(planRunId: string, options: RequestOptions): Promise<Run>;
  cancel(runId: string, options: RequestOptions): Promise<Run>;
  /** Ends the run holding a lock (an admin action, audited as critical). */
  releaseLock(
    runId: string,
    reason: string,
    options: RequestOptions,
  ): Promise<Run>;
  getRun(runId: string, options: RequestOptions): Promise<Run>;
  listRuns(query: ListRunsQuery, options: RequestOptions): Promise<Run[]>;
  getLogs(
    runId: string,
    after: number,
    options: RequestOptions,
  ): Promise<{ lines: string[]; next: number; complete: boolean }>;
  getHistory(
    runId: string,
    options: RequestOptions,
  ): Promise<RunHistoryEntry[]>;
  /**
   * Authorises once, then yields log lines after `after` as they arrive,
   * and finally the run's end status. Undefined when the run has ended
   * and there is nothing after `after`.
   */
  followLogs(
    runId: string,
    after: number,
    options: RequestOptions & { signal: AbortSignal },
  ): Promise<AsyncIterable<LogStreamItem> | undefined>;
}
