/** How much log one run may keep (`sealedRunner.runner.logs`). */
export interface LogLimits {
  maxLines: number;
  maxBytes: number;
}

export { DEFAULT_LOG_LIMITS } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/**
 * What one stored line costs beyond its text: its row (run id, sequence
 * number) and its index entry. Counted so that `maxBytes` bounds what the
 * log takes in the database, not just its text.
 */
export const LOG_ROW_BYTES = 160;

/** What a run's log holds so far (`bytes` as stored, rows included). */
export interface LogTally {
  lines: number;
  bytes: number;
  truncated: boolean;
}

/**
 * The lines of `incoming` a run's log keeps: all of them while the log is
 * within its limits; at the first line that would cross one, a single
 * marker saying so; nothing after that. The run itself goes on, and its
 * result is not a log line, so it is never lost to the limit.
 */
export function limitLogLines(
  tally: LogTally,
  incoming: readonly string[],
  limits: LogLimits,
): { kept: string[]; tally: LogTally } {
  const kept: string[] = [];
  let { lines, bytes, truncated } = tally;
  for (const line of incoming) {
    if (truncated) {
      break;
    }
    const size = Buffer.byteLength(line, 'utf8') + LOG_ROW_BYTES;
    if (lines + 1 > limits.maxLines || bytes + size > limits.maxBytes) {
      const marker = `[sealed-runner backend] log truncated: this run's log reached its limit of ${limits.maxLines} lines or ${limits.maxBytes} bytes (sealedRunner.runner.logs); the run goes on and its result is kept, later output is not stored`;
      kept.push(marker);
      lines += 1;
      bytes += Buffer.byteLength(marker, 'utf8') + LOG_ROW_BYTES;
      truncated = true;
      break;
    }
    kept.push(line);
    lines += 1;
    bytes += size;
  }
  return { kept, tally: { lines, bytes, truncated } };
}
