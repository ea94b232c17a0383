/**
 * The sealed-runner backend module for the catalog plugin: checks
 * `sealed-runner.io/*` annotations as entities are ingested, and relates
 * deployable entities to the catalog modules their targets use.
 *
 * @packageDocumentation
 */

export { catalogModuleSealedRunner as default } from './module';
export {
  checkSealedRunnerAnnotations,
  MAX_PROBLEMS,
} from './processor/checkAnnotations';
export type { SealedRunnerAnnotationRules } from './processor/checkAnnotations';
export { SealedRunnerEntityProcessor } from './processor/SealedRunnerEntityProcessor';
export type { SealedRunnerEntityProcessorOptions } from './processor/SealedRunnerEntityProcessor';
export { GateModuleUsageSource } from './services/ModuleUsageSource/GateModuleUsageSource';
export type { ModuleUsageSource } from './services/ModuleUsageSource/types';
export { GateTargetOwnerSource } from './services/TargetOwnerSource/GateTargetOwnerSource';
export type { TargetOwnerSource } from './services/TargetOwnerSource/types';
