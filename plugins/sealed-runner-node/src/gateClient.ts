import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import {
  LogPage,
  ModuleUsage,
  Run,
  SealedRunnerHttpClient,
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
  ): Promise<LogPage>;
}

/** @public */
export interface GateCallOptions {
  /** Whom the call is made for: the gate sees this principal. */
  credentials: BackstageCredentials;
}

/**
 * The gate's HTTP API through Backstage discovery, with a plugin-to-plugin
 * token issued on behalf of the caller's credentials. Refusals throw
 * `ResponseError` carrying the gate's reason. Each call is made by the one
 * HTTP client every caller of the gate uses (`SealedRunnerHttpClient`).
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

  listTargets(entityRef: string, options: GateCallOptions) {
    return this.as(options).listTargets(entityRef);
  }

  listModuleUsage(entityRef: string, options: GateCallOptions) {
    return this.as(options).listModuleUsage(entityRef);
  }

  listTargetOwners(repository: string, options: GateCallOptions) {
    return this.as(options).listTargetOwners(repository);
  }

  requestPlan(
    request: { entityRef: string; environment: string; ref?: string },
    options: GateCallOptions,
  ) {
    return this.as(options).requestPlan(request);
  }

  apply(planRunId: string, options: GateCallOptions) {
    return this.as(options).apply(planRunId);
  }

  getRun(runId: string, options: GateCallOptions) {
    return this.as(options).getRun(runId);
  }

  getLogs(runId: string, after: number, options: GateCallOptions) {
    return this.as(options).getLogs(runId, after);
  }

  /** The HTTP client that calls the gate on behalf of these credentials. */
  private as({ credentials }: GateCallOptions): SealedRunnerHttpClient {
    const { discovery, auth, timeoutMs } = this.options;
    return new SealedRunnerHttpClient({
      baseUrl: () => discovery.getBaseUrl('sealed-runner'),
      transport: async (url, init) => {
        const { token } = await auth.getPluginRequestToken({
          onBehalfOf: credentials,
          targetPluginId: 'sealed-runner',
        });
        return fetch(url, {
          ...init,
          headers: { ...init.headers, Authorization: `Bearer ${token}` },
          // A redirect would carry the token somewhere discovery did not name.
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs ?? DEFAULT_TIMEOUT_MS),
        });
      },
    });
  }
}
