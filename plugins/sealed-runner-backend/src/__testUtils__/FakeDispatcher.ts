import { createHash } from 'node:crypto';
import { createBackendModule } from '@backstage/backend-plugin-api';
import { JsonObject } from '@backstage/types';
import { SealedRunnerJob } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  DispatchPoll,
  RunDispatcher,
  sealedRunnerDispatchExtensionPoint,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';

/** What a fake runner does for one job. */
export interface FakeRun {
  /** Raw output lines, normally JSON runner events. */
  lines: string[];
  /** Stay alive after the last line until cancelled (then report `cancelled`). */
  hold?: boolean;
  /** Lines handed out per poll, so output arrives over several polls. */
  perPoll?: number;
  /** `dispatch` resolves only after this. */
  dispatched?: Promise<void>;
  /** State reported once every line has been read (default `exited`). */
  endState?: 'exited' | 'lost';
}

export type FakeScript = (job: SealedRunnerJob) => FakeRun;

export const event = {
  log: (line: string) => JSON.stringify({ type: 'log', line }),
  phase: (phase: string) => JSON.stringify({ type: 'phase', phase }),
  result: (fields: Record<string, unknown>) =>
    JSON.stringify({ type: 'result', ...fields }),
  /** A succeeded plan with no changes, bound to the job's commit and plan file. */
  emptyPlanResult: (job: SealedRunnerJob) =>
    event.result({
      status: 'succeeded',
      commitSha: job.commitSha,
      plan: { add: 0, change: 0, destroy: 0 },
      changes: [],
      planSha256: planFileSha(job.runId),
    }),
};

/** The saved plan file digest the fake runner reports for a plan run. */
export function planFileSha(runId: string): string {
  return createHash('sha256').update(`plan:${runId}`).digest('hex');
}

export const PLAN_CHANGES = [
  { address: 'terraform_data.web', actions: ['create'] },
  { address: 'terraform_data.db', actions: ['delete', 'create'] },
];

/** A well-behaved runner: logs, phases, and a result bound to the job's commit. */
export const succeedingRunner: FakeScript = job => ({
  lines:
    job.operation === 'plan'
      ? [
          event.phase('checkout'),
          event.log(`Checked out ${job.commitSha}`),
          event.phase('plan'),
          event.log('Plan: 2 to add, 0 to change, 1 to destroy.'),
          event.result({
            status: 'succeeded',
            commitSha: job.commitSha,
            plan: { add: 2, change: 0, destroy: 1 },
            changes: PLAN_CHANGES,
            planSha256: planFileSha(job.runId),
          }),
        ]
      : [
          event.phase('apply'),
          event.log(
            'Apply complete! Resources: 2 added, 0 changed, 1 destroyed.',
          ),
          event.result({ status: 'succeeded', commitSha: job.commitSha }),
        ],
});

interface State {
  job: SealedRunnerJob;
  run: FakeRun;
  cancelled: boolean;
}

/**
 * An in-memory runner: records the jobs it was given and plays a script
 * per target, as the ECS or local dispatcher would relay a real runner.
 */
export class FakeDispatcher implements RunDispatcher {
  readonly jobs: SealedRunnerJob[] = [];
  /** The signed documents, as a runner would receive them. */
  readonly documents: string[] = [];
  readonly cancelled: string[] = [];
  readonly released: string[] = [];
  private readonly states = new Map<string, State>();
  private readonly scripts = new Map<string, FakeScript>();

  /** Plays `script` for every job of this target from now on. */
  script(entityRef: string, environment: string, script: FakeScript): void {
    this.scripts.set(`${entityRef}#${environment}`, script);
  }

  jobsOf(runId: string): SealedRunnerJob | undefined {
    return this.jobs.find(j => j.runId === runId);
  }

  async dispatch(job: SealedRunnerJob, document: string): Promise<JsonObject> {
    this.jobs.push(job);
    this.documents.push(document);
    const script =
      this.scripts.get(`${job.entityRef}#${job.environment}`) ??
      succeedingRunner;
    const run = script(job);
    this.states.set(job.runId, { job, run, cancelled: false });
    if (run.dispatched) {
      await run.dispatched;
    }
    return { type: 'fake', runId: job.runId };
  }

  private state(handle: JsonObject): State {
    const state = this.states.get(String(handle.runId));
    if (!state) {
      throw new Error(`unknown fake handle ${JSON.stringify(handle)}`);
    }
    return state;
  }

  async poll(
    handle: JsonObject,
    cursor: string | undefined,
  ): Promise<DispatchPoll> {
    const { run, cancelled } = this.state(handle);
    const from = Number(cursor ?? 0);
    const lines = run.lines.slice(
      from,
      from + (run.perPoll ?? run.lines.length),
    );
    const next = from + lines.length;
    const more = next < run.lines.length;
    const alive = more || (run.hold === true && !cancelled);
    return {
      lines,
      cursor: String(next),
      state: alive ? 'running' : run.endState ?? 'exited',
      ...(alive ? {} : { detail: 'fake runner ended' }),
    };
  }

  async cancel(handle: JsonObject): Promise<void> {
    const state = this.state(handle);
    this.cancelled.push(state.job.runId);
    if (!state.cancelled) {
      state.cancelled = true;
      state.run.lines.push(
        event.result({ status: 'cancelled', error: 'cancelled' }),
      );
    }
  }

  async release(handle: JsonObject): Promise<void> {
    this.released.push(this.state(handle).job.runId);
  }
}

/** Registers `dispatcher` as runner type `fake` (`sealedRunner.runner.type: fake`), or as `type`. */
export function fakeDispatcherModule(
  dispatcher: FakeDispatcher,
  type = 'fake',
) {
  return createBackendModule({
    pluginId: 'sealed-runner',
    moduleId: 'test-dispatcher',
    register(reg) {
      reg.registerInit({
        deps: { dispatch: sealedRunnerDispatchExtensionPoint },
        async init({ dispatch }) {
          dispatch.addDispatcher(type, dispatcher);
        },
      });
    },
  });
}

/** A promise the test resolves by hand. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>(r => {
    resolve = r;
  });
  return { promise, resolve };
}
