import { useApi } from '@backstage/core-plugin-api';
import { isBreakGlassSessionActive } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useEffect, useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { sealedRunnerApiRef } from '../api';

/** How often open sessions are re-read (another holder may open or close one). */
export const BREAK_GLASS_REFRESH_MS = 30_000;

/**
 * The open break-glass sessions of an entity (or of one of its targets).
 * A session stops counting the moment it expires, without waiting for the
 * gate: the list is re-read then.
 */
export function useBreakGlassSessions(entityRef: string, environment?: string) {
  const api = useApi(sealedRunnerApiRef);
  const state = useAsyncRetry(
    () => api.listBreakGlass({ entityRef, environment, active: true }),
    [api, entityRef, environment],
  );
  const [now, setNow] = useState(() => Date.now());
  const { value, retry } = state;

  useEffect(() => {
    const nextExpiry = Math.min(
      ...(value ?? [])
        .map(s => Date.parse(s.expiresAt))
        .filter(t => t > Date.now()),
    );
    const delay = Math.max(
      0,
      Math.min(BREAK_GLASS_REFRESH_MS, nextExpiry - Date.now() + 50),
    );
    const timer = setTimeout(() => {
      setNow(Date.now());
      retry();
    }, delay);
    return () => clearTimeout(timer);
  }, [value, retry]);

  const sessions = (value ?? []).filter(s => isBreakGlassSessionActive(s, now));
  return {
    ...state,
    sessions,
    /** The open session of one environment of the entity. */
    sessionOf: (env: string) => sessions.find(s => s.environment === env),
  };
}
