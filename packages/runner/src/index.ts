/**
 * The sealed runner: runs Terraform plan or apply for exactly one vetted
 * job. Also exports its entry point, and the hardened git invocation and
 * sandbox probe the backend reuses. The contract between the two (config,
 * environment, job signing, frames) is in
 * `@sealed-runner/backstage-plugin-sealed-runner-common/runner`.
 *
 * @packageDocumentation
 */

import { dirname, join } from 'node:path';

export { runMain } from './main';
export { resolveBranch, resolveTags } from './git';
export type { GitOptions } from './git';
export { addInstalledModules, inspect, loadModuleGraph } from './inspection';
export type { Inspection, InspectionContext, ModuleGraph } from './inspection';
export { probeSandbox } from './sandbox';

/**
 * Absolute path of the runner program, to start with `node`.
 *
 * @public
 */
export const RUNNER_ENTRY_POINT = join(
  dirname(require.resolve('@sealed-runner/runner/package.json')),
  'bin/sealed-runner',
);
