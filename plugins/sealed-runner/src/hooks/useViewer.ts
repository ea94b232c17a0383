import { identityApiRef, useApi } from '@backstage/core-plugin-api';
import useAsync from 'react-use/esm/useAsync';
import { Viewer } from '../components/shared/runActions';

/** The signed-in user, for the four-eyes and approver hints. */
export function useViewer(): Viewer | undefined {
  const identityApi = useApi(identityApiRef);
  const { value } = useAsync(
    () => identityApi.getBackstageIdentity(),
    [identityApi],
  );
  return value
    ? {
        userEntityRef: value.userEntityRef,
        ownershipEntityRefs: value.ownershipEntityRefs,
      }
    : undefined;
}
