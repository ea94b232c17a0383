import { stringifyEntityRef } from '@backstage/catalog-model';
import { useApi } from '@backstage/core-plugin-api';
import { useEntity } from '@backstage/plugin-catalog-react';
import { Target } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { sealedRunnerApiRef } from '../api';
import { isActive } from '../components/shared/runActions';
import { usePolling } from './useRun';

/** How often targets with a run in progress are re-read. */
export const TARGETS_REFRESH_MS = 3_000;

const busy = (targets: Target[] | undefined) =>
  targets?.some(t => t.locked || (t.lastRun && isActive(t.lastRun))) ?? false;

/** The current entity's targets, re-read while any of them has a run in progress. */
export function useEntityTargets() {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const api = useApi(sealedRunnerApiRef);
  const state = useAsyncRetry(
    () => api.listTargets(entityRef),
    [api, entityRef],
  );
  usePolling(
    state.retry,
    !state.loading && busy(state.value),
    TARGETS_REFRESH_MS,
  );
  return { entity, entityRef, ...state };
}
