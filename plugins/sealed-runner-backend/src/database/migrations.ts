import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { Knex } from 'knex';

/** The plugin's database client, with its migrations applied (unless the app skips them). */
export async function migratedClient(database: DatabaseService): Promise<Knex> {
  const knex = await database.getClient();
  if (!database.migrations?.skip) {
    await knex.migrate.latest({
      directory: resolvePackagePath(
        '@sealed-runner/backstage-plugin-sealed-runner-backend',
        'migrations',
      ),
    });
  }
  return knex;
}
