import { createExtensionPoint } from '@backstage/backend-plugin-api';
import { SealedRunnerJob } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { JsonObject } from '@backstage/types';

/**
 * What a dispatcher reports when polled: the runner's output lines since the
 * cursor, and whether the runner is still alive.
 *
 * @public
 */
export interface DispatchPoll {
  /**
   * Raw output lines, each one JSON runner event. The backend parses them
   * with `runnerEventSchema` and trusts nothing else.
   */
  lines: string[];
  /** Opaque position to pass to the next poll; persisted with the run. */
  cursor: string;
  /**
   * `running` — alive; `exited` — stopped and every line has been read;
   * `lost` — gone without a trace (for example the host rebooted).
   */
  state: 'running' | 'exited' | 'lost';
  /** Human explanation when the runner stopped abnormally. */
  detail?: string;
}

/**
 * Starts sealed runners and reads their output. Implementations: the
 * embedded local process dispatcher, and the ECS Fargate dispatcher.
 *
 * Handles and cursors are persisted in the database so that any backend
 * replica can re-attach to a run after a restart.
 *
 * @public
 */
export interface RunDispatcher {
  /**
   * Whether the code a runner runs is isolated from the runner (a sandbox,
   * another user): false for a runner configured to run it unsandboxed,
   * which every target then shows. Unset means isolated.
   */
  readonly sandboxed?: boolean;
  /**
   * Starts one runner for one job and returns a handle that identifies it
   * (for example a process id or a task ARN). `document` is what the runner
   * must receive, unchanged, as its job: the job signed by the gate. `job`
   * is the same job, parsed, for the dispatcher's own bookkeeping.
   */
  dispatch(job: SealedRunnerJob, document: string): Promise<JsonObject>;
  /** Reads output after `cursor` (undefined: from the start) and liveness. */
  poll(handle: JsonObject, cursor: string | undefined): Promise<DispatchPoll>;
  /** Asks the runner to stop; it reports a `cancelled` result. */
  cancel(handle: JsonObject): Promise<void>;
  /** Frees what the runner left behind once its output is fully ingested. */
  release(handle: JsonObject): Promise<void>;
}

/**
 * Lets modules provide runner types, selected with
 * `sealedRunner.runner.type`.
 *
 * @public
 */
export interface SealedRunnerDispatchExtensionPoint {
  addDispatcher(type: string, dispatcher: RunDispatcher): void;
}

/** @public */
export const sealedRunnerDispatchExtensionPoint =
  createExtensionPoint<SealedRunnerDispatchExtensionPoint>({
    id: 'sealed-runner.dispatch',
  });
