import { DatabaseService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { migratedClient } from './migrations';
import { TargetClaim, TargetClaimStore } from './TargetClaimStore';

interface ClaimRow {
  lock_key: string;
  entity_ref: string;
  environment: string;
  repository: string;
  path: string;
  claimed_at: string;
}

function toClaim(row: ClaimRow): TargetClaim {
  return {
    lockKey: row.lock_key,
    entityRef: row.entity_ref,
    environment: row.environment,
    repository: row.repository,
    path: row.path,
    claimedAt: row.claimed_at,
  };
}

/** {@inheritdoc TargetClaimStore} */
export class DatabaseTargetClaimStore implements TargetClaimStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseTargetClaimStore> {
    return new DatabaseTargetClaimStore(await migratedClient(options.database));
  }

  private constructor(private readonly knex: Knex) {}

  /** {@inheritdoc TargetClaimStore.getClaim} */
  async getClaim(options: {
    lockKey: string;
  }): Promise<TargetClaim | undefined> {
    const row: ClaimRow | undefined = await this.knex('target_claims')
      .where({ lock_key: options.lockKey })
      .first();
    return row ? toClaim(row) : undefined;
  }

  /** {@inheritdoc TargetClaimStore.claim} */
  async claim(
    claim: Omit<TargetClaim, 'claimedAt'> & { now: string },
  ): Promise<TargetClaim> {
    await this.knex('target_claims')
      .insert({
        lock_key: claim.lockKey,
        entity_ref: claim.entityRef,
        environment: claim.environment,
        repository: claim.repository,
        path: claim.path,
        claimed_at: claim.now,
      })
      .onConflict('lock_key')
      .ignore();
    const row: ClaimRow = await this.knex('target_claims')
      .where({ lock_key: claim.lockKey })
      .first();
    return toClaim(row);
  }

  /** {@inheritdoc TargetClaimStore.transfer} */
  async transfer(options: {
    lockKey: string;
    from: string;
    to: string;
    now: string;
  }): Promise<boolean> {
    const updated = await this.knex('target_claims')
      .where({ lock_key: options.lockKey, entity_ref: options.from })
      .update({ entity_ref: options.to, claimed_at: options.now });
    return updated === 1;
  }

  /** {@inheritdoc TargetClaimStore.listClaims} */
  async listClaims(options: { repository: string }): Promise<TargetClaim[]> {
    const rows: ClaimRow[] = await this.knex('target_claims')
      .where({ repository: options.repository })
      .orderBy(['environment', 'path']);
    return rows.map(toClaim);
  }
}
