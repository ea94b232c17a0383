/**
 * The sealed runner: runs Terraform plan or apply for exactly one vetted
 * job. The backend knows it only by its two programs' entry points (the
 * runner and its sandbox probe); the contract between the two (config,
 * environment, job signing, frames, how both resolve a branch) is in
 * `@sealed-runner/backstage-plugin-sealed-runner-common/runner`.
 *
 * @packageDocumentation
 */

import { dirname, join } from 'node:path';

export { runMain } from './main';
export { addInstalledModules, inspect, loadModuleGraph } from './inspection';
export type { Inspection, InspectionContext, ModuleGraph } from './inspection';
export { probeMain } from './probeMain';

const PACKAGE_DIR = dirname(
  require.resolve('@sealed-runner/runner/package.json'),
);

/**
 * Absolute path of the runner program, to start with `node`.
 *
 * @public
 */
export const RUNNER_ENTRY_POINT = join(PACKAGE_DIR, 'bin/sealed-runner');

/**
 * Absolute path of the sandbox probe program ({@link probeMain}), to start
 * with `node`.
 *
 * @public
 */
export const RUNNER_PROBE_ENTRY_POINT = join(
  PACKAGE_DIR,
  'bin/sealed-runner-probe',
);
