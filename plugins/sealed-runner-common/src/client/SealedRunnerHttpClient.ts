import { ResponseError } from '@backstage/errors';
import {
  BreakGlassSession,
  ModuleUsage,
  Run,
  RunStatus,
  Target,
  TargetOwner,
} from '../types';

/** One call to the gate, relative to its base URL. @public */
export interface GateRequest {
  method: 'GET' | 'POST';
  /** The path under the gate's base URL, with its parameters encoded. */
  path: string;
  query?: Record<string, string>;
  body?: object;
  /** Default `application/json`. */
  accept?: string;
  signal?: AbortSignal;
}

/**
 * How a request reaches the gate: the caller finds its base URL and adds
 * the credentials (the browser's fetch API, or a plugin-to-plugin token on
 * the backend). Given the URL and the `RequestInit` this client built.
 *
 * @public
 */
export type GateTransport = (
  url: string,
  init: RequestInit,
) => Promise<Response>;

/** A page of a run's log. @public */
export interface LogPage {
  lines: string[];
  next: number;
  complete: boolean;
}

/** `GET /runs` filters. @public */
export interface ListRunsOptions {
  entityRef?: string;
  environment?: string;
  status?: RunStatus;
  limit?: number;
}

/** `GET /break-glass` filters. @public */
export interface ListBreakGlassOptions {
  entityRef?: string;
  environment?: string;
  /** Only open sessions (true) or only closed and expired ones (false). */
  active?: boolean;
  limit?: number;
}

/** `POST /break-glass`. @public */
export interface OpenBreakGlassOptions {
  entityRef: string;
  environment: string;
  reason: string;
  ticket?: string;
  durationMinutes?: number;
}

/** A query from options: unset and empty values are left out. */
function queryOf(options: object): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && value !== '') {
      query[key] = String(value);
    }
  }
  return query;
}

const runPath = (runId: string, action?: string) =>
  `/runs/${encodeURIComponent(runId)}${action ? `/${action}` : ''}`;

/**
 * The gate's HTTP API, one method per operation, for every caller: the
 * frontend, the catalog and scaffolder modules. How a request is sent (and
 * authenticated) is the transport's; what is sent and how the answer is
 * read is here, once. A refusal throws `ResponseError` with the gate's
 * reason.
 *
 * @public
 */
export class SealedRunnerHttpClient {
  constructor(
    private readonly options: {
      /** The gate's base URL (`…/api/sealed-runner`), as discovery gives it. */
      baseUrl: () => Promise<string>;
      transport: GateTransport;
    },
  ) {}

  async listTargets(entityRef: string): Promise<Target[]> {
    return this.items<Target>({
      method: 'GET',
      path: '/targets',
      query: { entityRef },
    });
  }

  /** The module versions the entity's targets use, with the commit each is pinned to. */
  async listModuleUsage(entityRef: string): Promise<ModuleUsage[]> {
    return this.items<ModuleUsage>({
      method: 'GET',
      path: '/modules',
      query: { entityRef },
    });
  }

  /** Who owns each target of a repository (service principals only). */
  async listTargetOwners(repository: string): Promise<TargetOwner[]> {
    return this.items<TargetOwner>({
      method: 'GET',
      path: '/target-owners',
      query: { repository },
    });
  }

  async requestPlan(request: {
    entityRef: string;
    environment: string;
    ref?: string;
  }): Promise<Run> {
    return this.run({
      method: 'POST',
      path: '/runs',
      body: { ...request, operation: 'plan' },
    });
  }

  async approve(planRunId: string): Promise<Run> {
    return this.run({
      method: 'POST',
      path: runPath(planRunId, 'approve'),
      body: {},
    });
  }

  async apply(planRunId: string): Promise<Run> {
    return this.run({
      method: 'POST',
      path: runPath(planRunId, 'apply'),
      body: {},
    });
  }

  async cancel(runId: string): Promise<Run> {
    return this.run({
      method: 'POST',
      path: runPath(runId, 'cancel'),
      body: {},
    });
  }

  async getRun(runId: string): Promise<Run> {
    return this.run({ method: 'GET', path: runPath(runId) });
  }

  async listRuns(options: ListRunsOptions = {}): Promise<Run[]> {
    return this.items<Run>({
      method: 'GET',
      path: '/runs',
      query: queryOf(options),
    });
  }

  async getLogs(runId: string, after = 0): Promise<LogPage> {
    return this.json<LogPage>({
      method: 'GET',
      path: runPath(runId, 'logs'),
      query: { after: String(after) },
    });
  }

  /** Break-glass sessions on targets the caller may read, newest first. */
  async listBreakGlass(
    options: ListBreakGlassOptions = {},
  ): Promise<BreakGlassSession[]> {
    return this.items<BreakGlassSession>({
      method: 'GET',
      path: '/break-glass',
      query: queryOf(options),
    });
  }

  /** Opens a break-glass session for the caller (needs `sealed-runner.breakglass`). */
  async openBreakGlass(
    request: OpenBreakGlassOptions,
  ): Promise<BreakGlassSession> {
    return this.session({
      method: 'POST',
      path: '/break-glass',
      body: request,
    });
  }

  /** Closes a session, with an optional note. */
  async closeBreakGlass(
    sessionId: string,
    reason?: string,
  ): Promise<BreakGlassSession> {
    return this.session({
      method: 'POST',
      path: `/break-glass/${encodeURIComponent(sessionId)}/close`,
      body: reason ? { reason } : {},
    });
  }

  /** Sends a request; a refusal throws `ResponseError` with the gate's reason. */
  async send(request: GateRequest): Promise<Response> {
    const baseUrl = await this.options.baseUrl();
    const search = new URLSearchParams(request.query ?? {}).toString();
    const response = await this.options.transport(
      `${baseUrl}${request.path}${search ? `?${search}` : ''}`,
      {
        method: request.method,
        headers: {
          Accept: request.accept ?? 'application/json',
          ...(request.body ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(request.body ? { body: JSON.stringify(request.body) } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      },
    );
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return response;
  }

  private async json<T>(request: GateRequest): Promise<T> {
    const text = await (await this.send(request)).text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(
        `the sealed-runner gate answered ${request.path} with malformed JSON`,
      );
    }
  }

  private async items<T>(request: GateRequest): Promise<T[]> {
    return (await this.json<{ items: T[] } | null>(request))?.items as T[];
  }

  private async run(request: GateRequest): Promise<Run> {
    return (await this.json<{ run: Run }>(request)).run;
  }

  private async session(request: GateRequest): Promise<BreakGlassSession> {
    return (await this.json<{ session: BreakGlassSession }>(request)).session;
  }
}
