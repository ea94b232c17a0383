export { sealedRunnerPlugin as default } from './plugin';
