import { NotAllowedError } from '@backstage/errors';
import {
  ModuleUsage,
  parseModuleSource,
  Target,
  TargetOwner,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunContext } from '../context';
import { toApiRun } from '../toApiRun';
import { RequestOptions } from '../types';

/** The entity's targets the caller may read, with their lock and last run. */
export async function listTargets(
  ctx: RunContext,
  entityRef: string,
  { credentials }: RequestOptions,
): Promise<Target[]> {
  const { store } = ctx;
  const result: Target[] = [];
  for (const t of await ctx.readableTargets(entityRef, credentials)) {
    const lastRun = await store.latestRun(t.entityRef, t.environment);
    const lockedBy = t.lockKey ? await store.lockHolder(t.lockKey) : undefined;
    const approvers = t.environmentConfig?.approvers;
    result.push({
      entityRef: t.entityRef,
      environment: t.environment,
      repository: t.repository,
      path: t.path,
      applyBranches: t.environmentConfig?.applyBranches ?? [],
      requiredApprovals: t.environmentConfig?.requiredApprovals ?? 0,
      deployable: t.deployable,
      ...(t.reason ? { reason: t.reason } : {}),
      ...(approvers ? { approvers } : {}),
      locked: lockedBy !== undefined,
      ...(lockedBy ? { lockedBy } : {}),
      ...(lastRun ? { lastRun: toApiRun(lastRun) } : {}),
      sandboxed: ctx.sandboxed,
    });
  }
  return result;
}

/** The module versions the newest successful plan of each readable target used. */
export async function listModuleUsage(
  ctx: RunContext,
  entityRef: string,
  { credentials }: RequestOptions,
): Promise<ModuleUsage[]> {
  const vetted = await ctx.targets.vettedModuleEntities();
  const usage: ModuleUsage[] = [];
  for (const t of await ctx.readableTargets(entityRef, credentials)) {
    const [plan] = await ctx.store.listRuns({
      entityRef: t.entityRef,
      environment: t.environment,
      operation: 'plan',
      status: 'succeeded',
      limit: 1,
    });
    for (const reported of plan?.moduleSources ?? []) {
      const parsed = parseModuleSource(reported);
      if (!parsed.ok || !parsed.value.ref) {
        continue;
      }
      const { base, ref } = parsed.value;
      const pinnedCommit = plan.job.modules.find(m => m.source === base)
        ?.commits?.[ref];
      usage.push({
        environment: t.environment,
        runId: plan.id,
        commitSha: plan.commitSha,
        source: base,
        version: ref,
        ...(pinnedCommit ? { pinnedCommit } : {}),
        moduleRefs: vetted
          .filter(
            v => v.module.source === base && v.module.versions.includes(ref),
          )
          .map(v => v.entityRef),
      });
    }
  }
  return usage;
}

/** Who owns each target of a repository: for the catalog module (service principals only). */
export async function listTargetOwners(
  ctx: RunContext,
  repository: string,
  { credentials }: RequestOptions,
): Promise<TargetOwner[]> {
  // Owners name entities a user may not be allowed to see in the
  // catalog: only other plugins (the catalog module) ask.
  if (!ctx.auth.isPrincipal(credentials, 'service')) {
    throw new NotAllowedError('only backend plugins may list target owners');
  }
  return ctx.targets.targetOwners(repository);
}
