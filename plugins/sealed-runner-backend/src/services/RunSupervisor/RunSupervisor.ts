import { EventEmitter } from 'node:events';
import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import { JsonObject } from '@backstage/types';
import {
  runnerEventSchema,
  RunnerResult,
  sleep,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  DispatchPoll,
  RunDispatcher,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  RunDetachedError,
  RunOutcome,
  RunRecord,
  RunStore,
} from '../../database/RunStore';
import { JobSigner } from '../JobSigner/JobSigner';

const SYSTEM_ACTOR = 'sealed-runner';
const BUSY_POLL_MS = 50;
const IDLE_POLL_MS = 200;
/** About a minute of failed reads (with the growing pause) before the reconciler takes over. */
const MAX_CONSECUTIVE_POLL_ERRORS = 25;
/** After its own timeout, a runner gets this long to stop before it is killed and failed. */
const OVERDUE_GRACE_MS = 120_000;
/**
 * A runner stops right after its result; an ECS task takes a while longer
 * to be reported stopped. Past this, the run is failed.
 */
const RESULT_EXIT_GRACE_MS = 300_000;

export interface RunSupervisorOptions {
  store: RunStore;
  dispatcher: RunDispatcher;
  logger: LoggerService;
  auditor: AuditorService;
  /** Identifies this replica in `attached_by`. */
  instanceId: string;
  heartbeatTimeoutSeconds: number;
  timeoutSeconds: number;
  /** Signs each job as it is handed to a runner. */
  signer: JobSigner;
}

/**
 * Starts runners and supervises their runs: streams each runner's output
 * into the database, keeps a heartbeat, finishes the run with the runner's
 * validated result. Supervision is a database claim, not an in-process
 * map: if this replica dies, the reconciler of any replica takes the run
 * over from where its output was last ingested.
 */
export interface RunSupervisor {
  /** Emits the run id whenever a run has new output or ended (this replica only). */
  readonly updates: EventEmitter;
  /** Starts the runner of a queued run and supervises it. Never throws. */
  start(run: RunRecord): Promise<void>;
  /** Stops supervising on this replica; runners keep running and are re-attached later. */
  stop(): void;
  /** Asks a runner to stop; it reports `cancelled` and the supervisor finishes the run. */
  cancelRunner(handle: JsonObject): Promise<void>;
  /**
   * Ends a run without a runner result: a queued run cancelled before
   * dispatch, or a run whose lock an admin force-released.
   */
  finishWithoutResult(
    run: RunRecord,
    outcome: RunOutcome,
    actor: string,
  ): Promise<void>;
  /**
   * Background reconciliation, run by the scheduler on one replica at a
   * time: re-attaches runs whose supervisor stopped reporting, fails runs
   * that never started, and releases any lock whose run has ended.
   */
  reconcile(): Promise<void>;
}

class DefaultRunSupervisor implements RunSupervisor {
  /** Emits the run id whenever a run has new output or ended (this replica only). */
  readonly updates = new EventEmitter();
  private readonly watching = new Set<string>();
  private stopped = false;

  constructor(private readonly options: RunSupervisorOptions) {
    this.updates.setMaxListeners(0);
  }

  /** Starts the runner of a queued run and supervises it. Never throws. */
  async start(run: RunRecord): Promise<void> {
    const { store, dispatcher, logger, instanceId } = this.options;
    let handle: JsonObject;
    try {
      handle = await dispatcher.dispatch(
        run.job,
        await this.options.signer.sign(run.job),
      );
    } catch (error) {
      logger.error(
        `Could not start the runner for run ${run.id}`,
        error as Error,
      );
      await this.finish(run, {
        status: 'failed',
        error: `could not start the runner: ${(error as Error).message}`,
      });
      return;
    }
    if (!(await store.markRunning(run.id, handle, instanceId))) {
      // Cancelled while the runner was starting.
      await dispatcher.cancel(handle);
      return;
    }
    this.watch(run.id, handle, undefined);
  }

