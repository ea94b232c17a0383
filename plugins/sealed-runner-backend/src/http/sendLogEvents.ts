import { once } from 'node:events';
import express from 'express';

const KEEPALIVE_MS = 15_000;

/** One log line or the end of the run, as the run service yields them. */
type LogStreamItem = { seq: number; line: string } | { status: string };

function toEvent(item: LogStreamItem): string {
  return 'line' in item
    ? // JSON-encode the line: a bare '\r' would end an SSE field.
      `id: ${item.seq}\ndata: ${JSON.stringify(item.line)}\n\n`
    : `event: complete\ndata: ${JSON.stringify({ status: item.status })}\n\n`;
}

/**
 * Writes the stream's events as fast as the client takes them, and no
 * faster: the next line is read only once the socket has room, so a client
 * that stops reading holds one page at most. A client that takes nothing
 * for `slowClientMs` is cut off (an EventSource reconnects with
 * Last-Event-ID and loses nothing).
 */
export async function sendLogEvents(
  res: express.Response,
  stream: AsyncIterable<LogStreamItem>,
  options: { signal: AbortSignal; slowClientMs: number },
): Promise<void> {
  const { signal, slowClientMs } = options;
  const drained = async () => {
    try {
      await once(res, 'drain', {
        signal: AbortSignal.any([signal, AbortSignal.timeout(slowClientMs)]),
      });
      return true;
    } catch {
      return false;
    }
  };
  const keepalive = setInterval(() => {
    // A keepalive only matters to a client that is reading.
    if (!res.writableNeedDrain) {
      res.write(': keepalive\n\n');
    }
  }, KEEPALIVE_MS);
  try {
    for await (const item of stream) {
      if (signal.aborted) {
        return;
      }
      if (!res.write(toEvent(item)) && !(await drained())) {
        res.destroy();
        return;
      }
    }
  } finally {
    clearInterval(keepalive);
  }
}
