import { z } from 'zod';
import { RUN_STATUSES } from './types';
import {
  Checked,
  checkBranchName,
  checkCommitSha,
  checkEnvironmentName,
  checkProviderAddress,
  checkRelativePath,
  checkRepositoryUrl,
  checkTagName,
  hasControlCharacters,
  parseModuleSource,
} from './validation';
import { STATE_BACKEND_TYPES } from './terraformPolicy';

/**
 * Lifts a validation primitive into a zod string schema, so the primitive's
 * reason becomes the schema's error message.
 */
function fromCheck(check: (value: unknown) => Checked<unknown>) {
  return z.string().superRefine((value, ctx) => {
    const result = check(value);
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: result.reason });
    }
  });
}

const ENTITY_REF =
  /^[A-Za-z][A-Za-z0-9]{0,62}:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/**
 * An entity ref (`kind:[namespace/]name`), normalised to
 * `kind:namespace/name` with a lower-case kind. The kind is required: a
 * bare name could mean anything.
 *
 * @public
 */
export const entityRefSchema = z
  .string()
  .max(300)
  .regex(ENTITY_REF, 'must be an entity ref like component:default/payments')
  .transform(ref => {
    const colon = ref.indexOf(':');
    const rest = ref.slice(colon + 1);
    return `${ref.slice(0, colon).toLocaleLowerCase('en-US')}:${
      rest.includes('/') ? rest : `default/${rest}`
    }`;
  });

/** @public */
export const environmentSchema = fromCheck(checkEnvironmentName);
/** @public */
export const branchSchema = fromCheck(checkBranchName);
/** @public */
export const commitShaSchema = fromCheck(checkCommitSha);
/** @public */
export const relativePathSchema = fromCheck(checkRelativePath);
/** @public */
export const repositoryUrlSchema = fromCheck(checkRepositoryUrl);
/** @public */
export const tagSchema = fromCheck(checkTagName);
/** @public */
export const moduleSourceSchema = fromCheck(parseModuleSource);
/** A full, normalised provider address: `registry.terraform.io/hashicorp/aws`. @public */
export const providerAddressSchema = fromCheck(checkProviderAddress);

/**
 * What Terraform code an environment lets the runner plan and apply. The
 * runner reads it from its own configuration, never from a job.
 *
 * @public
 */
export const planPolicySchema = z.strictObject({
  /**
   * Lets `data "external"` and provisioners through: for sandbox-like
   * environments only, since they run programs (in the runner's sandbox).
   */
  allowCodeExecution: z.boolean().default(false),
  /**
   * Providers the code may use besides the built-in terraform provider.
   */
  providers: z.array(providerAddressSchema).max(200).default([]),
  /**
   * Provider configuration arguments allowed beyond the built-in lists
   * (`PROVIDER_ARGUMENTS`), per provider address, as dotted paths
   * (`assume_role.role_arn`). A list, since provider addresses are not
   * valid app-config keys. An argument that names a file, a command or a
   * profile here lets the code reach it.
   */
  providerArguments: z
    .array(
      z.strictObject({
        provider: providerAddressSchema,
        arguments: z
          .array(
            z
              .string()
              .max(200)
              .regex(
                /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/,
                'must be an argument name or a dotted path (assume_role.role_arn)',
              ),
          )
          .min(1)
          .max(200),
      }),
    )
    .max(200)
    .default([]),
  /**
   * State backend types the code may declare, in a `backend` block or a
   * `terraform_remote_state` data source, such as `s3`. Default none: the
   * runner keeps the state itself. `local` (a path the code chooses),
   * `remote` and `cloud` (HCP Terraform runs the plan elsewhere) are never
   * allowed. Each type's configuration keys are fixed
   * (`STATE_BACKEND_CONFIG`).
   */
  backends: z.array(z.enum(STATE_BACKEND_TYPES)).max(10).default([]),
  /**
   * Gives Terraform's sandbox the network (provider APIs, a remote backend,
   * module repositories over https or ssh). Default false: Terraform runs
   * with no network at all, and reaches only the runner's provider mirror
   * and `file://` module repositories.
   */
  allowNetwork: z.boolean().default(false),
});

