import {
  Run,
  runCancelPermission,
  sameEntityRef,
  sleep,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { decideCancel, enforce } from '../../../decisions/decisions';
import { requireHuman } from '../../principals';
import { RunContext } from '../context';
import { toApiRun } from '../toApiRun';
import { RequestOptions } from '../types';

/** How long a cancel waits for the run to end before answering. */
const CANCEL_WAIT_MS = 10_000;
const CANCEL_POLL_MS = 200;

/**
 * Cancels a queued or running run: a queued one that no runner took ends
 * at once; otherwise the runner is told to stop, and the answer waits a
 * little for the run to end.
 */
export async function cancel(
  ctx: RunContext,
  runId: string,
  { credentials, request: httpRequest }: RequestOptions,
): Promise<Run> {
  const { store, supervisor } = ctx;
  const actor = ctx.actorOf(credentials);
  return ctx.audited(
    httpRequest,
    'run-cancel',
    'medium',
    { actor, runId },
    async () => {
      const run = await ctx.loadRun(runId, credentials);
      // A service may stop what it started, never anyone else's run.
      if (!sameEntityRef(run.requestedBy, actor)) {
        requireHuman(ctx.auth, credentials, "cancel someone else's run");
      }
      await ctx.authorize(runCancelPermission, run, credentials);
      enforce(decideCancel(run));
      if (run.status === 'queued' && !run.dispatchHandle) {
        await supervisor.finishWithoutResult(
          run,
          { status: 'cancelled', error: `cancelled by ${actor}` },
          actor,
        );
      } else {
        await store.requestCancel(run.id, actor);
        if (run.dispatchHandle) {
          await supervisor.cancelRunner(run.dispatchHandle);
        }
      }
      const deadline = Date.now() + CANCEL_WAIT_MS;
      let latest = (await store.getRun(runId))!;
      while (
        !TERMINAL_RUN_STATUSES.includes(latest.status) &&
        Date.now() < deadline
      ) {
        await sleep(CANCEL_POLL_MS);
        latest = (await store.getRun(runId))!;
      }
      return toApiRun(latest);
    },
  );
}
