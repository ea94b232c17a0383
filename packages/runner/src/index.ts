/**
 * The sealed runner: runs Terraform plan or apply for exactly one vetted
 * job. Also exports what the backend needs to start it and to resolve
 * branches with the same hardened git invocation.
 *
 * @packageDocumentation
 */

import { dirname, join } from 'node:path';

export { runMain, RUNNER_ENVIRONMENT } from './main';
export {
  DEFAULT_SANDBOX_ID,
  parseRunnerConfig,
  runnerConfigSchema,
  RUNNER_CONFIG_ENV,
  RUNNER_JOB_KEY_ENV,
} from './config';
export type { RunnerConfig, RunnerConfigInput } from './config';
export { jobSigningMessage } from './jobSignature';
export { assembleFrames, frameLine } from './logFrames';
export type { PendingFrames } from './logFrames';
export { resolveBranch, resolveTags } from './git';
export type { GitOptions } from './git';
export { addInstalledModules, inspect, loadModuleGraph } from './inspection';
export type { Inspection, InspectionContext, ModuleGraph } from './inspection';
export { probeSandbox } from './sandbox';
export { securePrivateDirectory, securePrivateFile } from './privateDirectory';

/**
 * Absolute path of the runner program, to start with `node`.
 *
 * @public
 */
export const RUNNER_ENTRY_POINT = join(
  dirname(require.resolve('@sealed-runner/runner/package.json')),
  'bin/sealed-runner',
);
