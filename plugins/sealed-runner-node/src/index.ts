/**
 * Extension points and permission helpers for the Sealed Runner backend:
 * runner dispatchers, extra target checks, and permission conditions for
 * policies.
 *
 * @packageDocumentation
 */

export * from './dispatch';
export * from './targetChecks';
export * from './permissions';
export * from './gateClient';
export * from './modules';
export * from './locations';
export * from './config';
