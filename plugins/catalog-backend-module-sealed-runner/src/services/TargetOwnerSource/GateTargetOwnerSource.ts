import type {
  AuthService,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import type { TargetOwner } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  DefaultSealedRunnerGateClient,
  SealedRunnerGateClient,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import type { TargetOwnerSource } from './types';

/** A slow gate must not stall catalog processing. */
const DEFAULT_TIMEOUT_MS = 10_000;

function isTargetOwner(value: unknown): value is TargetOwner {
  const item = value as Record<string, unknown> | null;
  return (
    typeof item === 'object' &&
    item !== null &&
    typeof item.environment === 'string' &&
    typeof item.path === 'string' &&
    typeof item.entityRef === 'string'
  );
}

/**
 * Asks the sealed-runner gate who owns a repository's targets, as the
 * catalog plugin itself.
 *
 * @public
 */
export class GateTargetOwnerSource implements TargetOwnerSource {
  static create(options: {
    discovery: DiscoveryService;
    auth: AuthService;
    timeoutMs?: number;
  }): GateTargetOwnerSource {
    const gate = new DefaultSealedRunnerGateClient({
      discovery: options.discovery,
      auth: options.auth,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    return new GateTargetOwnerSource(gate, options.auth);
  }

  constructor(
    private readonly gate: SealedRunnerGateClient,
    private readonly auth: AuthService,
  ) {}

  async listTargetOwners(repository: string): Promise<TargetOwner[]> {
    const items: unknown = await this.gate.listTargetOwners(repository, {
      credentials: await this.auth.getOwnServiceCredentials(),
    });
    if (!Array.isArray(items) || !items.every(isTargetOwner)) {
      throw new Error(
        'the sealed-runner gate answered with an unexpected body (expected { items: TargetOwner[] })',
      );
    }
    return items;
  }
}
