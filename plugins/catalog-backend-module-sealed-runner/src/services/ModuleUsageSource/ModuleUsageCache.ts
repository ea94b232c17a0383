import type { LoggerService } from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { stringifyError } from '@backstage/errors';
import type { ModuleUsage } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import type { ModuleUsageSource } from './types';

export const DEFAULT_MODULE_USAGE_TTL_MS = 60_000;
export const DEFAULT_MODULE_USAGE_MAX_ENTRIES = 10_000;

/** No entity uses hundreds of modules; more is a broken or hostile answer. */
export const MAX_MODULE_REFS = 200;

interface Entry {
  /** The last good answer; undefined if the source never gave one. */
  moduleRefs?: string[];
  /** When the source was last asked, successfully or not. */
  checkedAt: number;
  /** When a failure for this entity was last logged. */
  warnedAt?: number;
}

/**
 * The distinct, well-formed module entity refs of a usage list, in the
 * catalog's canonical (lowercase) form.
 */
export function moduleRefsOf(usage: readonly ModuleUsage[]): string[] {
  const refs = new Set<string>();
  for (const item of usage) {
    for (const ref of item.moduleRefs) {
      try {
        refs.add(stringifyEntityRef(parseEntityRef(ref)));
      } catch {
        // Not a full entity ref: nothing to relate to.
        continue;
      }
      if (refs.size >= MAX_MODULE_REFS) {
        return [...refs];
      }
    }
  }
  return [...refs];
}

/**
 * Remembers, per entity, which catalog modules its targets use. Asks the
 * source at most once per TTL per entity, serves the last good answer while
 * the source fails, and warns at most once per entity per TTL. Never
 * rejects: module relations are decoration, never a reason for catalog
 * processing to fail.
 */
export class ModuleUsageCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<string[] | undefined>>();
  private readonly source: ModuleUsageSource;
  private readonly logger: LoggerService;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: {
    source: ModuleUsageSource;
    logger: LoggerService;
    /** How long an answer (or a failure) is kept before asking again. Default 60 s. */
    ttlMs?: number;
    /** Entities remembered; the least recently used are forgotten first. Default 10,000. */
    maxEntries?: number;
    /** Milliseconds clock, for tests. Default `Date.now`. */
    now?: () => number;
  }) {
    this.source = options.source;
    this.logger = options.logger;
    this.ttlMs = options.ttlMs ?? DEFAULT_MODULE_USAGE_TTL_MS;
    this.maxEntries = Math.max(
      1,
      options.maxEntries ?? DEFAULT_MODULE_USAGE_MAX_ENTRIES,
    );
    this.now = options.now ?? Date.now;
  }

  /**
   * The module entity refs an entity's targets use: the current answer, or
   * the last good one while the source fails. Undefined when no good answer
   * is known.
   */
  async moduleRefs(entityRef: string): Promise<string[] | undefined> {
    const entry = this.entries.get(entityRef);
    if (entry && this.now() - entry.checkedAt < this.ttlMs) {
      this.store(entityRef, entry);
      return entry.moduleRefs;
    }
    let pending = this.inFlight.get(entityRef);
    if (!pending) {
      pending = this.ask(entityRef).finally(() =>
        this.inFlight.delete(entityRef),
      );
      this.inFlight.set(entityRef, pending);
    }
    return pending;
  }

  private async ask(entityRef: string): Promise<string[] | undefined> {
    try {
      const moduleRefs = moduleRefsOf(
        await this.source.listModuleUsage(entityRef),
      );
      this.store(entityRef, {
        ...this.entries.get(entityRef),
        moduleRefs,
        checkedAt: this.now(),
      });
      return moduleRefs;
    } catch (error) {
      const previous = this.entries.get(entityRef);
      const now = this.now();
      const warn =
        previous?.warnedAt === undefined ||
        now - previous.warnedAt >= this.ttlMs;
      if (warn) {
        this.logger.warn(
          `Could not read the modules used by ${entityRef} from the sealed-runner gate; ${
            previous?.moduleRefs
              ? 'keeping the dependsOn relations of its last answer'
              : 'no module relations until it answers'
          }: ${stringifyError(error)}`,
        );
      }
      this.store(entityRef, {
        moduleRefs: previous?.moduleRefs,
        checkedAt: now,
        warnedAt: warn ? now : previous?.warnedAt,
      });
      return previous?.moduleRefs;
    }
  }

  /** Inserts or refreshes an entry as the most recently used one. */
  private store(entityRef: string, entry: Entry) {
    this.entries.delete(entityRef);
    this.entries.set(entityRef, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
