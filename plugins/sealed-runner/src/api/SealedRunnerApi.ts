import { createApiRef } from '@backstage/core-plugin-api';
import {
  BreakGlassSession,
  ListBreakGlassOptions,
  ListRunsOptions,
  LogPage,
  ModuleUsage,
  OpenBreakGlassOptions,
  Run,
  RunStatus,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

export type { ListBreakGlassOptions, ListRunsOptions, LogPage };

/** @public */
export type OpenBreakGlassRequest = OpenBreakGlassOptions;

/**
 * Callbacks of a live log stream.
 *
 * @public
 */
export interface LogStreamHandlers {
  /** A log line; `next` is the position after it (for resuming). */
  onLine(line: string, next: number): void;
  /** The run ended with this status; no more lines will come. */
  onComplete(status: RunStatus): void;
}

/**
 * The sealed-runner gate's HTTP API, as the frontend uses it. Every call
 * runs as the signed-in user; failures throw `ResponseError` with the
 * gate's reason.
 *
 * @public
 */
export interface SealedRunnerApi {
  listTargets(entityRef: string): Promise<Target[]>;
  /** The module versions the entity's targets use, with the commit each is pinned to. */
  listModuleUsage(entityRef: string): Promise<ModuleUsage[]>;
  requestPlan(request: {
    entityRef: string;
    environment: string;
    ref?: string;
  }): Promise<Run>;
  approve(planRunId: string): Promise<Run>;
  apply(planRunId: string): Promise<Run>;
  cancel(runId: string): Promise<Run>;
  getRun(runId: string): Promise<Run>;
  listRuns(options?: ListRunsOptions): Promise<Run[]>;
  getLogs(runId: string, after?: number): Promise<LogPage>;
  /**
   * Follows the log live from `after` (server-sent events over an
   * authenticated fetch). Resolves when the stream ends: after
   * `onComplete`, when the run had already ended with nothing left to send,
   * or when `signal` aborts. Rejects if the stream cannot be opened or
   * breaks, so callers can fall back to polling `getLogs`.
   */
  streamLogs(
    runId: string,
    options: { after: number; signal: AbortSignal } & LogStreamHandlers,
  ): Promise<void>;
  /** Break-glass sessions on targets the viewer may read, newest first. */
  listBreakGlass(options?: ListBreakGlassOptions): Promise<BreakGlassSession[]>;
  /** Opens a break-glass session for the viewer (needs `sealed-runner.breakglass`). */
  openBreakGlass(request: OpenBreakGlassRequest): Promise<BreakGlassSession>;
  /** Closes a session, with an optional note. */
  closeBreakGlass(
    sessionId: string,
    reason?: string,
  ): Promise<BreakGlassSession>;
}

/** @public */
export const sealedRunnerApiRef = createApiRef<SealedRunnerApi>({
  id: 'plugin.sealed-runner.api',
});
