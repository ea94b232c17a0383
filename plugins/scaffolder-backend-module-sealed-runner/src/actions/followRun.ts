import {
  BackstageCredentials,
  LoggerService,
} from '@backstage/backend-plugin-api';
import {
  Run,
  sleep,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerGateClient } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/** How often the gate is asked for new log lines. */
export const LOG_POLL_MS = 1_000;

/**
 * Copies a run's log into the scaffolder log as it arrives, until the run
 * ends or `deadline` passes (or the task is cancelled). Returns the run as
 * last read; callers decide what an unfinished run means.
 */
export async function followRun(options: {
  gate: SealedRunnerGateClient;
  runId: string;
  credentials: BackstageCredentials;
  logger: LoggerService;
  deadline: number;
  signal?: AbortSignal;
  pollMs?: number;
}): Promise<Run> {
  const { gate, runId, credentials, logger, deadline, signal } = options;
  let after = 0;
  for (;;) {
    const page = await gate.getLogs(runId, after, { credentials });
    for (const line of page.lines) {
      logger.info(line);
    }
    after = page.next;
    if (page.complete || Date.now() >= deadline || signal?.aborted) {
      const run = await gate.getRun(runId, { credentials });
      if (!page.complete && TERMINAL_RUN_STATUSES.includes(run.status)) {
        // Ended between the two reads: pick up the last lines.
        continue;
      }
      return run;
    }
    await sleep(options.pollMs ?? LOG_POLL_MS, signal);
  }
}
