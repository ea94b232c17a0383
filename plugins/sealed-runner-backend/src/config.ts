import { resolve } from 'node:path';
import { Config } from '@backstage/config';
import {
  branchSchema,
  checkRepositoryUrl,
  entityRefSchema,
  environmentSchema,
  planPolicySchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';

const allowlistEntry = z
  .string()
  .refine(
    entry =>
      checkRepositoryUrl(entry.endsWith('/*') ? `${entry.slice(0, -2)}/x` : entry).ok,
    'must be a repository URL (https://, ssh://, user@host:path, file://), or such a URL prefix ending in /*',
  );

const environmentConfigSchema = z.strictObject({
  applyBranches: z.array(z.union([z.literal('*'), branchSchema])).min(1),
  requiredApprovals: z.number().int().min(0).max(10),
  approvers: z.array(entityRefSchema).min(1).optional(),
  /** Handed to the runner, which enforces it; the runner's defaults apply when unset. */
  planPolicy: planPolicySchema.optional(),
});

/** @public */
export type EnvironmentConfig = z.infer<typeof environmentConfigSchema>;

const sealedRunnerConfigSchema = z.strictObject({
  repositories: z.array(allowlistEntry),
  // A null-prototype record: `constructor` is a valid environment name and
  // must never resolve to Object.prototype's.
  environments: z
    .record(environmentSchema, environmentConfigSchema)
    .refine(envs => Object.keys(envs).length > 0, 'configure at least one environment')
    .transform(envs => Object.assign(Object.create(null), envs) as typeof envs),
  modules: z.strictObject({ owners: z.array(entityRefSchema).min(1).optional() }).optional(),
  jobSigning: z
    .strictObject({
      privateKey: z.string().max(4096).optional(),
      lifetimeSeconds: z.number().int().min(10).max(3600).default(300),
    })
    .prefault({}),
  runner: z
    .strictObject({
      type: z.string().regex(/^[a-z][a-z0-9-]*$/).default('local'),
      timeoutSeconds: z.number().int().min(30).max(86400).default(1800),
      heartbeatTimeoutSeconds: z.number().int().min(2).max(3600).default(30),
      reconcileIntervalSeconds: z.number().int().min(1).max(3600).default(10),
      local: z
        .strictObject({
          directory: z.string().min(1),
          terraformPath: z.string().startsWith('/').optional(),
          providerMirror: z.string().min(1).optional(),
        })
        .optional(),
    })
    .prefault({}),
});

/**
 * The validated `sealedRunner` configuration.
 *
 * @public
 */
export type SealedRunnerConfig = z.infer<typeof sealedRunnerConfigSchema>;

/**
 * Reads and validates `sealedRunner` from app-config, failing startup with
 * a message that names each wrong key.
 */
export function readSealedRunnerConfig(config: Config): SealedRunnerConfig {
  const raw = config.getOptional('sealedRunner');
  if (raw === undefined) {
    throw new Error(
      'sealedRunner is not configured: set sealedRunner.repositories and sealedRunner.environments in app-config',
    );
  }
  const parsed = sealedRunnerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Invalid sealedRunner configuration:\n${z.prettifyError(parsed.error)}`);
  }
  const result = parsed.data;
  if (result.runner.local) {
    result.runner.local.directory = resolve(result.runner.local.directory);
    if (result.runner.local.providerMirror) {
      result.runner.local.providerMirror = resolve(result.runner.local.providerMirror);
    }
  }
  return result;
}
