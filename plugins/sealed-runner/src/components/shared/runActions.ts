import {
  BreakGlassSession,
  includesEntityRef,
  isApplyBranch,
  isBreakGlassSessionActive,
  missingApprovals as missingApprovalsOf,
  Run,
  sameEntityRef,
  Target,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * Why a button is not offered. The gate decides again on every request;
 * these only spare users a round trip and say why up front.
 */
export type Blocker = string | undefined;

/** Who is signed in: their user ref and the refs they own through (groups). */
export interface Viewer {
  userEntityRef: string;
  ownershipEntityRefs: string[];
}

/** `group:default/platform-team` → `platform-team`, as Backstage shows refs. */
export function displayRef(ref: string): string {
  return ref.replace(/^[^:]+:(default\/)?/, '');
}

export function isActive(run: Run): boolean {
  return !TERMINAL_RUN_STATUSES.includes(run.status);
}

/**
 * Approvals still needed before a plan may be applied, counted as the gate
 * counts them (one more for a plan CI requested; never the requester's own).
 */
export function missingApprovals(plan: Run, target: Target): number {
  return missingApprovalsOf(plan, plan.approvals, target);
}

/** Whether the run is a finished plan that could still be approved or applied. */
export function isOpenPlan(run: Run): boolean {
  return (
    run.operation === 'plan' &&
    run.status === 'succeeded' &&
    !run.supersededBy &&
    !run.applyRunId
  );
}

function openPlanBlocker(plan: Run): Blocker {
  if (plan.applyRunId) {
    return `this plan was applied by run ${plan.applyRunId}`;
  }
  if (plan.supersededBy) {
    return `a newer plan (${plan.supersededBy}) replaced this one`;
  }
  if (isActive(plan)) {
    return 'the plan has not finished';
  }
  if (plan.status === 'failed') {
    return 'the plan failed';
  }
  if (plan.status !== 'succeeded') {
    return `the plan was ${plan.status}`;
  }
  return undefined;
}

function applyBranchBlocker(plan: Run, target: Target): Blocker {
  if (isApplyBranch(target.applyBranches, plan.ref)) {
    return undefined;
  }
  return `${plan.ref} is not an apply branch of ${target.environment} (${
    target.applyBranches.join(', ') || 'none'
  })`;
}

/** Why the viewer may not approve this plan, if they may not. */
export function approveBlocker(
  plan: Run,
  target: Target,
  viewer: Viewer,
): Blocker {
  const blocker = openPlanBlocker(plan) ?? applyBranchBlocker(plan, target);
  if (blocker) {
    return blocker;
  }
  if (target.requiredApprovals === 0) {
    return `${target.environment} needs no approvals`;
  }
  if (sameEntityRef(plan.requestedBy, viewer.userEntityRef)) {
    return 'you requested this plan';
  }
  if (
    includesEntityRef(
      plan.approvals.map(a => a.by),
      viewer.userEntityRef,
    )
  ) {
    return 'you already approved this plan';
  }
  if (
    target.approvers &&
    !target.approvers.some(ref =>
      includesEntityRef(viewer.ownershipEntityRefs, ref),
    )
  ) {
    return `only ${target.approvers.map(displayRef).join(', ')} may approve ${
      target.environment
    }`;
  }
  return undefined;
}

/**
 * Whether the viewer can use this break-glass session now: it is open, not
 * expired, and they opened it (a session is only ever its opener's).
 */
export function holdsBreakGlass(
  session: BreakGlassSession | undefined,
  viewer: Viewer | undefined,
  now: number = Date.now(),
): boolean {
  return (
    session !== undefined &&
    viewer !== undefined &&
    isBreakGlassSessionActive(session, now) &&
    sameEntityRef(session.openedBy, viewer.userEntityRef)
  );
}

/**
 * Why this plan may not be applied now, if it may not. Under the viewer's
 * own open break-glass session (`underBreakGlass`), missing approvals and a
 * branch that is not an apply branch do not block it; nothing else is
 * waived.
 */
export function applyBlocker(
  plan: Run,
  target: Target,
  options: { underBreakGlass?: boolean } = {},
): Blocker {
  const waived = options.underBreakGlass === true;
  const blocker =
    openPlanBlocker(plan) ??
    (waived ? undefined : applyBranchBlocker(plan, target));
  if (blocker) {
    return blocker;
  }
  const missing = waived ? 0 : missingApprovals(plan, target);
  if (missing > 0) {
    return `needs ${missing} more approval${missing === 1 ? '' : 's'}`;
  }
  if (target.locked) {
    return lockedMessage(target);
  }
  return undefined;
}

/**
 * Whether an apply of this plan is possible only because of the viewer's
 * break-glass session, so the button can say so.
 */
export function appliesUnderBreakGlass(
  plan: Run,
  target: Target,
  underBreakGlass: boolean,
): boolean {
  return (
    underBreakGlass &&
    applyBlocker(plan, target) !== undefined &&
    applyBlocker(plan, target, { underBreakGlass }) === undefined
  );
}

function lockedMessage(target: Target): string {
  return target.lockedBy
    ? `target locked by run ${target.lockedBy}`
    : 'target locked by another run';
}

/** Why a new plan may not be requested now, if it may not. */
export function planBlocker(target: Target): Blocker {
  if (!target.deployable) {
    return target.reason ?? 'the target is not deployable';
  }
  if (target.locked) {
    return lockedMessage(target);
  }
  return undefined;
}
