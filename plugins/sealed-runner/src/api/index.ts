export { sealedRunnerApiRef } from './SealedRunnerApi';
export type {
  ListBreakGlassOptions,
  ListRunsOptions,
  LogPage,
  LogStreamHandlers,
  OpenBreakGlassRequest,
  SealedRunnerApi,
} from './SealedRunnerApi';
export { SealedRunnerClient } from './SealedRunnerClient';
