/**
 * Harness for end-to-end tests and benchmarks: isolated demo roots, real
 * backend processes, and a small client for the gate's HTTP API.
 *
 * @packageDocumentation
 */

export * from './harness/isolatedRoot';
export * from './harness/BackendProcess';
export * from './harness/GateClient';
export * from './harness/browser';
export * from './harness/fakeAws';
export * from './harness/logStream';
export * from './harness/ecsEnvironment';
