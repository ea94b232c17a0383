import { moduleCalls } from './blocks';
import { ModuleGraph } from './moduleGraph';
import { blockTypesRule } from './rules/blockTypes';
import { codeExecutionRule } from './rules/codeExecution';
import { functionsRule } from './rules/functions';
import { moduleSourcesRule, pinnedModuleSource } from './rules/moduleSources';
import { providerArgumentsRule } from './rules/providerArguments';
import { inspectProviders } from './rules/providers';
import { stateBackendsRule } from './rules/stateBackends';
import { Finding, InspectionContext, InspectionRule } from './types';

/** Every rule, in the order their findings are reported. */
export const INSPECTION_RULES: ReadonlyArray<[string, InspectionRule]> = [
  ['block-types', blockTypesRule],
  ['code-execution', codeExecutionRule],
  ['module-sources', moduleSourcesRule],
  ['state-backends', stateBackendsRule],
  ['providers', (graph, context) => inspectProviders(graph, context).findings],
  ['provider-arguments', providerArgumentsRule],
  ['functions', functionsRule],
];

const MAX_FINDINGS = 100;

/** @public */
export type Inspection =
  | {
      ok: true;
      /** Module folders inspected. */
      folders: number;
      /** Providers the code uses besides the built-in one, sorted. */
      providers: string[];
      /** Every vetted module source the configuration calls, sorted, with the commit it is pinned to. */
      moduleSources: Array<{ source: string; commitSha: string }>;
    }
  | {
      ok: false;
      /** The first finding, and how many more there are. */
      reason: string;
      findings: string[];
    };

/**
 * Judges a loaded module graph: default deny. Each rule allows by name what
 * the environment permits and reports everything else; the code may run
 * only if no rule has a finding.
 */
export function inspect(
  graph: ModuleGraph,
  context: InspectionContext,
): Inspection {
  const findings: Finding[] = INSPECTION_RULES.flatMap(([, rule]) =>
    rule(graph, context),
  );
  if (findings.length > 0) {
    // The same construct can be found twice (a call repeated on one line):
    // count what is listed, not how often it was found.
    const unique = [...new Set(findings.map(f => f.reason))];
    const reasons = unique.slice(0, MAX_FINDINGS);
    const more = unique.length - 1;
    return {
      ok: false,
      reason:
        more > 0
          ? `${reasons[0]} (and ${more} more finding${more > 1 ? 's' : ''})`
          : reasons[0],
      findings: reasons,
    };
  }
  const sources = new Map<string, string>();
  for (const call of graph.modules.flatMap(moduleCalls)) {
    const pinned = pinnedModuleSource(call.body.source, context.modules);
    if (pinned.ok) {
      sources.set(call.body.source as string, pinned.value.commitSha);
    }
  }
  return {
    ok: true,
    folders: graph.modules.length,
    providers: inspectProviders(graph, context).used,
    moduleSources: [...sources]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([source, commitSha]) => ({ source, commitSha })),
  };
}
