/**
 * A refusal by a check: the job ends `rejected` with this reason, before
 * Terraform changed anything.
 */
export class Rejection extends Error {}
