import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import {
  ModuleUsage,
  BreakGlassSession,
  Run,
  RUN_STATUSES,
  RunStatus,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  ListBreakGlassOptions,
  ListRunsOptions,
  LogPage,
  LogStreamHandlers,
  OpenBreakGlassRequest,
  SealedRunnerApi,
} from './SealedRunnerApi';
import { parseEventStream } from './parseEventStream';

/**
 * The default {@link SealedRunnerApi}: the gate's HTTP API through
 * Backstage's discovery and (authenticated) fetch APIs.
 *
 * @public
 */
export class SealedRunnerClient implements SealedRunnerApi {
  private readonly discoveryApi: DiscoveryApi;
  private readonly fetchApi: FetchApi;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
  }

  async listTargets(entityRef: string): Promise<Target[]> {
    const body = await this.request<{ items: Target[] }>('GET', '/targets', {
      query: { entityRef },
    });
    return body.items;
  }

  async listModuleUsage(entityRef: string): Promise<ModuleUsage[]> {
    const body = await this.request<{ items: ModuleUsage[] }>(
      'GET',
      '/modules',
      {
        query: { entityRef },
      },
    );
    return body.items;
  }

  async requestPlan(request: {
    entityRef: string;
    environment: string;
    ref?: string;
  }): Promise<Run> {
    const body = await this.request<{ run: Run }>('POST', '/runs', {
      body: { ...request, operation: 'plan' },
    });
    return body.run;
  }

  async approve(planRunId: string): Promise<Run> {
    return this.runAction(planRunId, 'approve');
  }

  async apply(planRunId: string): Promise<Run> {
    return this.runAction(planRunId, 'apply');
  }

  async cancel(runId: string): Promise<Run> {
    return this.runAction(runId, 'cancel');
  }

  async getRun(runId: string): Promise<Run> {
    const body = await this.request<{ run: Run }>(
      'GET',
      `/runs/${encodeURIComponent(runId)}`,
    );
    return body.run;
  }

  async listRuns(options: ListRunsOptions = {}): Promise<Run[]> {
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined && value !== '') {
        query[key] = String(value);
      }
    }
    const body = await this.request<{ items: Run[] }>('GET', '/runs', {
      query,
    });
    return body.items;
  }

  async getLogs(runId: string, after = 0): Promise<LogPage> {
    return this.request<LogPage>(
      'GET',
      `/runs/${encodeURIComponent(runId)}/logs`,
      {
        query: { after: String(after) },
      },
    );
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
    const response = await this.fetch(
      'GET',
      `/runs/${encodeURIComponent(runId)}/logs/stream`,
      {
        query: { after: String(options.after) },
        signal: options.signal,
        accept: 'text/event-stream',
      },
    );
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

  async listBreakGlass(
    options: ListBreakGlassOptions = {},
  ): Promise<BreakGlassSession[]> {
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined && value !== '') {
        query[key] = String(value);
      }
    }
    const body = await this.request<{ items: BreakGlassSession[] }>(
      'GET',
      '/break-glass',
      { query },
    );
    return body.items;
  }

  async openBreakGlass(
    request: OpenBreakGlassRequest,
  ): Promise<BreakGlassSession> {
    const body = await this.request<{ session: BreakGlassSession }>(
      'POST',
      '/break-glass',
      { body: request },
    );
    return body.session;
  }

  async closeBreakGlass(
    sessionId: string,
    reason?: string,
  ): Promise<BreakGlassSession> {
    const body = await this.request<{ session: BreakGlassSession }>(
      'POST',
      `/break-glass/${encodeURIComponent(sessionId)}/close`,
      { body: reason ? { reason } : {} },
    );
    return body.session;
  }

  private async runAction(
    runId: string,
    action: 'approve' | 'apply' | 'cancel',
  ): Promise<Run> {
    const body = await this.request<{ run: Run }>(
      'POST',
      `/runs/${encodeURIComponent(runId)}/${action}`,
      { body: {} },
    );
    return body.run;
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    options: { query?: Record<string, string>; body?: object } = {},
  ): Promise<T> {
    const response = await this.fetch(method, path, {
      ...options,
      accept: 'application/json',
    });
    return (await response.json()) as T;
  }

  private async fetch(
    method: 'GET' | 'POST',
    path: string,
    options: {
      query?: Record<string, string>;
      body?: object;
      signal?: AbortSignal;
      accept: string;
    },
  ): Promise<Response> {
    const baseUrl = await this.discoveryApi.getBaseUrl('sealed-runner');
    const search = new URLSearchParams(options.query ?? {}).toString();
    const response = await this.fetchApi.fetch(
      `${baseUrl}${path}${search ? `?${search}` : ''}`,
      {
        method,
        headers: {
          Accept: options.accept,
          ...(options.body ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(options.body ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return response;
  }
}
