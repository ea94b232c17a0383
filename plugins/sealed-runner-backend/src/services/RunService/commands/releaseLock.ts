import { ConflictError } from '@backstage/errors';
import {
  lockReleasePermission,
  Run,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { requireHuman } from '../../principals';
import { RunContext } from '../context';
import { toApiRun } from '../toApiRun';
import { RequestOptions } from '../types';

/** Ends the run holding a lock (an admin action, audited as critical). */
export async function releaseLock(
  ctx: RunContext,
  runId: string,
  reason: string,
  { credentials, request: httpRequest }: RequestOptions,
): Promise<Run> {
  const { store, supervisor } = ctx;
  const actor = ctx.actorOf(credentials);
  return ctx.audited(
    httpRequest,
    'lock-force-release',
    'critical',
    { actor, runId, reason },
    async () => {
      requireHuman(ctx.auth, credentials, 'force-release a lock');
      const run = await ctx.loadRun(runId, credentials);
      await ctx.authorize(lockReleasePermission, run, credentials);
      if ((await store.lockHolder(run.lockKey)) !== run.id) {
        throw new ConflictError(`run ${run.id} holds no lock`);
      }
      // Ending the run is what frees its lock; a runner that still
      // answers is told to stop, one that does not is left to die.
      if (run.dispatchHandle) {
        await supervisor
          .cancelRunner(run.dispatchHandle)
          .catch(() => undefined);
      }
      await store.addHistory(run.id, actor, 'lock-force-released', {
        reason,
      });
      await supervisor.finishWithoutResult(
        run,
        {
          status: 'failed',
          error: `the lock was force-released by ${actor}: ${reason}`,
        },
        actor,
      );
      // A run that had already ended but still held its lock (a crash
      // between the two) is freed too.
      await store.releaseOrphanLocks();
      return toApiRun((await store.getRun(runId))!);
    },
  );
}
