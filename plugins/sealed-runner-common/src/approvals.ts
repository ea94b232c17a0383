import { sameEntityRef } from './entityRefs';

/**
 * How the gate records a service principal: `service:<subject>`, never a
 * user ref, whatever its token's subject looks like.
 *
 * @public
 */
export const SERVICE_ACTOR_PREFIX = 'service:';

/**
 * True only for a user entity ref (`user:<namespace>/<name>`), the one kind
 * of requester four-eyes can hold to account. Anything else — a service
 * (`service:<subject>`), or a bare subject recorded before services were
 * prefixed — is not a person.
 *
 * @public
 */
export function isUserActor(actor: string): boolean {
  return /^user:[^/:]+\/[^/:]+$/i.test(actor);
}

/**
 * Approvals a plan needs before it may be applied. A plan nobody can be
 * held to four-eyes for (a service, CI, requested it: whoever wrote the
 * commit may approve it) needs one more where the environment asks for
 * approvals. An environment that needs none needs none from a service
 * either.
 *
 * @public
 */
export function requiredApprovalsFor(
  plan: { requestedBy: string },
  environment: { requiredApprovals: number },
): number {
  const extra =
    !isUserActor(plan.requestedBy) && environment.requiredApprovals > 0 ? 1 : 0;
  return environment.requiredApprovals + extra;
}

/**
 * The approvals of a plan that count: never the requester's own (the gate
 * refuses those, and one recorded under another spelling of the same ref
 * still does not count).
 *
 * @public
 */
export function countedApprovals<A extends { by: string }>(
  plan: { requestedBy: string },
  approvals: readonly A[],
): A[] {
  return approvals.filter(a => !sameEntityRef(a.by, plan.requestedBy));
}

/**
 * Approvals still needed before a plan may be applied: what the environment
 * requires of this requester, less the approvals that count.
 *
 * @public
 */
export function missingApprovals(
  plan: { requestedBy: string },
  approvals: readonly { by: string }[],
  environment: { requiredApprovals: number },
): number {
  return Math.max(
    0,
    requiredApprovalsFor(plan, environment) -
      countedApprovals(plan, approvals).length,
  );
}