/** @public */
export type PlanPolicy = z.infer<typeof planPolicySchema>;

const runIdSchema = z.uuid();
const sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest');

/**
 * `POST /runs`. Strict: unknown fields are refused.
 *
 * @public
 */
export const createRunRequestSchema = z.strictObject({
  entityRef: entityRefSchema,
  environment: environmentSchema,
  operation: z.literal('plan'),
  ref: branchSchema.optional(),
});

/** @public */
export type CreateRunRequest = z.infer<typeof createRunRequestSchema>;

/** @public */
export const MAX_RUN_LIST_LIMIT = 200;

/** `GET /runs` query. @public */
export const listRunsQuerySchema = z.strictObject({
  entityRef: entityRefSchema.optional(),
  environment: environmentSchema.optional(),
  status: z.enum(RUN_STATUSES).optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_RUN_LIST_LIMIT))
    .optional(),
});

/** @public */
export type ListRunsQuery = z.infer<typeof listRunsQuerySchema>;

/** `GET /targets` query. @public */
export const listTargetsQuerySchema = z.strictObject({
  entityRef: entityRefSchema,
});

/** `GET /target-owners` query: the repository whose targets' owners to list. @public */
export const listTargetOwnersQuerySchema = z.strictObject({
  repository: repositoryUrlSchema,
});

/** `GET /runs/:id/logs` query. @public */
export const logsQuerySchema = z.strictObject({
  after: z
    .string()
    .regex(/^[0-9]{1,9}$/, 'must be a non-negative integer')
    .transform(Number)
    .optional(),
});

/** Path parameter `:id`. @public */
export const runIdParamSchema = z.strictObject({ id: runIdSchema });

/** Empty JSON body for approve/apply/cancel. @public */
export const emptyBodySchema = z.strictObject({});

// A reason is read by other people (a run's history, the banner on a
// target, the audit trail): nothing in it may reorder the text around it (bidi
// controls, Trojan Source) or break it into lines that look like others.
const TEXT_FORMATTING =
  /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function humanText(min: number, max: number, tooShort: string) {
  return z
    .string()
    .max(max * 2, `must be at most ${max} characters`)
    .trim()
    .min(min, tooShort)
    .max(max, `must be at most ${max} characters`)
    .refine(
      value => !hasControlCharacters(value),
      'must not contain control characters (also no line breaks or tabs)',
    )
    .refine(
      value => !TEXT_FORMATTING.test(value),
      'must not contain bidirectional or line-separator characters',
    );
}

/** `POST /runs/:id/release-lock`: why an admin ends a run to free its target. @public */
export const releaseLockRequestSchema = z.strictObject({
  reason: humanText(3, 500, 'give a reason of at least 3 characters'),
});

/**
 * The longest break-glass session anyone may ask for, whatever
 * `sealedRunner.breakGlass.maxDurationMinutes` says: one week.
 *
 * @public
 */
export const MAX_BREAK_GLASS_DURATION_MINUTES = 7 * 24 * 60;

/** A session's length when the request names none (capped by the configured maximum). @public */
export const DEFAULT_BREAK_GLASS_DURATION_MINUTES = 60;

/** @public */
export const MAX_BREAK_GLASS_LIST_LIMIT = 200;

