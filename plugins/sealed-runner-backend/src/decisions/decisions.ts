import { ConflictError, NotAllowedError } from '@backstage/errors';
import {
  BreakGlassBypass,
  includesEntityRef,
  isApplyBranch,
  isUserActor,
  missingApprovals as missingApprovalsOf,
  sameEntityRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { EnvironmentConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { PlanSnapshot, RunRecord } from '../database/RunStore';

/**
 * The verdict of a gate rule. `conflict` is about the state of a run
 * (409), `forbidden` about who is asking (403).
 */
export type Decision =
  | { allowed: true }
  | { allowed: false; kind: 'conflict' | 'forbidden'; reason: string };

const ALLOW: Decision = { allowed: true };
const conflict = (reason: string): Decision => ({
  allowed: false,
  kind: 'conflict',
  reason,
});
const forbidden = (reason: string): Decision => ({
  allowed: false,
  kind: 'forbidden',
  reason,
});

/** Throws the Backstage error that carries a refusal to the right status code. */
export function enforce(decision: Decision): void {
  if (!decision.allowed) {
    throw decision.kind === 'conflict'
      ? new ConflictError(decision.reason)
      : new NotAllowedError(decision.reason);
  }
}

/** An apply of the plan that is running, queued or done blocks another. */
function blockingApply(snapshot: PlanSnapshot): RunRecord | undefined {
  return snapshot.applyRuns.find(
    run =>
      run.status === 'queued' ||
      run.status === 'running' ||
      run.status === 'succeeded',
  );
}

/** Rules every plan must meet before it can be approved or applied. */
function decideCurrentPlan(snapshot: PlanSnapshot): Decision {
  const { plan } = snapshot;
  if (plan.operation !== 'plan') {
    return conflict(`run ${plan.id} is an apply, not a plan`);
  }
  if (plan.status !== 'succeeded') {
    return conflict(
      `plan ${plan.id} is ${plan.status}; only a succeeded plan can be approved or applied`,
    );
  }
  if (plan.supersededBy) {
    return conflict(
      `plan ${plan.id} is stale: newer plan ${plan.supersededBy} exists for this target; approvals do not carry over`,
    );
  }
  const apply = blockingApply(snapshot);
  if (apply) {
    return conflict(
      `plan ${plan.id} has already been applied by run ${apply.id} (${apply.status})`,
    );
  }
  if (!plan.planSha256) {
    return conflict(`plan ${plan.id} has no saved plan file`);
  }
  return ALLOW;
}

function notAnApplyBranch(
  plan: RunRecord,
  environment: EnvironmentConfig,
): string {
  return `branch ${plan.ref} may not be applied to ${
    plan.environment
  } (apply branches: ${environment.applyBranches.join(', ')})`;
}

/**
 * May this caller request a plan of an environment? A service may not
 * where the environment says `serviceRequests: deny`.
 */
export function decidePlanRequest(
  requester: string,
  environmentName: string,
  environment: EnvironmentConfig,
): Decision {
  if (!isUserActor(requester) && environment.serviceRequests === 'deny') {
    return forbidden(
      `${environmentName} accepts plans from people only (serviceRequests: deny); ${requester} is a service`,
    );
  }
  return ALLOW;
}

/**
 * May this user approve this plan? Four-eyes: never the requester; only the
 * environment's approvers when the environment names them.
 */
export function decideApproval(
  snapshot: PlanSnapshot,
  approver: { userEntityRef: string; ownershipEntityRefs: string[] },
  environment: EnvironmentConfig,
): Decision {
  const current = decideCurrentPlan(snapshot);
  if (!current.allowed) {
    return current;
  }
  if (sameEntityRef(approver.userEntityRef, snapshot.plan.requestedBy)) {
    return forbidden(
      'you requested this plan; four-eyes rule: someone else must approve it',
    );
  }
  if (!isApplyBranch(environment.applyBranches, snapshot.plan.ref)) {
    return conflict(
      `${notAnApplyBranch(
        snapshot.plan,
        environment,
      )}; its plan cannot be approved`,
    );
  }
  if (environment.approvers) {
    const mine = [approver.userEntityRef, ...approver.ownershipEntityRefs];
    const allowed = environment.approvers.some(ref =>
      includesEntityRef(mine, ref),
    );
    if (!allowed) {
      return forbidden(
        `only ${environment.approvers.join(', ')} may approve plans for ${
          snapshot.plan.environment
        }`,
      );
    }
  }
  return ALLOW;
}

function missingApprovals(
  snapshot: PlanSnapshot,
  environment: EnvironmentConfig,
): number {
  return missingApprovalsOf(snapshot.plan, snapshot.approvals, environment);
}

/**
 * The rules an apply of this plan would need a break-glass session to
 * bypass: its branch is not an apply branch, its approvals are missing.
 * Only these two can ever be waived.
 */
export function breakGlassBypassesNeeded(
  snapshot: PlanSnapshot,
  environment: EnvironmentConfig,
): BreakGlassBypass[] {
  const needed: BreakGlassBypass[] = [];
  if (!isApplyBranch(environment.applyBranches, snapshot.plan.ref)) {
    needed.push('apply-branch');
  }
  if (missingApprovals(snapshot, environment) > 0) {
    needed.push('approvals');
  }
  return needed;
}

/**
 * Everything that decides whether a plan may be applied, except whether
 * its branch has moved: the plan must be current, of an apply branch, and
 * approved enough. `waived` are the rules an open break-glass session of
 * the requester lets through; a stale, failed or applied plan never is.
 */
export function decideApplyReadiness(
  snapshot: PlanSnapshot,
  environment: EnvironmentConfig,
  waived: readonly BreakGlassBypass[] = [],
): Decision {
  const current = decideCurrentPlan(snapshot);
  if (!current.allowed) {
    return current;
  }
  const { plan } = snapshot;
  if (
    !isApplyBranch(environment.applyBranches, plan.ref) &&
    !waived.includes('apply-branch')
  ) {
    return forbidden(notAnApplyBranch(plan, environment));
  }
  const missing = missingApprovals(snapshot, environment);
  if (missing > 0 && !waived.includes('approvals')) {
    const service = !isUserActor(plan.requestedBy)
      ? ` (a service requested it: one more than ${plan.environment}'s ${environment.requiredApprovals})`
      : '';
    return conflict(
      `plan ${plan.id} needs ${missing} more approval${
        missing === 1 ? '' : 's'
      } from someone other than ${plan.requestedBy}${service}`,
    );
  }
  return ALLOW;
}

/**
 * May this plan be applied now? Binds the apply to the exact plan and
 * commit: ready (see decideApplyReadiness), and the branch must not have
 * moved since it was planned.
 */
export function decideApply(
  snapshot: PlanSnapshot,
  environment: EnvironmentConfig,
  branchHead: string | undefined,
  waived: readonly BreakGlassBypass[] = [],
): Decision {
  const ready = decideApplyReadiness(snapshot, environment, waived);
  if (!ready.allowed) {
    return ready;
  }
  const { plan } = snapshot;
  if (branchHead === undefined) {
    return conflict(`branch ${plan.ref} no longer exists; plan again`);
  }
  if (branchHead !== plan.commitSha) {
    return conflict(
      `branch ${plan.ref} moved since this plan (planned ${plan.commitSha.slice(
        0,
        12,
      )}, now ${branchHead.slice(0, 12)}); plan again`,
    );
  }
  return ALLOW;
}

/** Only queued or running runs can be cancelled. */
export function decideCancel(run: RunRecord): Decision {
  if (run.status !== 'queued' && run.status !== 'running') {
    return conflict(
      `run ${run.id} is ${run.status}; only queued or running runs can be cancelled`,
    );
  }
  return ALLOW;
}
