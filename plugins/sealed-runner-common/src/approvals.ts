/**
 * How the gate records a service principal: `service:<subject>`, never a
 * user ref, whatever its token's subject looks like.
 *
 * @public
 */
export const SERVICE_ACTOR_PREFIX = 'service:';

/**
 * True for a requester or actor the gate recorded for a service principal.
 *
 * @public
 */
export function isServiceActor(actor: string): boolean {
  return actor.startsWith(SERVICE_ACTOR_PREFIX);
}

/**
 * Approvals a plan needs before it may be applied. A plan a service (CI)
 * requested has no person behind it who can be held to four-eyes (whoever
 * wrote the commit may approve it), so where the environment asks for
 * approvals it asks for one more. An environment that needs none needs
 * none from a service either.
 *
 * @public
 */
export function requiredApprovalsFor(
  plan: { requestedBy: string },
  environment: { requiredApprovals: number },
): number {
  const extra =
    isServiceActor(plan.requestedBy) && environment.requiredApprovals > 0
      ? 1
      : 0;
  return environment.requiredApprovals + extra;
}
