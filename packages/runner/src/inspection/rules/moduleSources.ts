import {
  CatalogModule,
  Checked,
  checkVettedModuleSource,
  isLocalModuleSource,
  parseModuleSource,
  resolveLocalModulePath,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { moduleCalls } from '../blocks';
import { q, where } from '../locate';
import { Finding, InspectionRule } from '../types';

/**
 * A module source that is a vetted catalog module at a vetted tag, and the
 * commit that tag is pinned to.
 */
export function pinnedModuleSource(
  source: unknown,
  modules: readonly CatalogModule[],
): Checked<{ base: string; tag: string; commitSha: string }> {
  const vetted = checkVettedModuleSource(source, modules);
  if (!vetted.ok) {
    return vetted;
  }
  const { base, ref } = vetted.value;
  const commitSha = modules.find(m => m.source === base)?.commits?.[ref!];
  if (!commitSha) {
    return {
      ok: false,
      reason: `module source ${q(String(source), 300)}: vetted version ${q(
        ref!,
      )} is not pinned to a commit (the gate records the commit of each vetted tag; see the module's catalog entity)`,
    };
  }
  return { ok: true, value: { base, tag: ref!, commitSha } };
}

/**
 * Only vetted code runs: every module call names a vetted catalog module at
 * a vetted tag (or a local folder that stays in the repository), and after
 * `terraform init` every installed catalog module is exactly the commit its
 * tag was pinned to when it was vetted — a moved tag is refused.
 */
export const moduleSourcesRule: InspectionRule = (graph, { modules }) => {
  const findings: Finding[] = [];
  const add = (reason: string) =>
    findings.push({ rule: 'module-sources', reason });
  for (const module of graph.modules) {
    for (const call of moduleCalls(module)) {
      const at = `${where(call.file, call.steps)}: ${call.construct}`;
      const { source } = call.body;
      if (typeof source !== 'string') {
        add(`${at} has no literal source`);
        continue;
      }
      if (isLocalModuleSource(source)) {
        // Inside an installed module, Terraform resolves local calls in its
        // own folder; modules.json (checked by the loader) says where.
        if (module.origin === 'checkout') {
          const local = resolveLocalModulePath(module.shownDir, source);
          if (!local.ok) {
            add(`${at}: ${local.reason}`);
          }
        }
        continue;
      }
      const pinned = pinnedModuleSource(source, modules);
      if (!pinned.ok) {
        add(`${at}: ${pinned.reason}`);
      }
    }
    if (
      module.origin !== 'installed' ||
      module.source === undefined ||
      !parseModuleSource(module.source).ok
    ) {
      continue;
    }
    const name = module.context.replace(/^ in /, '');
    const pinned = pinnedModuleSource(module.source, modules);
    if (!pinned.ok) {
      add(`${name}: ${pinned.reason}`);
    } else if (module.commitSha === undefined) {
      add(
        `${name}: the commit of ${q(
          module.source,
          300,
        )} could not be verified: ${module.commitProblem}`,
      );
    } else if (module.commitSha !== pinned.value.commitSha) {
      add(
        `${name}: ${q(pinned.value.base, 300)} tag ${q(
          pinned.value.tag,
        )} is now commit ${module.commitSha}, but it was vetted as commit ${
          pinned.value.commitSha
        }; the tag was moved (vet the new commit in the module's catalog entity to use it)`,
      );
    }
  }
  return findings;
};
