import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { parse as parseHcl } from '@cdktf/hcl2json';
import {
  CatalogModule,
  checkVettedModuleSource,
  isLocalModuleSource,
  resolveLocalModulePath,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/** Bounds that keep a hostile repository from exhausting the runner. */
const MAX_FOLDERS = 200;
const MAX_FILES_PER_FOLDER = 500;
const MAX_FILE_BYTES = 1024 * 1024;

/** @public */
export type ModuleSourceCheck =
  | {
      ok: true;
      /** Every remote module source the configuration uses, sorted. */
      moduleSources: string[];
      /** Whether the root folder declares its own `backend`. */
      rootDeclaresBackend: boolean;
    }
  | { ok: false; reason: string };

interface ParsedFile {
  modules: Array<{ name: string; source: unknown }>;
  declaresBackend: boolean;
}

function asBlocks(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) {
    return value.filter(
      (v): v is Record<string, unknown> => typeof v === 'object' && v !== null,
    );
  }
  return typeof value === 'object' && value !== null
    ? [value as Record<string, unknown>]
    : [];
}

/**
 * The first key that appears twice in one object of a JSON document.
 * Terraform reads every occurrence of a repeated key (a second `module`
 * property is a second set of module blocks), while JSON.parse keeps only
 * the last — so a repeated key could hide a module call from the check.
 * Only called on text that JSON.parse accepted.
 */
function findDuplicateKey(text: string): string | undefined {
  // Objects being read, innermost last; `undefined` stands for an array.
  const open: Array<Set<string> | undefined> = [];
  for (const [token, colon] of text.matchAll(/"(?:[^"\\]|\\.)*"(\s*:)?|[{}[\]]/g)) {
    if (token === '{' || token === '[') {
      open.push(token === '{' ? new Set() : undefined);
    } else if (token === '}' || token === ']') {
      open.pop();
    } else if (colon !== undefined) {
      const key: string = JSON.parse(token.slice(0, token.length - colon.length));
      const keys = open[open.length - 1];
      if (keys?.has(key)) {
        return key;
      }
      keys?.add(key);
    }
  }
  return undefined;
}

function parseJson(text: string): Record<string, unknown> {
  const body = JSON.parse(text);
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new Error(`duplicate key ${JSON.stringify(duplicate.slice(0, 100))} in one object`);
  }
  return body;
}

/**
 * Reads the module calls and backend declaration of one file. HCL goes
 * through a real HCL parser (Go's, compiled to WASM); `.tf.json` through
 * JSON.parse. Both produce the same block shape, except that JSON may also
 * list labelled blocks as an array (`"module": [{"a": {…}}, {"b": {…}}]`).
 */
async function parseFile(name: string, text: string): Promise<ParsedFile> {
  const body: Record<string, unknown> = name.endsWith('.tf.json')
    ? parseJson(text)
    : await parseHcl(name, text);
  const modules: ParsedFile['modules'] = [];
  for (const labelled of asBlocks(body.module)) {
    for (const [label, blocks] of Object.entries(labelled)) {
      for (const block of asBlocks(blocks)) {
        modules.push({ name: label, source: block.source });
      }
    }
  }
  const declaresBackend = asBlocks(body.terraform).some(
    block => block.backend !== undefined || block.cloud !== undefined,
  );
  return { modules, declaresBackend };
}

/**
 * Checks, before `terraform init` runs, that every module the target folder
 * calls — following local module calls — is a vetted catalog module at a
 * vetted version. Terraform `plan` can run arbitrary code, so unvetted code
 * must never reach it.
 *
 * @public
 */
export async function checkModuleSources(
  checkoutDir: string,
  folder: string,
  modules: readonly CatalogModule[],
): Promise<ModuleSourceCheck> {
  const root = await realpath(checkoutDir);
  const queue = [folder];
  const visited = new Set<string>();
  const sources = new Set<string>();
  let rootDeclaresBackend = false;

  while (queue.length > 0) {
    const current = queue.shift()!;
    if (visited.has(current)) {
      continue;
    }
    visited.add(current);
    if (visited.size > MAX_FOLDERS) {
      return { ok: false, reason: `more than ${MAX_FOLDERS} local module folders` };
    }
    const dir = current === '.' ? root : join(root, current);
    const info = await lstat(dir).catch(() => undefined);
    if (!info?.isDirectory()) {
      return {
        ok: false,
        reason: `folder ${JSON.stringify(current)} does not exist in the commit`,
      };
    }
    const real = await realpath(dir);
    if (real !== root && !real.startsWith(root + sep)) {
      return { ok: false, reason: `folder ${JSON.stringify(current)} leaves the checkout` };
    }
    const entries = await readdir(dir, { withFileTypes: true }).then(all =>
      all.filter(
        e => !e.isDirectory() && (e.name.endsWith('.tf') || e.name.endsWith('.tf.json')),
      ),
    );
    // Terraform follows a symlinked file wherever it points; the check
    // would read something else, or nothing.
    const irregular = entries.find(e => !e.isFile());
    if (irregular) {
      const shown = current === '.' ? irregular.name : `${current}/${irregular.name}`;
      return { ok: false, reason: `${shown} is not a regular file` };
    }
    const files = entries.map(e => e.name).sort();
    if (files.length > MAX_FILES_PER_FOLDER) {
      return { ok: false, reason: `folder ${JSON.stringify(current)} has more than ${MAX_FILES_PER_FOLDER} Terraform files` };
    }
    for (const file of files) {
      const shown = current === '.' ? file : `${current}/${file}`;
      const path = join(dir, file);
      if ((await lstat(path)).size > MAX_FILE_BYTES) {
        return { ok: false, reason: `${shown} is larger than ${MAX_FILE_BYTES} bytes` };
      }
      let parsed: ParsedFile;
      try {
        parsed = await parseFile(file, await readFile(path, 'utf8'));
      } catch (error) {
        return {
          ok: false,
          reason: `${shown} could not be parsed: ${String(error).slice(0, 500)}`,
        };
      }
      if (current === folder && parsed.declaresBackend) {
        rootDeclaresBackend = true;
      }
      for (const { name, source } of parsed.modules) {
        const where = `${shown}: module "${name}"`;
        if (typeof source !== 'string') {
          return { ok: false, reason: `${where} has no literal source` };
        }
        if (isLocalModuleSource(source)) {
          const local = resolveLocalModulePath(current, source);
          if (!local.ok) {
            return { ok: false, reason: `${where}: ${local.reason}` };
          }
          queue.push(local.value);
          continue;
        }
        const vetted = checkVettedModuleSource(source, modules);
        if (!vetted.ok) {
          return { ok: false, reason: `${where}: ${vetted.reason}` };
        }
        sources.add(source);
      }
    }
  }
  return { ok: true, moduleSources: [...sources].sort(), rootDeclaresBackend };
}
