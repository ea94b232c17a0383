import {
  MAX_LOG_LINE_LENGTH,
  RunnerEvent,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { frameLine } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

/**
 * Where a runner reports: one JSON event per line. The local dispatcher
 * points stdout at a file the backend tails; on ECS it is the awslogs stream.
 */
export interface EventSink {
  emit(event: RunnerEvent): void;
}

export function log(sink: EventSink, line: string): void {
  sink.emit({
    type: 'log',
    line:
      line.length > MAX_LOG_LINE_LENGTH
        ? `${line.slice(0, MAX_LOG_LINE_LENGTH - 14)} …[truncated]`
        : line,
  });
}

export function note(sink: EventSink, message: string): void {
  log(sink, `[sealed-runner] ${message}`);
}

export const stdoutSink: EventSink = {
  emit(event) {
    process.stdout.write(`${JSON.stringify(event)}\n`);
  },
};

/**
 * The ECS runner's sink: lines that CloudWatch Logs would split are written
 * as frames the ECS dispatcher reassembles (see logFrames.ts).
 */
export function framedStdoutSink(): EventSink {
  let id = 0;
  return {
    emit(event) {
      for (const line of frameLine(JSON.stringify(event), id++)) {
        process.stdout.write(`${line}\n`);
      }
    },
  };
}
