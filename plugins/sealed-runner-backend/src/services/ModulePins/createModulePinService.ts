import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import {
  CatalogModule,
  parseModuleSource,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ModulePinStore } from '../../database/ModulePinStore';

/** Pins the vetted versions of catalog modules to commits. */
export interface ModulePinService {
  /**
   * The vetted modules with the commit each vetted tag is pinned to (in
   * `commits`), as a job carries them to the runner. A tag the module
   * entity pins (`v1.1.0@<commit>`) is that commit; any other tag is the
   * commit it pointed at when the gate first saw it vetted, recorded then
   * and never moved by the tag. A tag whose commit cannot be read is left
   * unpinned, and the runner refuses to use it.
   */
  pinned(modules: readonly CatalogModule[]): Promise<CatalogModule[]>;
}

export function createModulePinService(options: {
  store: ModulePinStore;
  /** Tag → commit of a repository (`git ls-remote --tags`). */
  resolveTags: (repository: string) => Promise<Map<string, string>>;
  auditor: AuditorService;
  logger: LoggerService;
}): ModulePinService {
  const { store, auditor, logger } = options;

  const audit = async (
    eventId: string,
    severityLevel: 'medium' | 'high',
    meta: Record<string, string>,
  ) => {
    const event = await auditor.createEvent({
      eventId,
      severityLevel,
      meta: { actor: 'sealed-runner', ...meta },
    });
    await event.success();
  };

  const pinModule = async (module: CatalogModule): Promise<CatalogModule> => {
    const now = new Date().toISOString();
    const commits: Record<string, string> = Object.create(null);
    const stored = new Map(
      (
        await store.listPins({ source: module.source, tags: module.versions })
      ).map(p => [p.tag, p]),
    );
    const missing: string[] = [];
    for (const tag of module.versions) {
      const named = module.commits?.[tag];
      const existing = stored.get(tag);
      if (named) {
        if (existing?.commitSha !== named || existing.origin !== 'catalog') {
          const { replaced } = await store.pin({
            source: module.source,
            tag,
            commitSha: named,
            origin: 'catalog',
            now,
          });
          if (replaced) {
            logger.warn(
              `Module ${module.source} ${tag} is now pinned to ${named} (named in the catalog), was ${replaced.commitSha}`,
            );
            await audit('module-pin-changed', 'high', {
              source: module.source,
              tag,
              commitSha: named,
              previousCommitSha: replaced.commitSha,
            });
          }
        }
        commits[tag] = named;
      } else if (existing) {
        commits[tag] = existing.commitSha;
      } else {
        missing.push(tag);
      }
    }
    if (missing.length > 0) {
      const parsed = parseModuleSource(module.source);
      let tags = new Map<string, string>();
      try {
        tags = parsed.ok
          ? await options.resolveTags(parsed.value.repository)
          : tags;
      } catch (error) {
        logger.warn(
          `Could not read the tags of ${module.source} to pin ${missing.join(
            ', ',
          )}: ${(error as Error).message}`,
        );
      }
      for (const tag of missing) {
        const commitSha = tags.get(tag);
        if (!commitSha) {
          logger.warn(
            `Vetted version ${tag} of ${module.source} is not a tag of its repository; it stays unpinned and unusable`,
          );
          continue;
        }
        const { pin } = await store.pin({
          source: module.source,
          tag,
          commitSha,
          origin: 'resolved',
          now,
        });
        if (pin.commitSha === commitSha && pin.pinnedAt === now) {
          await audit('module-pinned', 'medium', {
            source: module.source,
            tag,
            commitSha,
          });
        }
        commits[tag] = pin.commitSha;
      }
    }
    const { commits: _named, ...rest } = module;
    return Object.keys(commits).length > 0
      ? { ...rest, commits: { ...commits } }
      : rest;
  };

  return {
    async pinned(modules) {
      return Promise.all(modules.map(pinModule));
    },
  };
}
