import {
  BackstageCredentials,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  runReadPermission,
  stringifyTargetRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/** Pages read at most for one listing, however little of them is readable. */
const MAX_PAGES = 10;

/**
 * Lists what the caller may read (`sealed-runner.run.read` on each item's
 * target), newest first as the store returns it. Items on other targets
 * are left out, and pages are read on until `limit` items are found, so a
 * short page means there is nothing more to show.
 */
export async function listReadable<
  T extends { entityRef: string; environment: string },
>(options: {
  permissions: PermissionsService;
  credentials: BackstageCredentials;
  limit: number;
  readPage: (page: { limit: number; offset: number }) => Promise<T[]>;
}): Promise<T[]> {
  const { permissions, credentials, limit, readPage } = options;
  const result: T[] = [];
  for (let page = 0; page < MAX_PAGES && result.length < limit; page++) {
    const items = await readPage({ limit, offset: page * limit });
    const targetRefs = [
      ...new Set(items.map(item => stringifyTargetRef(item))),
    ];
    const decisions = targetRefs.length
      ? await permissions.authorize(
          targetRefs.map(resourceRef => ({
            permission: runReadPermission,
            resourceRef,
          })),
          { credentials },
        )
      : [];
    const readable = new Set(
      targetRefs.filter(
        (_, i) => decisions[i].result === AuthorizeResult.ALLOW,
      ),
    );
    result.push(
      ...items.filter(item => readable.has(stringifyTargetRef(item))),
    );
    if (items.length < limit) {
      break;
    }
  }
  return result.slice(0, limit);
}
