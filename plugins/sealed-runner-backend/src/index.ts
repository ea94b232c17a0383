/**
 * The Sealed Runner backend plugin: the gate that checks every plan and
 * apply against the catalog, the environment rules and the permission
 * framework, and dispatches the sealed runner.
 *
 * @packageDocumentation
 */

export { sealedRunnerPlugin as default } from './plugin';
