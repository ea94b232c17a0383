import { ResourceChange } from '@sealed-runner/backstage-plugin-sealed-runner-common';

/** What a resource change does, as an approver reads it. */
export type ChangeKind =
  | 'create'
  | 'update'
  | 'replace'
  | 'delete'
  | 'read'
  | 'no-op';

/** Display order: the most dangerous first. */
export const CHANGE_KINDS: ChangeKind[] = [
  'delete',
  'replace',
  'update',
  'create',
  'read',
  'no-op',
];

/** Terraform reports a replace as delete+create (either order). */
export function changeKind(change: ResourceChange): ChangeKind {
  const { actions } = change;
  if (actions.includes('delete') && actions.includes('create')) {
    return 'replace';
  }
  for (const kind of ['delete', 'create', 'update', 'read'] as const) {
    if (actions.includes(kind)) {
      return kind;
    }
  }
  return 'no-op';
}

/** Changes grouped by kind, in display order, empty groups left out. */
export function groupChanges(
  changes: ResourceChange[],
): { kind: ChangeKind; addresses: string[] }[] {
  const groups = new Map<ChangeKind, string[]>(
    CHANGE_KINDS.map(kind => [kind, []]),
  );
  for (const change of changes) {
    groups.get(changeKind(change))!.push(change.address);
  }
  return CHANGE_KINDS.filter(kind => groups.get(kind)!.length > 0).map(
    kind => ({
      kind,
      addresses: [...groups.get(kind)!].sort(),
    }),
  );
}
