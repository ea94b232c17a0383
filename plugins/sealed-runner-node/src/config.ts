import { resolve } from 'node:path';
import { Config } from '@backstage/config';
import {
  awsEndpointSchema,
  awsRegionSchema,
  branchSchema,
  entityRefSchema,
  environmentSchema,
  kmsKeyIdSchema,
  MAX_BREAK_GLASS_DURATION_MINUTES,
  nullPrototypeRecord,
  planPolicySchema,
  repositoryAllowlistEntrySchema,
  s3BucketNameSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';
import { resolveLocationRef } from './locations';

/**
 * How much log one run may keep by default (`sealedRunner.runner.logs`):
 * far above a real plan's output, far below what fills a disk.
 *
 * @public
 */
export const DEFAULT_LOG_LIMITS = {
  maxLines: 250_000,
  maxBytes: 64 * 1024 * 1024,
} as const;

/**
 * How many live log streams may be open by default, and how long a client
 * may stall one (`sealedRunner.logStreams`): a few browser tabs per
 * person, a busy team per backend.
 *
 * @public
 */
export const DEFAULT_STREAM_LIMITS = {
  maxPerCaller: 4,
  maxTotal: 200,
  slowClientSeconds: 30,
} as const;

/**
 * One environment of `sealedRunner.environments`.
 *
 * @public
 */
export const environmentConfigSchema = z.strictObject({
  applyBranches: z.array(z.union([z.literal('*'), branchSchema])).min(1),
  requiredApprovals: z.number().int().min(0).max(10),
  approvers: z.array(entityRefSchema).min(1).optional(),
  /**
   * Plans a service principal (CI) requests: `extra-approval` (default)
   * needs one approval more than `requiredApprovals` where that is at
   * least 1, since no person can be held to four-eyes; `deny` refuses them.
   */
  serviceRequests: z.enum(['deny', 'extra-approval']).default('extra-approval'),
  /** Handed to the runner, which enforces it; the runner's defaults apply when unset. */
  planPolicy: planPolicySchema.optional(),
});

const awsId = z.string().regex(/^[A-Za-z0-9:/_.@-]{1,2048}$/);

/**
 * The ECS Fargate runner (`runner.type: ecs`). Everything the backend may
 * start is named here by the platform team; nothing in a request becomes a
 * task definition, role, command or environment variable name.
 */
const ecsRunnerConfigSchema = z.strictObject({
  region: awsRegionSchema,
  /** Cluster name or ARN. */
  cluster: awsId,
  /**
   * The planner and applier task definitions of each environment: one
   * identity per environment, so a dev apply never holds credentials prod
   * is changed with, and only apply tasks hold deploy credentials. Every
   * environment in sealedRunner.environments must be listed.
   */
  taskDefinitions: nullPrototypeRecord(
    environmentSchema,
    z.strictObject({ plan: awsId, apply: awsId }),
  ),
  containerName: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/)
    .default('runner'),
  subnets: z
    .array(z.string().regex(/^subnet-[0-9a-f]{1,32}$/, 'must be a subnet id'))
    .min(1)
    .max(16),
  securityGroups: z
    .array(
      z.string().regex(/^sg-[0-9a-f]{1,32}$/, 'must be a security group id'),
    )
    .max(5)
    .default([]),
  assignPublicIp: z.boolean().default(false),
  /** The runner container's awslogs group and stream prefix. */
  logGroup: z.string().regex(/^[A-Za-z0-9_/.#-]{1,512}$/),
  logStreamPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,128}$/)
    .default('runner'),
  /** Where the backend leaves the signed job for the task (ECS overrides hold 8 KiB). */
  artifactsBucket: s3BucketNameSchema,
  artifactsKmsKeyId: awsId,
  /** VPC endpoints, or a local AWS-compatible server in tests. */
  endpoint: awsEndpointSchema.optional(),
  /** Starting a task: attempts for capacity errors, throttling and 5xx, with jittered exponential backoff. */
  startAttempts: z.number().int().min(1).max(10).default(5),
  startBackoffMs: z.number().int().min(10).max(60_000).default(1000),
  /**
   * CloudWatch delivers the last log events after the task stopped: how
   * long to keep reading a stopped task's stream for its result.
   */
  logGraceSeconds: z.number().int().min(1).max(600).default(30),
});

/** @public */
/** @public */
export type EnvironmentConfig = z.infer<typeof environmentConfigSchema>;

const locationRefs = z
  .array(
    z
      .string()
      .regex(
        /^(url|file):[^\s]{1,2000}$/,
        'must be a catalog location ref (url:… or file:…)',
      ),
  )
  .min(1);

/**
 * The `sealedRunner` configuration the gate reads, and that its modules
 * read parts of: the one description of it (`config.d.ts` is kept in step
 * by a test).
 *
 * @public
 */
