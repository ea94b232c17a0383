import { InputError } from '@backstage/errors';
import {
  CreateRunRequest,
  Run,
  runPlanPermission,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { decidePlanRequest, enforce } from '../../../decisions/decisions';
import { RequestOptions } from '../types';
import { requireDeployable, RunContext } from '../context';
import { newRun } from '../newRun';

/** Plans a target at the head of a branch (or the default branch). */
export async function requestPlan(
  ctx: RunContext,
  request: CreateRunRequest,
  { credentials, request: httpRequest }: RequestOptions,
): Promise<Run> {
  const actor = ctx.actorOf(credentials);
  return ctx.audited(
    httpRequest,
    'run-plan',
    'medium',
    {
      actor,
      entityRef: request.entityRef,
      environment: request.environment,
      ref: request.ref ?? null,
    },
    async () => {
      const target = await ctx.targets.getTarget(
        request.entityRef,
        request.environment,
        { credentials },
      );
      await ctx.authorize(runPlanPermission, target, credentials);
      requireDeployable(target);
      enforce(
        decidePlanRequest(actor, target.environment, target.environmentConfig),
      );
      const head = await ctx.headOf(target.repository, request.ref);
      if (!head) {
        throw new InputError(
          request.ref
            ? `branch ${request.ref} does not exist in ${target.repository}`
            : `${target.repository} has no default branch`,
        );
      }
      const run = await ctx.store.createRun(
        await newRun(ctx, target, {
          ref: head.branch,
          commitSha: head.commitSha,
          requestedBy: actor,
        }),
      );
      return ctx.dispatch(run);
    },
    run => ({ runId: run.id, commitSha: run.commitSha }),
  );
}
