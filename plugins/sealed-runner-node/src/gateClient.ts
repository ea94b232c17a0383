import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { ResponseError } from '@backstage/errors';
import {
  ModuleUsage,
  Run,
  Target,
  TargetOwner,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Calls from other backend plugins to the sealed-runner gate, always on
 * behalf of a principal (the user running a template, or the calling
 * plugin itself), so the gate applies the same permissions, four-eyes and
 * binding rules as for any HTTP caller. There is no side door.
 *
 * @public
 */
export interface SealedRunnerGateClient {
  listTargets(entityRef: string, options: GateCallOptions): Promise<Target[]>;
  listModuleUsage(
    entityRef: string,
    options: GateCallOptions,
  ): Promise<ModuleUsage[]>;
  /** Who owns each target of a repository (service principals only). */
  listTargetOwners(
    repository: string,
    options: GateCallOptions,
  ): Promise<TargetOwner[]>;
  requestPlan(
    request: { entityRef: string; environment: string; ref?: string },
    options: GateCallOptions,
  ): Promise<Run>;
  apply(planRunId: string, options: GateCallOptions): Promise<Run>;
  getRun(runId: string, options: GateCallOptions): Promise<Run>;
  getLogs(
    runId: string,
    after: number,
    options: GateCallOptions,
  ): Promise<{ lines: string[]; next: number; complete: boolean }>;
}

/** @public */
export interface GateCallOptions {
  /** Whom the call is made for: the gate sees this principal. */
  credentials: BackstageCredentials;
}

/**
 * The gate's HTTP API through Backstage discovery, with a plugin-to-plugin
 * token issued on behalf of the caller's credentials. Refusals throw
 * `ResponseError` carrying the gate's reason.
 *
 * @public
 */
export class DefaultSealedRunnerGateClient implements SealedRunnerGateClient {
  constructor(
    private readonly options: {
      discovery: DiscoveryService;
      auth: AuthService;
      /** Per request; default 30 s. A gate that hangs must not hang its callers. */
      timeoutMs?: number;
    },
  ) {}

  async listTargets(
    entityRef: string,
    options: GateCallOptions,
  ): Promise<Target[]> {
    const body = await this.call<{ items: Target[] }>(
      'GET',
      '/targets',
      options,
      { entityRef },
    );
    return body.items;
  }

  async listModuleUsage(
    entityRef: string,
    options: GateCallOptions,
  ): Promise<ModuleUsage[]> {
    const body = await this.call<{ items: ModuleUsage[] } | null>(
      'GET',
      '/modules',
      options,
      {
        entityRef,
      },
    );
    return body?.items as ModuleUsage[];
  }

  async listTargetOwners(
    repository: string,
    options: GateCallOptions,
  ): Promise<TargetOwner[]> {
    const body = await this.call<{ items: TargetOwner[] }>(
      'GET',
      '/target-owners',
      options,
      { repository },
    );
    return body.items;
  }

  async requestPlan(
    request: { entityRef: string; environment: string; ref?: string },
    options: GateCallOptions,
  ): Promise<Run> {
    const body = await this.call<{ run: Run }>(
      'POST',
      '/runs',
      options,
      undefined,
      {
        ...request,
        operation: 'plan',
      },
    );
    return body.run;
  }

  async apply(planRunId: string, options: GateCallOptions): Promise<Run> {
    const body = await this.call<{ run: Run }>(
      'POST',
      `/runs/${encodeURIComponent(planRunId)}/apply`,
      options,
      undefined,
      {},
    );
    return body.run;
  }

  async getRun(runId: string, options: GateCallOptions): Promise<Run> {
    const body = await this.call<{ run: Run }>(
      'GET',
      `/runs/${encodeURIComponent(runId)}`,
      options,
    );
    return body.run;
  }

  async getLogs(runId: string, after: number, options: GateCallOptions) {
    return this.call<{ lines: string[]; next: number; complete: boolean }>(
      'GET',
      `/runs/${encodeURIComponent(runId)}/logs`,
      options,
      { after: String(after) },
    );
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    { credentials }: GateCallOptions,
    query?: Record<string, string>,
    body?: object,
  ): Promise<T> {
    const { discovery, auth } = this.options;
    const baseUrl = await discovery.getBaseUrl('sealed-runner');
    const { token } = await auth.getPluginRequestToken({
      onBehalfOf: credentials,
      targetPluginId: 'sealed-runner',
    });
    const search = query ? `?${new URLSearchParams(query)}` : '';
    const response = await fetch(`${baseUrl}${path}${search}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      // A redirect would carry the token somewhere discovery did not name.
      redirect: 'error',
      signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(
        `the sealed-runner gate answered ${path} with malformed JSON`,
      );
    }
  }
}
