export { sealedRunnerApiRef } from './SealedRunnerApi';
export type {
  ListRunsOptions,
  LogPage,
  LogStreamHandlers,
  SealedRunnerApi,
} from './SealedRunnerApi';
export { SealedRunnerClient } from './SealedRunnerClient';
