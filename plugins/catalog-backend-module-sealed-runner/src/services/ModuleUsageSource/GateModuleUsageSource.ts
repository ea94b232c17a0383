import type {
  AuthService,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { ResponseError } from '@backstage/errors';
import type { ModuleUsage } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  DefaultSealedRunnerGateClient,
  SealedRunnerGateClient,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import type { ModuleUsageSource } from './types';

/** The gate answers from its database; a slow answer must not stall catalog processing. */
const DEFAULT_TIMEOUT_MS = 10_000;

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isModuleUsage(value: unknown): value is ModuleUsage {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const item = value as Record<string, unknown>;
  return (
    isString(item.environment) &&
    isString(item.runId) &&
    isString(item.commitSha) &&
    isString(item.source) &&
    isString(item.version) &&
    Array.isArray(item.moduleRefs) &&
    item.moduleRefs.every(isString)
  );
}

/**
 * Asks the sealed-runner gate which catalog modules an entity's targets
 * use (`GET /modules?entityRef=…`), as the catalog plugin itself.
 *
 * @public
 */
export class GateModuleUsageSource implements ModuleUsageSource {
  static create(options: {
    discovery: DiscoveryService;
    auth: AuthService;
    /** Per request. Default 10 s: a slow gate must not stall catalog processing. */
    timeoutMs?: number;
  }): GateModuleUsageSource {
    const gate = new DefaultSealedRunnerGateClient({
      discovery: options.discovery,
      auth: options.auth,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    return new GateModuleUsageSource(gate, options.auth);
  }

  constructor(
    private readonly gate: SealedRunnerGateClient,
    private readonly auth: AuthService,
  ) {}

  async listModuleUsage(entityRef: string): Promise<ModuleUsage[]> {
    let items: unknown;
    try {
      items = await this.gate.listModuleUsage(entityRef, {
        credentials: await this.auth.getOwnServiceCredentials(),
      });
    } catch (error) {
      // The gate does not know the entity (yet), or cannot see it: no usage.
      if (error instanceof ResponseError && error.response.status === 404) {
        return [];
      }
      throw error;
    }
    if (!Array.isArray(items) || !items.every(isModuleUsage)) {
      throw new Error(
        'the sealed-runner gate answered with an unexpected body (expected { items: ModuleUsage[] })',
      );
    }
    return items;
  }
}
