import type { TargetOwner } from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * Who owns the targets of a repository. The default asks the gate
 * (`GET /api/sealed-runner/target-owners`), which records the one entity
 * each folder belongs to.
 *
 * @public
 */
export interface TargetOwnerSource {
  /** The owners of the repository's targets; rejects when it cannot answer. */
  listTargetOwners(repository: string): Promise<TargetOwner[]>;
}
