import { isAbsolute } from 'node:path';
import { z } from 'zod';
import {
  awsEndpointSchema,
  awsRegionSchema,
  kmsKeyIdSchema,
  repositoryAllowlistEntrySchema,
  s3BucketNameSchema,
} from '../configSchemas';
import {
  branchSchema,
  environmentSchema,
  nullPrototypeRecord,
  planPolicySchema,
} from '../schemas';
import { hasControlCharacters } from '../validation';
import { RUNNER_CONFIG_ENV } from './environment';
import { readJobPublicKey } from './jobSigning';

const absolutePath = z
  .string()
  .min(1)
  .max(1024)
  .refine(isAbsolute, 'must be an absolute path')
  .refine(p => !hasControlCharacters(p), 'must not contain control characters')
  // Paths end up in generated Terraform JSON, where strings are templates.
  .refine(
    p => !p.includes('${') && !p.includes('%{'),
    'must not contain ${ or %{',
  );

const roleArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
    'must be an IAM role ARN',
  );

/**
 * The sandbox user when the runner is root: a uid no other process uses
 * (not `nobody`, which other daemons share).
 *
 * @public
 */
export const DEFAULT_SANDBOX_ID = 64100;

/**
 * The runner's own policy and layout. It comes from the runner's
 * environment (the task definition on ECS, the local dispatcher in the
 * embedded default) — never from the job, which it checks against this.
 *
 * @public
 */
export const runnerConfigSchema = z
  .strictObject({
    /** Allowlisted repository URLs (exact, or `prefix/*`). */
    repositories: z.array(repositoryAllowlistEntrySchema).max(1000),
    /**
     * Environments and the branches whose commits they may apply. A
     * null-prototype record: `constructor` is a valid environment name and
     * must never resolve to Object.prototype's.
     */
    environments: nullPrototypeRecord(
      environmentSchema,
      z.strictObject({
        applyBranches: z
          .array(z.union([z.literal('*'), branchSchema]))
          .min(1)
          .max(100),
        /**
         * What code may be planned and applied here. Default: no code
         * execution and no provider but the built-in terraform provider.
         */
        planPolicy: planPolicySchema.prefault({}),
      }),
    ),
    /** Where per-run temporary directories are created. */
    workDir: absolutePath,
    /** Where saved plan files are kept, keyed by plan run id. */
    planDir: absolutePath,
    /**
     * Where local Terraform state lives for targets whose code declares no
     * backend (the embedded default). Outside every checkout.
     */
    stateDir: absolutePath,
    /** Filesystem provider mirror; providers are never downloaded directly. */
    providerMirrorDir: absolutePath.optional(),
    terraformPath: absolutePath.or(z.literal('terraform')).default('terraform'),
    gitPath: absolutePath.or(z.literal('git')).default('git'),
    /**
     * The gate's Ed25519 public key (PEM): the runner runs only jobs signed
     * with it. From the runner's own configuration, never from a job.
     */
    jobPublicKey: z
      .string()
      .max(4096)
      .refine(pem => {
        try {
          readJobPublicKey(pem);
          return true;
        } catch {
          return false;
        }
      }, 'must be an Ed25519 public key in PEM form'),
    /** How long after the gate issued it a job may start. */
    jobLifetimeSeconds: z.number().int().min(10).max(3600).default(300),
    /** Where the runner records the jobs it accepted, so none runs twice. */
    seenJobsDir: absolutePath,
    /**
     * The ECS runner's artifacts bucket: saved plans, single-use markers and
     * the job document live there (SSE-KMS), because a Fargate task's disk
     * dies with it. Unset: `planDir` and `seenJobsDir` on this host.
     */
    artifacts: z
      .strictObject({
        bucket: s3BucketNameSchema,
        /** KMS key (id, ARN or alias) every object is encrypted with. */
        kmsKeyId: kmsKeyIdSchema,
        region: awsRegionSchema,
        endpoint: awsEndpointSchema.optional(),
      })
      .optional(),
    /**
     * On ECS: the IAM roles this runner serves, per environment and
     * operation. One identity per environment: a task is started with the
     * role of exactly one environment's planner or applier, and ECS lets a
     * RunTask caller override a task's role, so the runner reads its own role
     * from the ECS agent's credentials endpoint and refuses a job whose
     * environment and operation do not match it. Every environment of the
     * config must be listed.
     */
    taskRoles: nullPrototypeRecord(
      environmentSchema,
      z.strictObject({ plan: roleArn, apply: roleArn }),
    ).optional(),
    /**
     * How git and Terraform run, isolated from the runner: `bwrap` (default)
     * runs each command in a bubblewrap sandbox — its own mount, PID, IPC and
     * (unless the environment allows it) network namespaces, a read-only
     * system, only this run's work directories and this one target's state
     * writable, nothing else of the runner visible — as the unprivileged
     * `uid`/`gid` when the runner is root. `uid` (for ECS Fargate, which
     * allows no user namespaces) runs them as that other user in the task and
     * kills every process of that user after each command. `false` runs them
     * unsandboxed, as the runner: for machines without bubblewrap only, and
     * said loudly in every run's log.
     */
    sandbox: z
      .union([
        z.literal(false),
        z.strictObject({
          type: z.enum(['bwrap', 'uid']).default('bwrap'),
          bwrapPath: absolutePath.default('/usr/bin/bwrap'),
          uid: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 2)
            .default(DEFAULT_SANDBOX_ID),
          gid: z
            .number()
            .int()
            .min(1)
            .max(2 ** 31 - 2)
            .default(DEFAULT_SANDBOX_ID),
        }),
      ])
      .prefault({}),
    /** Hard limit for the whole run. */
    timeoutSeconds: z
      .number()
      .int()
      .min(10)
      .max(24 * 3600)
      .default(1800),
  })
  .superRefine((config, ctx) => {
    if (!config.taskRoles) {
      return;
    }
    const environments = Object.keys(config.environments).sort();
    const roles = Object.keys(config.taskRoles).sort();
    if (environments.join() !== roles.join()) {
      ctx.addIssue({
        code: 'custom',
        path: ['taskRoles'],
        message: `must name the roles of exactly the runner's environments (${environments.join(
          ', ',
        )}), not ${roles.join(', ') || 'none'}`,
      });
    }
  });

/** @public */
export type RunnerConfig = z.infer<typeof runnerConfigSchema>;

/** @public */
export type RunnerConfigInput = z.input<typeof runnerConfigSchema>;

/** @public */
export function parseRunnerConfig(json: string | undefined): RunnerConfig {
  if (!json) {
    throw new Error(`${RUNNER_CONFIG_ENV} is not set`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(`${RUNNER_CONFIG_ENV} is not valid JSON`);
  }
  const parsed = runnerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `${RUNNER_CONFIG_ENV} is invalid: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
