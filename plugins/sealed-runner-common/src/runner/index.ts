/**
 * The runner contract on Node: what the gate and the runner must agree on
 * beyond the job and event schemas of the main entry point — the runner's
 * configuration, the environment it is started with, the bytes a job
 * signature covers, the frames long event lines travel in, the rule
 * for the private directories both keep, and how both ask a remote which
 * commit a branch or tag names. Node-only (it uses `node:crypto`,
 * `node:fs` and `Buffer`), so a separate entry point the frontend never
 * loads.
 *
 * @packageDocumentation
 */

export {
  DEFAULT_SANDBOX_ID,
  parseRunnerConfig,
  runnerConfigSchema,
} from './config';
export type { RunnerConfig, RunnerConfigInput } from './config';
export {
  RUNNER_CONFIG_ENV,
  RUNNER_ENVIRONMENT,
  RUNNER_JOB_KEY_ENV,
} from './environment';
export { jobSigningMessage, readJobPublicKey } from './jobSigning';
export {
  assembleFrames,
  frameLine,
  MAX_UNFRAMED_LINE_BYTES,
} from './logFrames';
export type { PendingFrames } from './logFrames';
export { securePrivateDirectory, securePrivateFile } from './privateDirectory';
export { resolveBranch, resolveTags } from './gitRemote';
export type { GitRemoteExecutor, GitRemoteOptions } from './gitRemote';
