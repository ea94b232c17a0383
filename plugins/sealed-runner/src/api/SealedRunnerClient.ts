import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import {
  RUN_STATUSES,
  RunStatus,
  SealedRunnerHttpClient,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { LogStreamHandlers, SealedRunnerApi } from './SealedRunnerApi';
import { parseEventStream } from './parseEventStream';

/**
 * The default {@link SealedRunnerApi}: the gate's HTTP API (the one client
 * every caller uses, `SealedRunnerHttpClient`) through Backstage's
 * discovery and authenticated fetch APIs, plus the live log stream.
 *
 * @public
 */
export class SealedRunnerClient
  extends SealedRunnerHttpClient
  implements SealedRunnerApi
{
  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    super({
      baseUrl: () => options.discoveryApi.getBaseUrl('sealed-runner'),
      transport: (url, init) => options.fetchApi.fetch(url, init),
    });
  }

  async streamLogs(
    runId: string,
    options: { after: number; signal: AbortSignal } & LogStreamHandlers,
  ): Promise<void> {
    try {
      await this.followLogStream(runId, options);
    } catch (error) {
      // Aborting (leaving the page) is how callers stop following.
      if (!options.signal.aborted) {
        throw error;
      }
    }
  }

  private async followLogStream(
    runId: string,
    options: { after: number; signal: AbortSignal } & LogStreamHandlers,
  ): Promise<void> {
    const response = await this.send({
      method: 'GET',
      path: `/runs/${encodeURIComponent(runId)}/logs/stream`,
      query: { after: String(options.after) },
      signal: options.signal,
      accept: 'text/event-stream',
    });
    if (response.status === 204 || !response.body) {
      // The run has ended and there is nothing after `after`.
      return;
    }
    let next = options.after;
    for await (const event of parseEventStream(response.body)) {
      if (event.event === 'complete') {
        const { status } = JSON.parse(event.data) as { status: RunStatus };
        options.onComplete(RUN_STATUSES.includes(status) ? status : 'failed');
        return;
      }
      next = event.id !== undefined ? Number(event.id) : next + 1;
      options.onLine(JSON.parse(event.data) as string, next);
    }
    if (!options.signal.aborted) {
      throw new Error('the log stream ended before the run did');
    }
  }
}
