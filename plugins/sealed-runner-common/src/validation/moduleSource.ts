import { CatalogModule } from '../types';
import { accept, Checked, checkPlainString, quote, refuse } from './checked';
import { checkRelativePath } from './paths';
import { checkCommitSha, checkTagName } from './refs';
import { checkRepositoryUrl, MAX_URL_LENGTH } from './repository';

/**
 * A parsed `git::` module source address.
 *
 * @public
 */
export interface ModuleSource {
  /** Canonical address without `?ref=`: `git::<repository>[//<subdir>]`. */
  base: string;
  repository: string;
  subdir?: string;
  /** The pinned tag, if the address has `?ref=`. */
  ref?: string;
}

/** @public */
export const MAX_MODULE_VERSIONS = 100;

/**
 * Parses a Terraform `git::` module source. Only the forms the service
 * catalog uses are accepted: a checked repository URL, an optional checked
 * `//subdir`, and an optional `?ref=<tag>` as the only query parameter.
 *
 * @public
 */
export function parseModuleSource(value: unknown): Checked<ModuleSource> {
  const plain = checkPlainString('module source', value, MAX_URL_LENGTH);
  if (!plain.ok) {
    return plain;
  }
  const source = plain.value;
  const bad = (why: string) =>
    refuse<ModuleSource>(`module source ${quote(source)} ${why}`);
  if (!source.startsWith('git::')) {
    return bad(
      'is not a git:: source (service-catalog modules are git sources)',
    );
  }
  const rest = source.slice('git::'.length);
  const queryStart = rest.indexOf('?');
  const address = queryStart === -1 ? rest : rest.slice(0, queryStart);
  const query = queryStart === -1 ? undefined : rest.slice(queryStart + 1);

  let ref: string | undefined;
  if (query !== undefined) {
    if (!query.startsWith('ref=') || query.includes('&')) {
      return bad('may only carry a single ?ref=<tag> parameter');
    }
    const tag = checkTagName(query.slice('ref='.length));
    if (!tag.ok) {
      return bad(`has an invalid ref: ${tag.reason}`);
    }
    ref = tag.value;
  }

  const schemeEnd = address.indexOf('://');
  const subdirStart = address.indexOf(
    '//',
    schemeEnd === -1 ? 0 : schemeEnd + 3,
  );
  const repository =
    subdirStart === -1 ? address : address.slice(0, subdirStart);
  const subdir =
    subdirStart === -1 ? undefined : address.slice(subdirStart + 2);

  const repo = checkRepositoryUrl(repository);
  if (!repo.ok) {
    return bad(`has an invalid repository: ${repo.reason}`);
  }
  if (subdir !== undefined) {
    const dir = checkRelativePath(subdir);
    if (!dir.ok) {
      return bad(`has an invalid subdirectory: ${dir.reason}`);
    }
  }
  return accept({
    base: `git::${repository}${subdir !== undefined ? `//${subdir}` : ''}`,
    repository,
    ...(subdir !== undefined ? { subdir } : {}),
    ...(ref !== undefined ? { ref } : {}),
  });
}

/**
 * Parses the annotations of a service-catalog module entity into the vetted
 * source and versions. The source must not carry `?ref=`: versions are
 * listed separately, each a tag, optionally pinned to the commit it was
 * vetted at (`v1.1.0@<40-hex commit>`) — a tag can be moved, a commit
 * cannot.
 *
 * @public
 */
