import { on } from 'node:events';
import { TERMINAL_RUN_STATUSES } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunContext } from '../context';
import { LogStreamItem, RequestOptions } from '../types';

const MAX_LOG_PAGE = 1000;
/**
 * A live stream reads this many lines at a time, and the next page only
 * once the client has taken the last: what one stream holds is bounded.
 */
const FOLLOW_PAGE = 200;
/** A stream looks for output ingested by another replica this often. */
const FOLLOW_POLL_MS = 1000;

/** A page of a run's log after line `after`. */
export async function getLogs(
  ctx: RunContext,
  runId: string,
  after: number,
  { credentials }: RequestOptions,
): Promise<{ lines: string[]; next: number; complete: boolean }> {
  const run = await ctx.loadRun(runId, credentials);
  const logs = await ctx.store.getLogs(runId, after, MAX_LOG_PAGE);
  const next = logs.length > 0 ? logs[logs.length - 1].seq : after;
  return {
    lines: logs.map(l => l.line),
    next,
    complete:
      TERMINAL_RUN_STATUSES.includes(run.status) && next >= run.logCount,
  };
}

/**
 * Authorises once, then yields log lines after `after` as they arrive,
 * and finally the run's end status. Undefined when the run has ended and
 * there is nothing after `after`.
 */
export async function followLogs(
  ctx: RunContext,
  runId: string,
  after: number,
  { credentials, signal }: RequestOptions & { signal: AbortSignal },
): Promise<AsyncIterable<LogStreamItem> | undefined> {
  const { store, supervisor } = ctx;
  const started = await ctx.loadRun(runId, credentials);
  if (
    TERMINAL_RUN_STATUSES.includes(started.status) &&
    after >= started.logCount
  ) {
    return undefined;
  }
  /**
   * Waits for new output: output ingested on this replica wakes the
   * stream at once; the timeout picks up output ingested by another.
   */
  const nextUpdate = async () => {
    const wake = AbortSignal.any([signal, AbortSignal.timeout(FOLLOW_POLL_MS)]);
    try {
      for await (const [id] of on(supervisor.updates, 'output', {
        signal: wake,
      })) {
        if (id === runId) {
          return;
        }
      }
    } catch {
      // Woken by the timeout, or the client went away.
    }
  };
  return (async function* follow() {
    let cursor = after;
    while (!signal.aborted) {
      // Read the run before its logs: if it had ended, the logs are complete.
      const run = (await store.getRun(runId))!;
      const logs = await store.getLogs(runId, cursor, FOLLOW_PAGE);
      for (const log of logs) {
        yield log;
        cursor = log.seq;
      }
      if (logs.length === FOLLOW_PAGE) {
        continue;
      }
      if (
        TERMINAL_RUN_STATUSES.includes(run.status) &&
        cursor >= run.logCount
      ) {
        yield { status: run.status };
        return;
      }
      await nextUpdate();
    }
  })();
}