export const sealedRunnerConfigSchema = z
  .strictObject({
    repositories: z.array(repositoryAllowlistEntrySchema),
    environments: nullPrototypeRecord(
      environmentSchema,
      environmentConfigSchema,
    ).refine(
      envs => Object.keys(envs).length > 0,
      'configure at least one environment',
    ),
    modules: z
      .strictObject({
        owners: z.array(entityRefSchema).min(1).optional(),
        locations: locationRefs.optional(),
      })
      .optional(),
    /**
     * Where deployable entities may come from: only entities whose origin
     * location (recorded by the catalog; an entity's YAML cannot claim one)
     * is one of these location refs, or under one ending in `*`, have
     * deployable targets. Unset: any location (a warning at startup).
     */
    targets: z.strictObject({ locations: locationRefs.optional() }).optional(),
    jobSigning: z
      .strictObject({
        privateKey: z.string().max(4096).optional(),
        /** An AWS KMS ECC_NIST_EDWARDS25519 key signs instead: the private key never leaves KMS. */
        kms: z
          .strictObject({
            keyId: kmsKeyIdSchema,
            region: awsRegionSchema,
            endpoint: awsEndpointSchema.optional(),
          })
          .optional(),
        lifetimeSeconds: z.number().int().min(10).max(3600).default(300),
      })
      .refine(
        s => !(s.privateKey && s.kms),
        'set either privateKey or kms, not both',
      )
      .prefault({}),
    /** Live log streams (`GET /runs/:id/logs/stream`). */
    logStreams: z
      .strictObject({
        /** Open streams one caller may hold; more get 429. */
        maxPerCaller: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(DEFAULT_STREAM_LIMITS.maxPerCaller),
        /** Open streams on this backend; more get 429. */
        maxTotal: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .default(DEFAULT_STREAM_LIMITS.maxTotal),
        /** A client that has not taken a written event within this time is cut off. */
        slowClientSeconds: z
          .number()
          .int()
          .min(1)
          .max(3600)
          .default(DEFAULT_STREAM_LIMITS.slowClientSeconds),
      })
      .prefault({}),
    breakGlass: z
      .strictObject({
        /** The longest break-glass session a holder may open, in minutes. */
        maxDurationMinutes: z
          .number()
          .int()
          .min(1)
          .max(MAX_BREAK_GLASS_DURATION_MINUTES)
          .default(240),
      })
      .prefault({}),
    runner: z
      .strictObject({
        type: z
          .string()
          .regex(/^[a-z][a-z0-9-]*$/)
          .default('local'),
        timeoutSeconds: z.number().int().min(30).max(86400).default(1800),
        heartbeatTimeoutSeconds: z.number().int().min(2).max(3600).default(30),
        reconcileIntervalSeconds: z.number().int().min(1).max(3600).default(10),
        /** How much log one run keeps; the rest is cut with one marker line. */
        logs: z
          .strictObject({
            maxLines: z
              .number()
              .int()
              .min(100)
              .max(10_000_000)
              .default(DEFAULT_LOG_LIMITS.maxLines),
            maxBytes: z
              .number()
              .int()
              .min(64 * 1024)
              .max(4 * 1024 * 1024 * 1024)
              .default(DEFAULT_LOG_LIMITS.maxBytes),
          })
          .prefault({}),
        /**
         * A module replacing a built-in runner type (`local`, `ecs`) receives
         * every signed job: refused unless this is set, and warned about.
         */
        allowReplacingBuiltIn: z.boolean().default(false),
        local: z
          .strictObject({
            directory: z.string().min(1),
            terraformPath: z.string().startsWith('/').optional(),
            providerMirror: z.string().min(1).optional(),
            /**
             * The bubblewrap sandbox git and Terraform run in (default on).
             * `false` runs them unsandboxed, as the backend's user: only for
             * machines without bubblewrap (macOS laptops); logged loudly at
             * startup, in every run's log, and shown on every target.
             */
            sandbox: z
              .union([
                z.literal(false),
                z.strictObject({
                  bwrapPath: z.string().startsWith('/').optional(),
                  /** The unprivileged user git and Terraform run as when the backend is root. */
                  uid: z.number().int().min(1).max(2147483646).optional(),
                  gid: z.number().int().min(1).max(2147483646).optional(),
                }),
              ])
              .optional(),
          })
          .optional(),
        ecs: ecsRunnerConfigSchema.optional(),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const ecs = config.runner.ecs;
    if (config.runner.type !== 'ecs' || !ecs) {
      return;
    }
    const missing = Object.keys(config.environments).filter(
      env => !ecs.taskDefinitions[env],
    );
    const extra = Object.keys(ecs.taskDefinitions).filter(
      env => !config.environments[env],
    );
    if (missing.length > 0 || extra.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['runner', 'ecs', 'taskDefinitions'],
        message: `must name the planner and applier task definitions of exactly the configured environments (${[
          missing.length > 0 ? `missing: ${missing.join(', ')}` : '',
          extra.length > 0 ? `not configured: ${extra.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')})`,
      });
    }
  });

/**
 * The validated `sealedRunner` configuration.
 *
 * @public
 */
export type SealedRunnerConfig = z.infer<typeof sealedRunnerConfigSchema>;

function findPrototypeKeys(config: Config, path: string): string[] {
  return config.keys().flatMap(key => {
    const at = `${path}.${key}`;
    if (key === '__proto__') {
      return [at];
    }
    const value = config.getOptional(key);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? findPrototypeKeys(config.getConfig(key), at)
      : [];
  });
}

/**
 * Reads and validates `sealedRunner` from app-config, failing startup with
 * a message that names each wrong key.
 *
 * @public
 */
export function readSealedRunnerConfig(config: Config): SealedRunnerConfig {
  const raw = config.getOptional('sealedRunner');
  if (raw === undefined) {
    throw new Error(
      'sealedRunner is not configured: set sealedRunner.repositories and sealedRunner.environments in app-config',
    );
  }
  // Backstage's config reader drops a `__proto__` key when it copies a
  // value out, so the schema would never see it: refuse it here, by name.
  const prototypeKeys = findPrototypeKeys(
    config.getConfig('sealedRunner'),
    'sealedRunner',
  );
  if (prototypeKeys.length > 0) {
    throw new Error(
      `Invalid sealedRunner configuration:\n${prototypeKeys
        .map(key => `✖ "__proto__" is not a valid name\n  → at ${key}`)
        .join('\n')}`,
    );
  }
  const parsed = sealedRunnerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `Invalid sealedRunner configuration:\n${z.prettifyError(parsed.error)}`,
    );
  }
  const result = parsed.data;
  if (result.modules?.locations) {
    result.modules.locations = result.modules.locations.map(resolveLocationRef);
  }
  if (result.targets?.locations) {
    result.targets.locations = result.targets.locations.map(resolveLocationRef);
  }
  if (result.runner.local) {
    result.runner.local.directory = resolve(result.runner.local.directory);
    if (result.runner.local.providerMirror) {
      result.runner.local.providerMirror = resolve(
        result.runner.local.providerMirror,
      );
    }
  }
  return result;
}