  /** Stops supervising on this replica; runners keep running and are re-attached later. */
  stop(): void {
    this.stopped = true;
  }

  private watch(
    runId: string,
    handle: JsonObject,
    cursor: string | undefined,
  ): void {
    if (this.watching.has(runId)) {
      return;
    }
    this.watching.add(runId);
    this.supervise(runId, handle, cursor)
      .catch(error => {
        if (!(error instanceof RunDetachedError)) {
          this.options.logger.error(`Supervising run ${runId} failed`, error);
        }
      })
      .finally(() => this.watching.delete(runId));
  }

  private async supervise(
    runId: string,
    handle: JsonObject,
    initialCursor: string | undefined,
  ) {
    const {
      store,
      dispatcher,
      instanceId,
      heartbeatTimeoutSeconds,
      timeoutSeconds,
    } = this.options;
    // What a run is never changes; who supervises it can. Losing the claim
    // shows up as a failed heartbeat or a RunDetachedError from appendOutput.
    const run = await store.getRun(runId);
    if (
      !run ||
      TERMINAL_RUN_STATUSES.includes(run.status) ||
      run.attachedBy !== instanceId
    ) {
      return;
    }
    let cursor = initialCursor;
    let lastBeat = Date.now();
    let killRequested = false;
    let pollErrors = 0;
    // A run has exactly one result, the runner's last word: it is accepted
    // only once the runner has stopped, and only if nothing followed it.
    let result: RunnerResult | undefined;
    let resultAt = 0;
    let afterResult = 0;
    while (!this.stopped) {
      let poll: DispatchPoll;
      try {
        poll = await dispatcher.poll(handle, cursor);
        pollErrors = 0;
      } catch (error) {
        // A throttled or briefly unreachable runner API (ECS, CloudWatch)
        // must not orphan the run: keep the claim and try again; give up
        // to the reconciler only if it persists.
        if (++pollErrors >= MAX_CONSECUTIVE_POLL_ERRORS) {
          throw error;
        }
        this.options.logger.warn(
          `Reading the runner of run ${runId} failed (${
            (error as Error).message
          }); retrying`,
        );
        if (!(await store.heartbeat(runId, instanceId))) {
          return;
        }
        lastBeat = Date.now();
        await sleep(IDLE_POLL_MS * pollErrors);
        continue;
      }
      const parsed = this.parse(poll.lines, result !== undefined);
      if (parsed.result && !result) {
        result = parsed.result;
        resultAt = Date.now();
      }
      afterResult += parsed.afterResult;
      if (poll.lines.length > 0 || poll.cursor !== cursor) {
        await store.appendOutput(
          runId,
          { lines: parsed.lines, cursor: poll.cursor, phase: parsed.phase },
          instanceId,
        );
        cursor = poll.cursor;
        lastBeat = Date.now();
        this.updates.emit('output', runId);
      } else if (Date.now() - lastBeat > (heartbeatTimeoutSeconds * 1000) / 3) {
        if (!(await store.heartbeat(runId, instanceId))) {
          return;
        }
        lastBeat = Date.now();
      }

      if (poll.state !== 'running') {
        await this.finish(
          run,
          await this.outcomeOf(run, {
            result,
            afterResult,
            detail: poll.detail,
          }),
        );
        await dispatcher.release(handle);
        return;
      }
      if (result && Date.now() - resultAt > RESULT_EXIT_GRACE_MS) {
        // A runner exits right after its result; one that does not is not
        // behaving as the runner does.
        await dispatcher.cancel(handle);
        await this.finish(run, {
          status: 'failed',
          error: `the runner did not stop within ${
            RESULT_EXIT_GRACE_MS / 1000
          } s of reporting its result`,
        });
        return;
      }
      const age = Date.now() - Date.parse(run.startedAt ?? run.createdAt);
      if (age > timeoutSeconds * 1000 + OVERDUE_GRACE_MS && !killRequested) {
        this.options.logger.warn(
          `Run ${runId} is overdue; stopping its runner`,
        );
        await dispatcher.cancel(handle);
        killRequested = true;
      } else if (age > timeoutSeconds * 1000 + 3 * OVERDUE_GRACE_MS) {
        await this.finish(run, {
          status: 'failed',
          error: `the runner did not stop after its ${timeoutSeconds} s timeout`,
        });
        return;
      }
      await sleep(poll.lines.length > 0 ? BUSY_POLL_MS : IDLE_POLL_MS);
    }
  }

