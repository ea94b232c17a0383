/**
 * The runner's inspection of Terraform code, before `terraform init` and
 * again over what init installed: load the module graph once
 * (`moduleGraph.ts`), then judge it with pure rules (`rules/`), each an
 * allowlist of what an environment permits.
 */
export {
  addInstalledModules,
  loadModuleGraph,
  readRegularFile,
} from './moduleGraph';
export type { LoadedModule, ModuleGraph, PathMapping } from './moduleGraph';
export { inspect, INSPECTION_RULES } from './inspect';
export type { Inspection } from './inspect';
export { rootBackends } from './rules/stateBackends';
export type { InspectionContext, Finding, InspectionRule } from './types';
