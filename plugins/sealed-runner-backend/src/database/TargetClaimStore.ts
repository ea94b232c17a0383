/** One target's owner. */
export interface TargetClaim {
  lockKey: string;
  entityRef: string;
  environment: string;
  /** The repository's identity (`repositoryIdentity`). */
  repository: string;
  path: string;
  claimedAt: string;
}

/**
 * Which entity owns each target. A claim is made once (the first claimant
 * wins, across replicas) and moves only from an owner that no longer
 * declares the target.
 */
export interface TargetClaimStore {
  /** The target's claim, if it has one. */
  getClaim(options: { lockKey: string }): Promise<TargetClaim | undefined>;
  /** Claims a target unless it has an owner; returns the owner either way. */
  claim(
    claim: Omit<TargetClaim, 'claimedAt'> & { now: string },
  ): Promise<TargetClaim>;
  /** Moves a claim from `from` to `to`; false if `from` no longer held it. */
  transfer(options: {
    lockKey: string;
    from: string;
    to: string;
    now: string;
  }): Promise<boolean>;
  /** The claims on targets of one repository (its identity). */
  listClaims(options: { repository: string }): Promise<TargetClaim[]>;
}
