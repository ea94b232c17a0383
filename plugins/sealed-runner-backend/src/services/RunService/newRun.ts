import { randomUUID } from 'node:crypto';
import {
  BreakGlassBypass,
  BreakGlassSession,
  jobSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { NewRun, RunRecord } from '../../database/RunStore';
import { DeployableTarget, RunContext } from './context';

/**
 * A queued run of a deployable target, with the job its runner gets: the
 * target, the commit, and the current vetted-module snapshot. An apply
 * names its plan's saved plan file, and the break-glass session it uses
 * (the signed grant lets the runner apply a branch that is not an apply
 * branch, until the session expires).
 */
export async function newRun(
  ctx: RunContext,
  target: DeployableTarget,
  fields: {
    ref: string;
    commitSha: string;
    requestedBy: string;
    plan?: RunRecord;
    breakGlass?: { session: BreakGlassSession; bypassed: BreakGlassBypass[] };
  },
): Promise<NewRun> {
  const session = fields.breakGlass?.session;
  const id = randomUUID();
  const operation = fields.plan ? 'apply' : 'plan';
  const job = jobSchema.parse({
    version: 1,
    runId: id,
    operation,
    entityRef: target.entityRef,
    environment: target.environment,
    repository: target.repository,
    ref: fields.ref,
    commitSha: fields.commitSha,
    path: target.path,
    // Vetted versions are commits: each tag as pinned when it was vetted.
    modules: await ctx.modulePins.pinned(await ctx.targets.catalogModules()),
    ...(fields.plan
      ? { plan: { runId: fields.plan.id, sha256: fields.plan.planSha256 } }
      : {}),
    issuedAt: new Date().toISOString(),
    ...(session
      ? {
          breakGlass: {
            sessionId: session.id,
            openedBy: session.openedBy,
            expiresAt: session.expiresAt,
          },
        }
      : {}),
  });
  return {
    id,
    entityRef: target.entityRef,
    environment: target.environment,
    repository: target.repository,
    path: target.path,
    lockKey: target.lockKey,
    operation,
    ref: fields.ref,
    commitSha: fields.commitSha,
    requestedBy: fields.requestedBy,
    createdAt: job.issuedAt,
    ...(fields.plan ? { planRunId: fields.plan.id } : {}),
    job,
    ...(session
      ? {
          breakGlass: {
            sessionId: session.id,
            openedBy: session.openedBy,
            reason: session.reason,
            bypassed: fields.breakGlass!.bypassed,
          },
        }
      : {}),
  };
}
