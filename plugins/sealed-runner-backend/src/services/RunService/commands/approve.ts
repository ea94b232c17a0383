import { ConflictError } from '@backstage/errors';
import {
  Run,
  runApprovePermission,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { decideApproval, enforce } from '../../../decisions/decisions';
import { requireHuman } from '../../principals';
import { RunContext } from '../context';
import { toApiRun } from '../toApiRun';
import { RequestOptions } from '../types';

/** Approves a plan: four-eyes, by a person, and only the environment's approvers. */
export async function approve(
  ctx: RunContext,
  planRunId: string,
  { credentials, request: httpRequest }: RequestOptions,
): Promise<Run> {
  const actor = ctx.actorOf(credentials);
  return ctx.audited(
    httpRequest,
    'run-approve',
    'high',
    { actor, runId: planRunId },
    async () => {
      requireHuman(ctx.auth, credentials, 'approve plans');
      const plan = await ctx.loadRun(planRunId, credentials);
      await ctx.authorize(runApprovePermission, plan, credentials);
      const environment = ctx.config.environments[plan.environment];
      if (!environment) {
        throw new ConflictError(
          `environment ${plan.environment} is no longer configured`,
        );
      }
      const approver = await ctx.userInfo.getUserInfo(credentials);
      const approved = await ctx.store.addApproval(
        planRunId,
        { by: approver.userEntityRef, at: new Date().toISOString() },
        snapshot => enforce(decideApproval(snapshot, approver, environment)),
      );
      return toApiRun(approved);
    },
  );
}
