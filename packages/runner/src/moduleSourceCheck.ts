import { lstat, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import {
  CatalogModule,
  checkVettedModuleSource,
  isLocalModuleSource,
  resolveLocalModulePath,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  labelledBlocks,
  MAX_FOLDERS,
  readTerraformFiles,
  TerraformBody,
} from './terraformFiles';

/** @public */
export type ModuleSourceCheck =
  | {
      ok: true;
      /** Every remote module source the configuration uses, sorted. */
      moduleSources: string[];
      /**
       * The state backends the root folder declares (`cloud` for an HCP
       * Terraform block), with the file that declares each.
       */
      rootBackends: Array<{ type: string; file: string }>;
    }
  | { ok: false; reason: string };

interface ParsedFile {
  modules: Array<{ name: string; source: unknown }>;
  backends: string[];
}

/** The module calls and backend declaration of one parsed file. */
function readModuleCalls(body: TerraformBody): ParsedFile {
  const modules = labelledBlocks(body.module, 1).map(
    ({ labels, body: block }) => ({
      name: labels[0],
      source: block.source,
    }),
  );
  const backends = labelledBlocks(body.terraform, 0).flatMap(
    ({ body: block }) => [
      ...labelledBlocks(block.backend, 1).map(({ labels }) => labels[0]),
      ...(block.cloud !== undefined ? ['cloud'] : []),
    ],
  );
  return { modules, backends };
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
  const rootBackends: Array<{ type: string; file: string }> = [];

  while (queue.length > 0) {
    const current = queue.shift()!;
    if (visited.has(current)) {
      continue;
    }
    visited.add(current);
    if (visited.size > MAX_FOLDERS) {
      return {
        ok: false,
        reason: `more than ${MAX_FOLDERS} local module folders`,
      };
    }
    const dir = current === '.' ? root : join(root, current);
    const info = await lstat(dir).catch(() => undefined);
    if (!info?.isDirectory()) {
      return {
        ok: false,
        reason: `folder ${JSON.stringify(
          current,
        )} does not exist in the commit`,
      };
    }
    const real = await realpath(dir);
    if (real !== root && !real.startsWith(root + sep)) {
      return {
        ok: false,
        reason: `folder ${JSON.stringify(current)} leaves the checkout`,
      };
    }
    const files = await readTerraformFiles(
      dir,
      file => (current === '.' ? file : `${current}/${file}`),
      JSON.stringify(current),
    );
    if (!files.ok) {
      return files;
    }
    for (const { shown, body } of files.value) {
      const parsed = readModuleCalls(body);
      if (current === folder) {
        rootBackends.push(
          ...parsed.backends.map(type => ({ type, file: shown })),
        );
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
  return { ok: true, moduleSources: [...sources].sort(), rootBackends };
}
