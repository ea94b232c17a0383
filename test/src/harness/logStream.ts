import { readFile } from 'node:fs/promises';
import { connect, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * Opens a run's live log stream on a raw socket and never reads from it:
 * the client that stalls a stream (tests and benchmarks of backpressure).
 */
export async function stalledLogStream(
  baseUrl: string,
  runId: string,
  token: string,
): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `GET /api/sealed-runner/runs/${runId}/logs/stream HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  socket.pause();
  socket.on('error', () => undefined);
  return socket;
}

/** Resident memory of a process, in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * Reads a run's live log (`GET /runs/:id/logs/stream`) until a line
 * matches; resolves with the time it arrived (`performance.now()` and the
 * wall clock, to compare with the fake AWS server's timestamps).
 */
export async function firstMatchingLine(
  url: string,
  token: string,
  matches: (line: string) => boolean,
): Promise<{ at: number; wallClockAt: number; line: string }> {
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok || !response.body) {
    throw new Error(`stream: ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    for (
      let end = buffer.indexOf('\n\n');
      end !== -1;
      end = buffer.indexOf('\n\n')
    ) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').find(l => l.startsWith('data: '));
      if (data && !event.includes('event: complete')) {
        const line = JSON.parse(data.slice('data: '.length)) as string;
        if (matches(line)) {
          const at = performance.now();
          const wallClockAt = Date.now();
          await reader.cancel();
          return { at, wallClockAt, line };
        }
      }
    }
  }
  throw new Error('the stream ended without a Terraform line');
}

export function percentile(sorted: number[], p: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  ];
}

/** "median …, p90 …, min …, max … (n=…)" of timings in ms. */
export function summarise(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `median ${percentile(sorted, 50).toFixed(0)} ms, p90 ${percentile(
    sorted,
    90,
  ).toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[
    sorted.length - 1
  ].toFixed(0)} ms (n=${values.length})`;
}
