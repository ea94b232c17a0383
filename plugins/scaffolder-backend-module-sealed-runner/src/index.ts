/**
 * Scaffolder actions of the Sealed Runner suite: render a deployment from a
 * vetted catalog module, publish it to a review branch, and plan or apply
 * through the gate as the user running the template.
 *
 * @packageDocumentation
 */

export { scaffolderModuleSealedRunner as default } from './module';
export { createRenderModuleAction } from './actions/renderModule';
export { createPlanAction, createApplyAction } from './actions/runActions';
export { createPublishBranchAction } from './actions/publishBranch';
