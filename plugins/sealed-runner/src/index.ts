/**
 * The Sealed Runner frontend plugin: the entity Deployments tab and card,
 * the runs page, and run pages with plan review, approvals and live logs.
 *
 * This entry point is for the legacy frontend system; the new frontend
 * system uses `@sealed-runner/backstage-plugin-sealed-runner/alpha`.
 *
 * @packageDocumentation
 */

export {
  sealedRunnerPlugin,
  SealedRunnerPage,
  EntitySealedRunnerContent,
  EntitySealedRunnerCard,
} from './plugin';
export { isSealedRunnerAvailable } from './conditions';
export * from './api';
