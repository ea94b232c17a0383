/**
 * The Sealed Runner demo workspace, prepared by `yarn start` and used by the
 * end-to-end tests.
 *
 * @packageDocumentation
 */

export { prepareDemo } from './prepareDemo';
export type { DemoWorkspace } from './prepareDemo';
export { fixtureGit } from './fixtureGit';
