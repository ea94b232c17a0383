import { useApi } from '@backstage/core-plugin-api';
import { useEffect } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { sealedRunnerApiRef } from '../api';
import { isActive } from '../components/shared/runActions';

/** How often an unfinished run is re-read. */
export const RUN_REFRESH_MS = 2_000;

/**
 * Loads a run and re-reads it while it is queued or running, so status,
 * plan summary and approvals stay current.
 */
export function useRun(runId: string) {
  const api = useApi(sealedRunnerApiRef);
  const state = useAsyncRetry(() => api.getRun(runId), [api, runId]);
  const { value: run, loading, retry } = state;
  usePolling(
    retry,
    !loading && run !== undefined && isActive(run),
    RUN_REFRESH_MS,
  );
  return state;
}

/** Calls `refresh` every `intervalMs` while `enabled`. */
export function usePolling(
  refresh: () => void,
  enabled: boolean,
  intervalMs: number,
) {
  useEffect(() => {
    if (!enabled) {
      return undefined;
    }
    const timer = setTimeout(refresh, intervalMs);
    return () => clearTimeout(timer);
  }, [refresh, enabled, intervalMs]);
}
