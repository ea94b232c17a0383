export * from './SealedRunnerHttpClient';
