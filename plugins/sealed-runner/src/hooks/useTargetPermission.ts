import { ResourcePermission } from '@backstage/plugin-permission-common';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  stringifyTargetRef,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * Asks the permission framework whether the viewer may do `verb` on the
 * target; returns why not (or undefined), and `loading` until it knows.
 */
export function useTargetPermission(
  permission: ResourcePermission,
  target: Pick<Target, 'entityRef' | 'environment'>,
  verb: string,
): { loading: boolean; blocker?: string } {
  const { loading, allowed } = usePermission({
    permission,
    resourceRef: stringifyTargetRef(target),
  });
  if (loading) {
    return { loading };
  }
  return allowed
    ? { loading }
    : { loading, blocker: `you may not ${verb} ${target.environment}` };
}