  /** How a run whose runner stopped ends: its one result, or why there is none to trust. */
  private async outcomeOf(
    run: RunRecord,
    stopped: { result?: RunnerResult; afterResult: number; detail?: string },
  ): Promise<RunOutcome> {
    const { result, afterResult } = stopped;
    if (result && afterResult > 0) {
      return {
        status: 'failed',
        error: `the runner's output went on after its result (${afterResult} more line${
          afterResult > 1 ? 's' : ''
        }): something else wrote to it, so this run's result is not trusted`,
      };
    }
    if (result) {
      return this.validateResult(run, result);
    }
    const detail = stopped.detail ? ` (${stopped.detail})` : '';
    // Stopped on request before it could report (an ECS task stopped
    // while still provisioning): that is the cancel the user asked for.
    const cancelledBy = (await this.options.store.getRun(run.id))
      ?.cancelRequestedBy;
    return cancelledBy
      ? {
          status: 'cancelled',
          error: `cancelled by ${cancelledBy} before the runner reported${detail}`,
        }
      : {
          status: 'failed',
          error: `the runner stopped without reporting a result${detail}`,
        };
  }

  /**
   * Parses runner output; malformed lines are kept as visible log lines,
   * never trusted. Anything after a result (`resultSeen`, or earlier in
   * these lines) is counted and shown, never obeyed.
   */
  private parse(raw: string[], resultSeen: boolean) {
    const lines: string[] = [];
    let phase: string | undefined;
    let result: RunnerResult | undefined;
    let afterResult = 0;
    for (const line of raw) {
      if (resultSeen || result) {
        afterResult += 1;
        lines.push(
          `[sealed-runner backend] ignored runner output after its result: ${line.slice(
            0,
            200,
          )}`,
        );
        continue;
      }
      let event;
      try {
        event = runnerEventSchema.safeParse(JSON.parse(line));
      } catch {
        event = undefined;
      }
      if (!event?.success) {
        lines.push(
          `[sealed-runner backend] ignored malformed runner output: ${line.slice(
            0,
            200,
          )}`,
        );
        continue;
      }
      const data = event.data;
      if (data.type === 'log') lines.push(data.line);
      else if (data.type === 'phase') phase = data.phase;
      else result = data;
    }
    return { lines, phase, result, afterResult };
  }

  /** Holds the runner's result to what the run asked for. */
  private validateResult(run: RunRecord, result: RunnerResult): RunOutcome {
    const { type: _type, ...outcome } = result;
    if (
      outcome.commitSha !== undefined &&
      outcome.commitSha !== run.commitSha
    ) {
      return {
        status: 'failed',
        error: `the runner reported commit ${outcome.commitSha} instead of ${run.commitSha}`,
      };
    }
    if (
      outcome.status === 'succeeded' &&
      run.operation === 'plan' &&
      (!outcome.plan || !outcome.changes || !outcome.planSha256)
    ) {
      return {
        status: 'failed',
        error: 'the runner reported a plan without its summary or saved plan',
      };
    }
    if (run.operation === 'apply') {
      // An apply never produces a plan file of its own.
      delete outcome.planSha256;
    }
    return outcome;
  }

