import { useApi } from '@backstage/core-plugin-api';
import { useEffect, useState } from 'react';
import { sleep } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { sealedRunnerApiRef } from '../api';

/** How often the log is polled when the live stream is not available. */
export const LOG_POLL_MS = 1_000;
/** Lines arriving within this window are rendered together. */
const FLUSH_MS = 50;

export interface RunLogState {
  lines: string[];
  /** The run has ended and every line is here. */
  complete: boolean;
  /** `stream` while following live, `poll` after falling back. */
  mode: 'stream' | 'poll';
  error?: Error;
}

/**
 * Follows a run's log: live over server-sent events, falling back to
 * polling `/logs?after=N` if the stream cannot be opened or breaks (a proxy
 * that buffers, a dropped connection). Lines are never lost or repeated
 * across the switch: both resume from the last position received.
 */
export function useRunLogs(runId: string): RunLogState {
  const api = useApi(sealedRunnerApiRef);
  const [state, setState] = useState<RunLogState>({
    lines: [],
    complete: false,
    mode: 'stream',
  });

  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    let next = 0;
    let pending: string[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    setState({ lines: [], complete: false, mode: 'stream' });

    const flush = () => {
      flushTimer = undefined;
      const batch = pending;
      pending = [];
      if (batch.length > 0 && !signal.aborted) {
        setState(s => ({ ...s, lines: [...s.lines, ...batch] }));
      }
    };
    const add = (lines: string[], position: number) => {
      next = position;
      pending.push(...lines);
      flushTimer ??= setTimeout(flush, FLUSH_MS);
    };
    const finish = () => {
      if (flushTimer) {
        clearTimeout(flushTimer);
      }
      flush();
      if (!signal.aborted) {
        setState(s => ({ ...s, complete: true, error: undefined }));
      }
    };

    (async () => {
      try {
        await api.streamLogs(runId, {
          after: 0,
          signal,
          onLine: (line, position) => add([line], position),
          onComplete: () => {},
        });
        if (!signal.aborted) {
          finish();
        }
        return;
      } catch {
        if (signal.aborted) {
          return;
        }
        setState(s => ({ ...s, mode: 'poll' }));
      }
      while (!signal.aborted) {
        try {
          const page = await api.getLogs(runId, next);
          add(page.lines, page.next);
          if (page.complete) {
            finish();
            return;
          }
          setState(s => (s.error ? { ...s, error: undefined } : s));
        } catch (error) {
          if (!signal.aborted) {
            setState(s => ({ ...s, error: error as Error }));
          }
        }
        await sleep(LOG_POLL_MS, signal);
      }
    })();

    return () => {
      abort.abort();
      if (flushTimer) {
        clearTimeout(flushTimer);
      }
    };
  }, [api, runId]);

  return state;
}