/**
 * Reads the part of `sealedRunner` a module needs (the catalog and
 * scaffolder modules refuse early what the gate would refuse), with a
 * schema built from the pieces of {@link sealedRunnerConfigSchema}, so a
 * key means one thing everywhere. Undefined where there is no
 * `sealedRunner` section (a backend without the gate); a wrong value fails
 * startup, naming its key.
 *
 * @public
 */
export function readSealedRunnerPart<T extends z.ZodType>(
  config: Config,
  schema: T,
): z.output<T> | undefined {
  const section = config.getOptionalConfig('sealedRunner');
  if (!section) {
    return undefined;
  }
  const prototypeKeys = findPrototypeKeys(section, 'sealedRunner');
  const parsed = schema.safeParse(config.getOptional('sealedRunner'));
  if (prototypeKeys.length === 0 && parsed.success) {
    return parsed.data;
  }
  const issues = [
    ...prototypeKeys.map(
      key => `✖ "__proto__" is not a valid name\n  → at ${key}`,
    ),
    ...(parsed.success
      ? []
      : [
          z.prettifyError(
            new z.ZodError(
              parsed.error.issues.map(issue => ({
                ...issue,
                path: ['sealedRunner', ...issue.path],
              })),
            ),
          ),
        ]),
  ];
  throw new Error(`Invalid sealedRunner configuration:\n${issues.join('\n')}`);
}

/**
 * The same keys and kinds of value as `schema` (strings, numbers, lists,
 * records, which keys are required), without its rules on the values. A
 * module reads its part of the gate's config with this: a wrong type
 * fails its startup, naming the key, while the values (a branch name, a
 * repository URL) are the gate's to refuse, which it does before it
 * serves, so one refusal stops the backend.
 *
 * @public
 */
export function shapeOf(schema: z.ZodType): z.ZodType {
  const def = (schema as z.ZodType & { _zod: { def: any } })._zod.def;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
      return shapeOf(def.innerType).optional();
    case 'nullable':
      return shapeOf(def.innerType).nullable();
    case 'readonly':
    case 'catch':
      return shapeOf(def.innerType);
    case 'pipe': {
      const input = def.in._zod.def.type;
      return shapeOf(input === 'unknown' || input === 'any' ? def.out : def.in);
    }
    case 'object':
      return z.object(
        Object.fromEntries(
          Object.entries(def.shape).map(([key, value]) => [
            key,
            shapeOf(value as z.ZodType),
          ]),
        ),
      );
    case 'record':
      return z.record(z.string(), shapeOf(def.valueType));
    case 'array':
      return z.array(shapeOf(def.element));
    case 'union':
      return z.union(def.options.map(shapeOf));
    case 'string':
    case 'enum':
    case 'template_literal':
      return z.string();
    case 'number':
    case 'int':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'literal':
      return typeof def.values[0] === 'string'
        ? z.string()
        : z.literal(def.values[0]);
    default:
      return z.unknown();
  }
}
