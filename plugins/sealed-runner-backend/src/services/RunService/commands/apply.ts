import { ConflictError } from '@backstage/errors';
import {
  Run,
  runApplyPermission,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  breakGlassBypassesNeeded,
  decideApply,
  decideApplyReadiness,
  enforce,
} from '../../../decisions/decisions';
import { requireDeployable, RunContext } from '../context';
import { newRun } from '../newRun';
import { toApiRun } from '../toApiRun';
import { RequestOptions } from '../types';

/**
 * Applies exactly this plan at exactly its commit, once it is approved
 * enough (or under the requester's own break-glass session).
 */
export async function apply(
  ctx: RunContext,
  planRunId: string,
  { credentials, request: httpRequest }: RequestOptions,
): Promise<Run> {
  const actor = ctx.actorOf(credentials);
  return ctx.audited(
    httpRequest,
    'run-apply',
    'high',
    { actor, planRunId },
    async () => {
      const plan = await ctx.loadRun(planRunId, credentials);
      await ctx.authorize(runApplyPermission, plan, credentials);
      const target = await ctx.targets.getTarget(
        plan.entityRef,
        plan.environment,
        { credentials },
      );
      requireDeployable(target);
      if (target.lockKey !== plan.lockKey) {
        throw new ConflictError(
          `the target's repository or folder changed since plan ${plan.id}; plan again`,
        );
      }
      const snapshot = await ctx.store.getPlanSnapshot(plan.id);
      // Break-glass waives only what this apply needs waived (the
      // approvals, the apply branches), and only with the requester's
      // own open session. Everything else below still applies.
      const needed = breakGlassBypassesNeeded(
        snapshot,
        target.environmentConfig,
      );
      const session =
        needed.length > 0
          ? await ctx.breakGlass.usableSession(target, credentials)
          : undefined;
      const waived = session ? needed : [];
      // Refuse what can be refused without the repository first, then
      // decide everything again inside the transaction that creates the
      // apply, on the plan as it is then.
      enforce(decideApplyReadiness(snapshot, target.environmentConfig, waived));
      const head = await ctx.headOf(plan.repository, plan.ref);
      const run = await ctx.store.createRun(
        await newRun(ctx, target, {
          ref: plan.ref,
          commitSha: plan.commitSha,
          requestedBy: actor,
          plan,
          ...(session ? { breakGlass: { session, bypassed: waived } } : {}),
        }),
        {
          verify: current =>
            enforce(
              decideApply(
                current,
                target.environmentConfig,
                head?.commitSha,
                waived,
              ),
            ),
        },
      );
      if (session) {
        await ctx.breakGlass.auditUse(
          session,
          toApiRun(run),
          waived,
          httpRequest,
        );
      }
      return ctx.dispatch(run);
    },
    run => ({
      runId: run.id,
      environment: run.environment,
      commitSha: run.commitSha,
      ...(run.breakGlass
        ? { breakGlassSessionId: run.breakGlass.sessionId }
        : {}),
    }),
  );
}