/** A ticket reference such as `INC-1234`, `JIRA:OPS-7` or `https://…/browse/OPS-7`. @public */
export const breakGlassTicketSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(
    /^[A-Za-z0-9._#:/-]+$/,
    'may contain only letters, digits and . _ # : / -',
  );

/**
 * `POST /break-glass`: open a time-limited break-glass session on one
 * target. The gate caps `durationMinutes` at the configured maximum.
 * Strict: unknown fields are refused.
 *
 * @public
 */
export const openBreakGlassRequestSchema = z.strictObject({
  entityRef: entityRefSchema,
  environment: environmentSchema,
  reason: humanText(10, 2000, 'give a reason of at least 10 characters'),
  ticket: breakGlassTicketSchema.optional(),
  durationMinutes: z
    .number()
    .int()
    .min(1)
    .max(MAX_BREAK_GLASS_DURATION_MINUTES)
    .optional(),
});

/** @public */
export type OpenBreakGlassRequest = z.infer<typeof openBreakGlassRequestSchema>;

/** `POST /break-glass/:id/close`: an optional note on why. @public */
export const closeBreakGlassRequestSchema = z.strictObject({
  reason: humanText(1, 2000, 'must not be empty').optional(),
});

/** `GET /break-glass` query. @public */
export const listBreakGlassQuerySchema = z.strictObject({
  entityRef: entityRefSchema.optional(),
  environment: environmentSchema.optional(),
  active: z
    .enum(['true', 'false'])
    .transform(value => value === 'true')
    .optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_BREAK_GLASS_LIST_LIMIT))
    .optional(),
});

/** @public */
export type ListBreakGlassQuery = z.infer<typeof listBreakGlassQuerySchema>;

/** Path parameter `:id` of a break-glass session. @public */
export const breakGlassIdParamSchema = z.strictObject({ id: runIdSchema });

/**
 * A catalog snapshot source is compared with the parsed `base` of module
 * sources, so it must be canonical: no `?ref=` (versions are listed apart).
 */
const catalogModuleSourceSchema = fromCheck(value => {
  const source = parseModuleSource(value);
  if (source.ok && source.value.ref !== undefined) {
    return {
      ok: false,
      reason:
        'a catalog module source must not include ?ref=; list vetted tags in versions',
    };
  }
  return source;
});

/** @public */
export const catalogModuleSchema = z
  .strictObject({
    source: catalogModuleSourceSchema,
    versions: z.array(tagSchema).max(100),
    /** The commit each vetted tag is pinned to. */
    commits: nullPrototypeRecord(tagSchema, commitShaSchema).optional(),
  })
  .superRefine((module, ctx) => {
    for (const tag of Object.keys(module.commits ?? {})) {
      if (!module.versions.includes(tag)) {
        ctx.addIssue({
          code: 'custom',
          path: ['commits', tag],
          message: `pins ${tag}, which is not a vetted version`,
        });
      }
    }
  });

/** @public */
export const MAX_JOB_BYTES = 256 * 1024;

/**
 * What the gate hands a runner: the job document as the exact bytes it
 * signed (`payload`), and an Ed25519 signature of them (base64). The runner
 * verifies the signature with a public key from its own configuration
 * before it reads the job.
 *
 * @public
 */
export const signedJobDocumentSchema = z.strictObject({
  // Held to MAX_JOB_BYTES by the runner, with its own message.
  payload: z.string().max(2 * MAX_JOB_BYTES),
  signature: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64'),
});

/** @public */
export type SignedJobDocument = z.infer<typeof signedJobDocumentSchema>;

/**
 * The largest signed document a runner reads: the payload JSON-escaped
 * inside the envelope can grow, so the bound is generous; the payload
 * itself is held to {@link MAX_JOB_BYTES}.
 *
 * @public
 */
export const MAX_SIGNED_JOB_BYTES = 2 * MAX_JOB_BYTES + 1024;

/**
 * The one input of a sealed runner: a single plan or apply of one commit of
 * one folder, with the catalog snapshot the module check needs. The runner
 * validates it again with this schema and its own policy.
 *
 * @public
 */
