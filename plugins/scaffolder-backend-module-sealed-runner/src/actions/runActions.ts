import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { InputError, ResponseError } from '@backstage/errors';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import {
  checkBranchName,
  checkEnvironmentName,
  gateErrorReason,
  Run,
  sleep,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerGateClient } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { followRun } from './followRun';

const DEFAULT_TIMEOUT_SECONDS = 900;
const MAX_TIMEOUT_SECONDS = 3600;
const DEFAULT_ENTITY_WAIT_SECONDS = 60;
const RETRY_MS = 2_000;

export interface RunActionOptions {
  gate: SealedRunnerGateClient;
  /** `app.baseUrl`, for links to run pages. */
  appBaseUrl: string;
}

const runUrl = (appBaseUrl: string, runId: string) =>
  `${appBaseUrl}/sealed-runner/runs/${encodeURIComponent(runId)}`;

function checked<T>(
  result: { ok: true; value: T } | { ok: false; reason: string },
  what: string,
): T {
  if (!result.ok) {
    throw new InputError(`${what}: ${result.reason}`);
  }
  return result.value;
}

/** Fails the step with the gate's reason, not "Request failed with 409". */
async function refusedAs<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new Error(`the gate refused the ${what}: ${gateErrorReason(error)}`);
  }
}

/**
 * A template may register the entity one step before it plans; the catalog
 * ingests it moments later. Retries the gate's 404 for a bounded time.
 */
async function untilEntityKnown<T>(
  waitSeconds: number,
  call: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const notFound =
        error instanceof ResponseError && error.response.status === 404;
      if (!notFound || Date.now() + RETRY_MS > deadline || signal?.aborted) {
        throw error;
      }
      await sleep(RETRY_MS, signal);
    }
  }
}

/** Waits for the run, sets the outputs, and fails the step unless it succeeded. */
async function finishStep(
  ctx: {
    logger: Parameters<typeof followRun>[0]['logger'];
    signal?: AbortSignal;
    output(name: string, value: any): void;
  },
  options: RunActionOptions & {
    runId: string;
    credentials: BackstageCredentials;
    timeoutSeconds: number;
    what: string;
  },
): Promise<Run> {
  const { gate, appBaseUrl, runId, credentials, timeoutSeconds, what } =
    options;
  const url = runUrl(appBaseUrl, runId);
  ctx.logger.info(`${what} ${runId}: ${url}`);
  ctx.output('runId', runId);
  ctx.output('runUrl', url);
  const run = await followRun({
    gate,
    runId,
    credentials,
    logger: ctx.logger,
    deadline: Date.now() + timeoutSeconds * 1000,
    signal: ctx.signal,
  });
  ctx.output('status', run.status);
  ctx.output('commitSha', run.commitSha);
  if (run.plan) {
    ctx.output('plan', run.plan);
  }
  if (ctx.signal?.aborted) {
    throw new Error(
      `the task was cancelled while ${what} ${runId} was ${run.status}; follow it at ${url}`,
    );
  }
  if (run.status === 'queued' || run.status === 'running') {
    throw new Error(
      `${what} ${runId} is still ${run.status} after ${timeoutSeconds} s; follow it at ${url}`,
    );
  }
  if (run.status !== 'succeeded') {
    throw new Error(
      `${what} ${runId} ${run.status}${run.error ? `: ${run.error}` : ''}`,
    );
  }
  return run;
}

const timeoutInput = (z: any) =>
  z
    .number()
    .int()
    .min(10)
    .max(MAX_TIMEOUT_SECONDS)
    .optional()
    .describe(
      `How long to wait for the run, in seconds (default ${DEFAULT_TIMEOUT_SECONDS})`,
    );

/** Every output but `status` is absent in a dry run. */
const runOutputs = {
  runId: (z: any) => z.string().optional().describe('The run id'),
  runUrl: (z: any) => z.string().optional().describe('Link to the run page'),
  status: (z: any) =>
    z
      .string()
      .describe(
        'The run status: succeeded, failed, rejected or cancelled (dry-run in a dry run)',
      ),
  commitSha: (z: any) =>
    z.string().optional().describe('The commit planned or applied'),
};

/**
 * `sealed-runner:plan`: requests a plan through the gate as the user running
 * the template, streams its log into the task log, and outputs the result.
 */