  private async finish(
    run: RunRecord,
    outcome: RunOutcome,
    actor = SYSTEM_ACTOR,
  ) {
    const { store, auditor, logger } = this.options;
    let finalOutcome = outcome;
    if (
      run.operation === 'apply' &&
      run.planRunId &&
      outcome.status === 'succeeded'
    ) {
      // The apply applied exactly its plan's changes: show them on the apply too.
      const plan = await store.getRun(run.planRunId);
      finalOutcome = { ...outcome, plan: plan?.plan, changes: plan?.changes };
    }
    const finished = await store.finishRun(run.id, finalOutcome, actor);
    if (!finished) {
      return;
    }
    this.updates.emit('output', run.id);
    logger.info(
      `Run ${run.id} (${run.operation} ${run.entityRef} ${run.environment}) ${outcome.status}`,
    );
    const event = await auditor.createEvent({
      eventId: 'run-finished',
      severityLevel: run.operation === 'apply' ? 'high' : 'medium',
      meta: {
        actor,
        runId: run.id,
        operation: run.operation,
        entityRef: run.entityRef,
        environment: run.environment,
        commitSha: run.commitSha,
        status: outcome.status,
      },
    });
    if (outcome.status === 'succeeded') {
      await event.success();
    } else {
      await event.fail({ error: new Error(outcome.error ?? outcome.status) });
    }
  }

  /** Asks a runner to stop; it reports `cancelled` and the supervisor finishes the run. */
  async cancelRunner(handle: JsonObject): Promise<void> {
    await this.options.dispatcher.cancel(handle);
  }

  /**
   * Ends a run without a runner result: a queued run cancelled before
   * dispatch, or a run whose lock an admin force-released.
   */
  async finishWithoutResult(
    run: RunRecord,
    outcome: RunOutcome,
    actor: string,
  ): Promise<void> {
    await this.finish(run, outcome, actor);
  }

  /**
   * Background reconciliation, run by the scheduler on one replica at a
   * time: re-attaches runs whose supervisor stopped reporting, fails runs
   * that never started, and releases any lock whose run has ended.
   */
  async reconcile(): Promise<void> {
    const { store, logger, instanceId, heartbeatTimeoutSeconds } = this.options;
    const now = Date.now();
    const staleBefore = new Date(
      now - heartbeatTimeoutSeconds * 1000,
    ).toISOString();
    const queuedBefore = new Date(
      now - Math.max(60, 2 * heartbeatTimeoutSeconds) * 1000,
    ).toISOString();
    for (const run of await store.listRunsToReconcile(
      staleBefore,
      queuedBefore,
    )) {
      if (run.status === 'queued') {
        logger.warn(`Run ${run.id} was never started; failing it`);
        await this.finish(run, {
          status: 'failed',
          error:
            'the backend stopped before the runner was started; request the run again',
        });
        continue;
      }
      if (!run.dispatchHandle) {
        await this.finish(run, {
          status: 'failed',
          error: 'the run has no runner to re-attach to',
        });
        continue;
      }
      if (this.watching.has(run.id)) {
        // Still supervised here: the heartbeat is late (a busy event loop),
        // not dead. Taking it over from ourselves would only record a
        // re-attach that never happened.
        await store.heartbeat(run.id, instanceId);
        continue;
      }
      if (await store.claimStaleRun(run.id, instanceId, staleBefore)) {
        logger.info(
          `Re-attaching to run ${run.id} after its supervisor stopped reporting`,
        );
        this.watch(run.id, run.dispatchHandle, run.dispatchCursor);
      }
    }
    const released = await store.releaseOrphanLocks();
    if (released > 0) {
      logger.warn(
        `Released ${released} lock(s) held by runs that had already ended`,
      );
    }
  }
}

/** The run supervisor of this replica. */
export function createRunSupervisor(
  options: RunSupervisorOptions,
): RunSupervisor {
  return new DefaultRunSupervisor(options);
}