export const jobSchema = z
  .strictObject({
    version: z.literal(1),
    runId: runIdSchema,
    operation: z.enum(['plan', 'apply']),
    entityRef: entityRefSchema,
    environment: environmentSchema,
    repository: repositoryUrlSchema,
    ref: branchSchema,
    commitSha: commitShaSchema,
    path: relativePathSchema,
    modules: z.array(catalogModuleSchema).max(1000),
    plan: z
      .strictObject({ runId: runIdSchema, sha256: sha256Schema })
      .optional(),
    issuedAt: z.iso.datetime(),
    /**
     * Set by the gate only for an apply that uses an open break-glass
     * session. It lets the runner apply a branch that is not an apply
     * branch of the environment, until `expiresAt`; the signature covers
     * it, so only the gate can grant it.
     */
    breakGlass: z
      .strictObject({
        sessionId: runIdSchema,
        openedBy: entityRefSchema,
        expiresAt: z.iso.datetime(),
      })
      .optional(),
  })
  .superRefine((job, ctx) => {
    if (job.operation === 'apply' && !job.plan) {
      ctx.addIssue({
        code: 'custom',
        message: 'an apply job must name its plan',
      });
    }
    if (job.operation === 'plan' && job.plan) {
      ctx.addIssue({
        code: 'custom',
        message: 'a plan job must not name a plan',
      });
    }
    if (job.operation === 'plan' && job.breakGlass) {
      ctx.addIssue({
        code: 'custom',
        message: 'a plan job must not carry a break-glass grant',
      });
    }
  });

/** @public */
export type SealedRunnerJob = z.infer<typeof jobSchema>;

/** @public */
export const MAX_LOG_LINE_LENGTH = 8192;

/** The longest reason a runner result may carry. @public */
export const MAX_RESULT_ERROR_LENGTH = 4000;

const planSummarySchema = z.strictObject({
  add: z.number().int().min(0),
  change: z.number().int().min(0),
  destroy: z.number().int().min(0),
});

const resourceChangeSchema = z.strictObject({
  address: z.string().min(1).max(1024),
  actions: z
    .array(z.enum(['create', 'update', 'delete', 'read', 'no-op']))
    .min(1)
    .max(2),
});

/** @public */
export const RUN_PHASES = [
  'validate',
  'checkout',
  'module-check',
  'init',
  'code-check',
  'plan',
  'apply',
] as const;

/**
 * What a runner reports, one JSON object per line on its output stream.
 * The backend parses every line with this schema and trusts nothing else.
 *
 * @public
 */
export const runnerEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('log'),
    line: z.string().max(MAX_LOG_LINE_LENGTH),
  }),
  z.strictObject({ type: z.literal('phase'), phase: z.enum(RUN_PHASES) }),
  z.strictObject({
    type: z.literal('result'),
    status: z.enum(['succeeded', 'failed', 'rejected', 'cancelled']),
    commitSha: commitShaSchema.optional(),
    plan: planSummarySchema.optional(),
    changes: z.array(resourceChangeSchema).max(10000).optional(),
    planSha256: sha256Schema.optional(),
    moduleSources: z.array(z.string().max(2048)).max(1000).optional(),
    error: z.string().max(MAX_RESULT_ERROR_LENGTH).optional(),
  }),
]);

/** @public */
export type RunnerEvent = z.infer<typeof runnerEventSchema>;

/** @public */
export type RunnerResult = Extract<RunnerEvent, { type: 'result' }>;

/**
 * A record keyed by names that may be any valid word, `constructor`
 * included: the result has no prototype, so a lookup never resolves to
 * Object.prototype's. zod's record silently drops an own `__proto__` key
 * (which JSON.parse and YAML create), so that key is refused here instead
 * of vanishing unvalidated.
 *
 * @public
 */
export function nullPrototypeRecord<V extends z.ZodType>(
  key: z.ZodType<string, string>,
  value: V,
): z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>> {
  const schema = z
    .unknown()
    .superRefine((raw, ctx) => {
      if (
        raw !== null &&
        typeof raw === 'object' &&
        Object.prototype.hasOwnProperty.call(raw, '__proto__')
      ) {
        ctx.addIssue({
          code: 'custom',
          message: '"__proto__" is not a valid name',
        });
      }
    })
    .pipe(z.record(key, value))
    .transform(
      record =>
        Object.assign(Object.create(null), record) as Record<
          string,
          z.output<V>
        >,
    );
  // The refusal above narrows nothing about valid input: keep the record's input type.
  return schema as unknown as z.ZodType<
    Record<string, z.output<V>>,
    Record<string, z.input<V>>
  >;
}