export function createPlanAction(options: RunActionOptions) {
  const { gate } = options;
  return createTemplateAction({
    id: 'sealed-runner:plan',
    description:
      'Requests a Terraform plan of one target (entity + environment) through the sealed-runner gate, ' +
      'as the user running the template, waits for it while streaming its log, and outputs the run. ' +
      "Fails the step with the gate's reason when the plan is refused, rejected or fails.",
    supportsDryRun: true,
    examples: [
      {
        description:
          'Plan the dev target of a new service on the branch a previous step pushed',
        example: [
          'steps:',
          '  - id: plan',
          '    action: sealed-runner:plan',
          '    input:',
          '      entityRef: component:default/${{ parameters.name }}',
          '      environment: dev',
          '      ref: ${{ steps.publish.output.branch }}',
          '      timeoutSeconds: 600',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        entityRef: z =>
          z
            .string()
            .min(1)
            .max(255)
            .describe('The deployable entity, e.g. component:default/payments'),
        environment: z =>
          z
            .string()
            .min(1)
            .max(63)
            .describe('The target environment, e.g. dev'),
        ref: z =>
          z
            .string()
            .min(1)
            .max(255)
            .optional()
            .describe(
              "Branch to plan (default: the repository's default branch)",
            ),
        timeoutSeconds: timeoutInput,
        entityWaitSeconds: z =>
          z
            .number()
            .int()
            .min(0)
            .max(600)
            .optional()
            .describe(
              `How long to wait for a just-registered entity to appear in the catalog (default ${DEFAULT_ENTITY_WAIT_SECONDS})`,
            ),
      },
      output: {
        ...runOutputs,
        plan: z =>
          z
            .object({
              add: z.number(),
              change: z.number(),
              destroy: z.number(),
            })
            .optional()
            .describe('The plan summary'),
      },
    },
    async handler(ctx) {
      const { entityRef } = ctx.input;
      const environment = checked(
        checkEnvironmentName(ctx.input.environment),
        'environment',
      );
      const ref =
        ctx.input.ref === undefined
          ? undefined
          : checked(checkBranchName(ctx.input.ref), 'ref');
      const credentials = await ctx.getInitiatorCredentials();

      if (ctx.isDryRun) {
        // A dry run never triggers a run; it checks the target if the entity exists yet.
        const target = await gate
          .listTargets(entityRef, { credentials })
          .then(targets => targets.find(t => t.environment === environment))
          .catch(error => {
            if (
              error instanceof ResponseError &&
              error.response.status === 404
            ) {
              return undefined;
            }
            throw new Error(
              `the gate refused the plan: ${gateErrorReason(error)}`,
            );
          });
        if (target && !target.deployable) {
          throw new Error(
            `${entityRef} is not deployable to ${environment}: ${target.reason}`,
          );
        }
        ctx.logger.info(
          `Dry run: would plan ${entityRef} in ${environment}${
            ref ? ` on ${ref}` : ''
          } as the template's user`,
        );
        ctx.output('status', 'dry-run');
        return;
      }

      // Under scaffolder retries the step resumes with the run it already requested.
      const runId = await ctx.checkpoint({
        key: `sealed-runner-plan-${entityRef}-${environment}-${ref ?? ''}`,
        fn: async () =>
          (
            await refusedAs('plan', () =>
              untilEntityKnown(
                ctx.input.entityWaitSeconds ?? DEFAULT_ENTITY_WAIT_SECONDS,
                () =>
                  gate.requestPlan(
                    { entityRef, environment, ...(ref ? { ref } : {}) },
                    { credentials },
                  ),
                ctx.signal,
              ),
            )
          ).id,
      });
      await finishStep(ctx, {
        ...options,
        runId,
        credentials,
        timeoutSeconds: ctx.input.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        what: 'plan',
      });
    },
  });
}

/**
 * `sealed-runner:apply`: applies exactly the saved plan of a plan run, with
 * the same binding, approvals and permissions as the API (it calls it).
 */
export function createApplyAction(options: RunActionOptions) {
  const { gate } = options;
  return createTemplateAction({
    id: 'sealed-runner:apply',
    description:
      'Applies the saved plan of a plan run through the sealed-runner gate, as the user running the ' +
      'template: the same plan→apply binding, approvals and permissions as the API, never a bypass. ' +
      'Waits for the apply while streaming its log and fails the step unless it succeeds.',
    supportsDryRun: true,
    examples: [
      {
        description:
          'Apply the plan of the previous step (dev needs no approval)',
        example: [
          'steps:',
          '  - id: apply',
          '    action: sealed-runner:apply',
          '    input:',
          '      planRunId: ${{ steps.plan.output.runId }}',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        planRunId: z =>
          z.string().uuid().describe('The id of a succeeded plan run'),
        timeoutSeconds: timeoutInput,
      },
      output: runOutputs,
    },
    async handler(ctx) {
      const { planRunId } = ctx.input;
      const credentials = await ctx.getInitiatorCredentials();
      if (ctx.isDryRun) {
        const plan = await refusedAs('apply', () =>
          gate.getRun(planRunId, { credentials }),
        );
        if (plan.operation !== 'plan' || plan.status !== 'succeeded') {
          throw new InputError(
            `run ${plan.id} is ${
              plan.operation === 'plan' ? `a ${plan.status} plan` : 'not a plan'
            }; only a succeeded plan can be applied`,
          );
        }
        ctx.logger.info(
          `Dry run: would apply plan ${plan.id} (${plan.entityRef}, ${plan.environment})`,
        );
        ctx.output('status', 'dry-run');
        return;
      }
      const runId = await ctx.checkpoint({
        key: `sealed-runner-apply-${planRunId}`,
        fn: async () =>
          (
            await refusedAs('apply', () =>
              gate.apply(planRunId, { credentials }),
            )
          ).id,
      });
      await finishStep(ctx, {
        ...options,
        runId,
        credentials,
        timeoutSeconds: ctx.input.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        what: 'apply',
      });
    },
  });
}
