import { z } from 'zod';
import { checkRepositoryUrl } from './validation/repository';

/**
 * Pieces of configuration the gate's `sealedRunner` config and the
 * runner's own config both hold, described once.
 */

/**
 * An entry of a repository allowlist: an exact repository URL, or a URL
 * prefix ending in `/*` (see `checkRepositoryAllowed`).
 *
 * @public
 */
export const repositoryAllowlistEntrySchema = z
  .string()
  .max(2048)
  .refine(
    entry =>
      checkRepositoryUrl(
        entry.endsWith('/*') ? `${entry.slice(0, -2)}/x` : entry,
      ).ok,
    'must be a repository URL (https://, ssh://, user@host:path, file://), or such a URL prefix ending in /*',
  );

/** @public */
export const awsRegionSchema = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region');

/** A VPC endpoint or, in tests, a local server speaking the AWS protocol. @public */
export const awsEndpointSchema = z.url({ protocol: /^https?$/ }).max(2048);

/** @public */
export const kmsKeyIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9:/_+=,.@-]{1,2048}$/,
    'must be a KMS key id, ARN or alias',
  );

/** @public */
export const s3BucketNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name');
