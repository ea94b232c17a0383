import { DatabaseService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { migratedClient } from './migrations';
import { ModulePin, ModulePinStore } from './ModulePinStore';

interface PinRow {
  source: string;
  tag: string;
  commit_sha: string;
  origin: string;
  pinned_at: string;
}

function toPin(row: PinRow): ModulePin {
  return {
    source: row.source,
    tag: row.tag,
    commitSha: row.commit_sha,
    origin: row.origin === 'catalog' ? 'catalog' : 'resolved',
    pinnedAt: row.pinned_at,
  };
}

/** {@inheritdoc ModulePinStore} */
export class DatabaseModulePinStore implements ModulePinStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseModulePinStore> {
    return new DatabaseModulePinStore(await migratedClient(options.database));
  }

  private constructor(private readonly knex: Knex) {}

  /** {@inheritdoc ModulePinStore.listPins} */
  async listPins(options: {
    source: string;
    tags: readonly string[];
  }): Promise<ModulePin[]> {
    if (options.tags.length === 0) {
      return [];
    }
    const rows: PinRow[] = await this.knex('module_pins')
      .where({ source: options.source })
      .whereIn('tag', [...options.tags]);
    return rows.map(toPin);
  }

  /** {@inheritdoc ModulePinStore.pin} */
  async pin(
    pin: Omit<ModulePin, 'pinnedAt'> & { now: string },
  ): Promise<{ pin: ModulePin; replaced?: ModulePin }> {
    return this.knex.transaction(async tx => {
      const key = { source: pin.source, tag: pin.tag };
      const row = {
        ...key,
        commit_sha: pin.commitSha,
        origin: pin.origin,
        pinned_at: pin.now,
      };
      const existing: PinRow | undefined = await tx('module_pins')
        .where(key)
        .forUpdate()
        .first();
      if (!existing) {
        // A concurrent first pin of the same tag (another replica) wins.
        await tx('module_pins')
          .insert(row)
          .onConflict(['source', 'tag'])
          .ignore();
        const stored: PinRow = await tx('module_pins').where(key).first();
        return { pin: toPin(stored) };
      }
      if (
        pin.origin === 'resolved' ||
        (existing.commit_sha === pin.commitSha && existing.origin === 'catalog')
      ) {
        return { pin: toPin(existing) };
      }
      await tx('module_pins').where(key).update(row);
      return {
        pin: toPin(row),
        ...(existing.commit_sha !== pin.commitSha
          ? { replaced: toPin(existing) }
          : {}),
      };
    });
  }
}
