import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Config } from '@backstage/config';
import { LoggerService } from '@backstage/backend-plugin-api';
import {
  securePrivateDirectory,
  securePrivateFile,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

/**
 * The SQLite file Backstage keeps a plugin's database in, as its database
 * service resolves it (`backend.database`, a plugin's own connection
 * first), or undefined for another client or an in-memory database.
 */
export function sqliteFileOf(
  config: Config,
  pluginId: string,
): string | undefined {
  const database = config.getOptionalConfig('backend.database');
  const plugin = database?.getOptionalConfig(`plugin.${pluginId}`);
  const client =
    plugin?.getOptionalString('client') ??
    database?.getOptionalString('client');
  if (!client?.includes('sqlite')) {
    return undefined;
  }
  const connectionOf = (c: Config | undefined) => {
    const value = c?.getOptional('connection');
    return typeof value === 'string' ? { filename: value } : value;
  };
  const own = connectionOf(plugin) as
    | { filename?: string; directory?: string }
    | undefined;
  const base = connectionOf(database) as
    | { filename?: string; directory?: string }
    | undefined;
  const filename = own?.filename;
  const directory = own?.directory ?? base?.directory;
  if (filename) {
    return filename === ':memory:' ? undefined : resolve(filename);
  }
  if (directory) {
    return resolve(join(directory, `${pluginId}.sqlite`));
  }
  return undefined;
}

/**
 * Jobs, logs, approvals and break-glass sessions are in this database: its
 * directory is this user's alone (0700; refused when another user owns it
 * or others may write it). Before the database is opened.
 */
export async function securePrivateSqliteDirectory(
  file: string,
  logger: LoggerService,
): Promise<void> {
  const warning = await securePrivateDirectory(dirname(file), {
    mode: 0o700,
    what: 'the SQLite database directory (backend.database.connection.directory)',
  });
  if (warning) {
    logger.warn(warning);
  }
}

/** The database file and its journals: 0600, this user's. After it is opened. */
export async function securePrivateSqliteFiles(file: string): Promise<void> {
  const name = basename(file);
  for (const entry of await readdir(dirname(file))) {
    if (entry === name || entry.startsWith(`${name}-`)) {
      await securePrivateFile(
        join(dirname(file), entry),
        'the SQLite database file',
      );
    }
  }
}