export function parseCatalogModule(
  sourceAnnotation: unknown,
  versionsAnnotation: unknown,
): Checked<CatalogModule> {
  const source = parseModuleSource(sourceAnnotation);
  if (!source.ok) {
    return source;
  }
  if (source.value.ref !== undefined) {
    return refuse(
      `module source ${quote(
        String(sourceAnnotation),
      )} must not include ?ref=; list vetted tags in the module-versions annotation`,
    );
  }
  const list = checkPlainString('module versions', versionsAnnotation, 8192);
  if (!list.ok) {
    return list;
  }
  const versions: string[] = [];
  const commits: Record<string, string> = Object.create(null);
  for (const item of list.value.split(',')) {
    const [rawTag, rawCommit, ...rest] = item.trim().split('@');
    const tag = checkTagName(rawTag);
    if (!tag.ok) {
      return refuse(`module versions: ${tag.reason}`);
    }
    if (rest.length > 0) {
      return refuse(
        `module versions: ${quote(
          item.trim(),
        )} must be <tag> or <tag>@<commit>`,
      );
    }
    if (rawCommit !== undefined) {
      const commit = checkCommitSha(rawCommit);
      if (!commit.ok) {
        return refuse(`module versions: ${tag.value}@…: ${commit.reason}`);
      }
      if (
        commits[tag.value] !== undefined &&
        commits[tag.value] !== commit.value
      ) {
        return refuse(`module versions: ${tag.value} is pinned to two commits`);
      }
      commits[tag.value] = commit.value;
    }
    if (!versions.includes(tag.value)) {
      versions.push(tag.value);
    }
  }
  if (versions.length > MAX_MODULE_VERSIONS) {
    return refuse(
      `module versions lists more than ${MAX_MODULE_VERSIONS} tags`,
    );
  }
  return accept({
    source: source.value.base,
    versions,
    ...(Object.keys(commits).length > 0 ? { commits: { ...commits } } : {}),
  });
}

/**
 * True for Terraform local module sources (`./…`, `../…`), which the module
 * check follows instead of matching against the catalog.
 *
 * @public
 */
export function isLocalModuleSource(source: string): boolean {
  return source.startsWith('./') || source.startsWith('../');
}

/**
 * Resolves a local module source against the folder (relative to the
 * repository root) that calls it. Refuses anything that would leave the
 * repository. Returns the folder relative to the root, `.` for the root.
 *
 * @public
 */
export function resolveLocalModulePath(
  fromFolder: string,
  source: string,
): Checked<string> {
  const plain = checkPlainString('module source', source, 1024);
  if (!plain.ok) {
    return plain;
  }
  if (!isLocalModuleSource(source)) {
    return refuse(`module source ${quote(source)} is not a local path`);
  }
  // Popping '..' segments of an unchecked calling folder would turn a folder
  // outside the repository into one inside it.
  if (fromFolder !== '.') {
    const from = checkRelativePath(fromFolder);
    if (!from.ok) {
      return refuse(
        `local module source ${quote(
          source,
        )} is called from an invalid folder: ${from.reason}`,
      );
    }
  }
  const stack = fromFolder === '.' ? [] : fromFolder.split('/');
  for (const segment of source.split('/')) {
    if (segment === '' || segment === '.') {
      continue;
    }
    if (segment === '..') {
      if (stack.length === 0) {
        return refuse(
          `local module source ${quote(source)} in ${quote(
            fromFolder,
          )} leaves the repository`,
        );
      }
      stack.pop();
      continue;
    }
    stack.push(segment);
  }
  if (stack.length === 0) {
    return accept('.');
  }
  const resolved = checkRelativePath(stack.join('/'));
  if (!resolved.ok) {
    return refuse(`local module source ${quote(source)}: ${resolved.reason}`);
  }
  return resolved;
}

/**
 * Decides whether a module source in Terraform code is a vetted catalog
 * module at a vetted version. The reason always names the offending source.
 *
 * @public
 */
export function checkVettedModuleSource(
  source: unknown,
  modules: readonly CatalogModule[],
): Checked<ModuleSource> {
  const parsed = parseModuleSource(source);
  if (!parsed.ok) {
    return refuse(`${parsed.reason}; only vetted catalog modules may be used`);
  }
  const { base, ref } = parsed.value;
  const shown = quote(String(source));
  const module = modules.find(m => m.source === base);
  if (!module) {
    return refuse(`module source ${shown} is not a vetted catalog module`);
  }
  if (ref === undefined) {
    return refuse(
      `module source ${shown} is not pinned; add ?ref=<tag> with a vetted version (${module.versions.join(
        ', ',
      )})`,
    );
  }
  if (!module.versions.includes(ref)) {
    return refuse(
      `module source ${shown} uses version ${quote(
        ref,
      )}, which is not vetted (vetted: ${
        module.versions.join(', ') || 'none'
      })`,
    );
  }
  return parsed;
}
