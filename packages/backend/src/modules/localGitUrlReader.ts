import {
  createServiceFactory,
  UrlReaderService,
  UrlReaderServiceReadUrlOptions,
  UrlReaderServiceReadUrlResponse,
  UrlReaderServiceSearchOptions,
  UrlReaderServiceSearchResponse,
} from '@backstage/backend-plugin-api';
import { urlReaderFactoriesServiceRef } from '@backstage/backend-defaults/urlReader';
import {
  InputError,
  NotAllowedError,
  NotFoundError,
  NotModifiedError,
} from '@backstage/errors';
import {
  checkBranchName,
  checkRelativePath,
  GIT_HARDENING_OPTIONS,
  gitEnvironment,
  SYSTEM_PATH,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads files from branches of the demo's local (`file://`) git
 * repositories, so the scaffolder can register an entity it just pushed to
 * a review branch (`catalog:register` reads URLs): the URL is
 * `<repository URL>?ref=<branch>&path=<file>`. Only repositories on the
 * `sealedRunner.repositories` allowlist are readable; hosted repositories
 * have their own URL readers.
 */
export class LocalGitUrlReader implements UrlReaderService {
  constructor(private readonly repositories: readonly string[]) {}

  /** Whether this reader serves the URL. */
  handles(url: URL): boolean {
    return (
      url.protocol === 'file:' &&
      this.repositories.includes(`file://${url.pathname}`)
    );
  }

  async readUrl(
    url: string,
    options?: UrlReaderServiceReadUrlOptions,
  ): Promise<UrlReaderServiceReadUrlResponse> {
    const parsed = new URL(url);
    if (!this.handles(parsed)) {
      throw new NotAllowedError(
        `${url} is not in an allowlisted local repository`,
      );
    }
    const ref = checkBranchName(parsed.searchParams.get('ref'));
    const path = checkRelativePath(parsed.searchParams.get('path'));
    if (!ref.ok || !path.ok) {
      throw new InputError(
        `${url}: ${ref.ok ? '' : ref.reason}${path.ok ? '' : path.reason}`,
      );
    }
    const gitDir = fileURLToPath(`file://${parsed.pathname}`);
    const git = async (...args: string[]) =>
      run('git', [...GIT_HARDENING_OPTIONS, `--git-dir=${gitDir}`, ...args], {
        env: gitEnvironment(tmpdir(), [], SYSTEM_PATH),
        encoding: 'buffer',
        maxBuffer: MAX_FILE_BYTES,
        timeout: 30_000,
      });
    const object = `refs/heads/${ref.value}:${path.value}`;
    let blob: string;
    try {
      blob = (
        await git(
          'rev-parse',
          '--verify',
          '--quiet',
          '--end-of-options',
          object,
        )
      ).stdout
        .toString()
        .trim();
    } catch {
      throw new NotFoundError(
        `${path.value} does not exist on ${ref.value} of ${gitDir}`,
      );
    }
    if (options?.etag === blob) {
      throw new NotModifiedError();
    }
    const { stdout } = await git('cat-file', 'blob', blob);
    return { buffer: async () => stdout, etag: blob };
  }

  async readTree(): Promise<never> {
    throw new NotAllowedError('the local git reader only reads single files');
  }

  /** The catalog reads locations through `search`; these URLs name one file, never a glob. */
  async search(
    url: string,
    options?: UrlReaderServiceSearchOptions,
  ): Promise<UrlReaderServiceSearchResponse> {
    const file = await this.readUrl(url, options);
    return {
      files: [{ url, content: file.buffer }],
      etag: file.etag ?? '',
    };
  }
}

/** Adds {@link LocalGitUrlReader} for the `file://` repositories on the allowlist (the demo's). */
export const localGitUrlReaderFactory = createServiceFactory({
  service: urlReaderFactoriesServiceRef,
  deps: {},
  async factory() {
    return ({ config }) => {
      const local = (
        config.getOptionalStringArray('sealedRunner.repositories') ?? []
      ).filter(r => r.startsWith('file:///'));
      if (local.length === 0) {
        return [];
      }
      const reader = new LocalGitUrlReader(local);
      return [{ reader, predicate: (url: URL) => reader.handles(url) }];
    };
  },
});
