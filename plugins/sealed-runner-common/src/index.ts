/**
 * The shared vocabulary of the sealed-runner suite: catalog annotation
 * names, API and job types, strict request schemas, permissions, and the
 * validation primitives both the gate and the runner apply.
 *
 * @packageDocumentation
 */

export * from './annotations';
export * from './types';
export * from './permissions';
export * from './schemas';
export * from './validation';
export * from './git';
export * from './terraformPolicy';
export * from './errors';
export * from './approvals';
export * from './entityRefs';
export * from './commands';
export * from './sleep';
export * from './configSchemas';
export * from './client';
