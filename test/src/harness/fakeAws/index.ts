/**
 * FakeAws: a local server that speaks ECS, CloudWatch Logs, S3 and KMS to
 * the real AWS SDK v3 clients, with fault injection. See FakeAws.ts.
 */
export { FakeAws } from './FakeAws';
export type { FakeAwsCall, FakeAwsOptions } from './FakeAws';
export type { FakeTask, FakeTaskDefinition } from './ecs';
export type { FakeAwsFault } from './faults';
export type { FakeAwsService } from './protocol';
export type { FakeS3Object } from './s3';
