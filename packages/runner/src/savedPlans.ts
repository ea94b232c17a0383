import { createHash } from 'node:crypto';
import { SealedRunnerJob } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';
import { artifactStore } from './artifacts';
import { RunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { Rejection } from './rejection';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A plan file over this is not one Terraform wrote for a single folder. */
const MAX_PLAN_BYTES = 1024 * 1024 * 1024;

/** Where the plan file of a plan run is kept, in the runner's artifact store. */
export function planKey(environment: string, planRunId: string): string {
  return `plans/${environment}/${planRunId}.tfplan`;
}

/**
 * What a saved plan was made for. A plan file carries its own
 * configuration and backend, so applying it under another job would deploy
 * another branch's code or to another target: the runner binds every saved
 * plan to exactly the job that made it.
 */
const planBindingSchema = z.strictObject({
  planRunId: z.string(),
  repository: z.string(),
  environment: z.string(),
  path: z.string(),
  ref: z.string(),
  commitSha: z.string(),
  sha256: z.string(),
});

type PlanBinding = z.infer<typeof planBindingSchema>;

const BOUND_FIELDS = [
  'repository',
  'environment',
  'path',
  'ref',
  'commitSha',
] as const;

/**
 * Saves the plan file Terraform wrote, and its binding, once: both are
 * created exclusively, so nothing — not another run, not code that ran in
 * this one — can replace them. Written by the runner alone, after every
 * process of the plan is gone. Returns the plan's sha256.
 */
export async function savePlan(
  config: RunnerConfig,
  job: SealedRunnerJob,
  bytes: Buffer,
): Promise<string> {
  const store = artifactStore(config);
  const binding: PlanBinding = {
    planRunId: job.runId,
    repository: job.repository,
    environment: job.environment,
    path: job.path,
    ref: job.ref,
    commitSha: job.commitSha,
    sha256: sha256(bytes),
  };
  const key = planKey(job.environment, job.runId);
  if (
    !(await store.create(`${key}.json`, JSON.stringify(binding))) ||
    !(await store.create(key, bytes))
  ) {
    throw new Error(
      `a saved plan of run ${job.runId} already exists; it is never replaced`,
    );
  }
  return binding.sha256;
}

/**
 * Reads the saved plan an apply job names, refusing it unless its bytes
 * match the recorded sha256 and it was made for exactly this job's
 * repository, environment, folder, branch and commit.
 */
export async function readBoundPlan(
  config: RunnerConfig,
  job: SealedRunnerJob,
): Promise<Buffer> {
  const { runId, sha256: expected } = job.plan!;
  const store = artifactStore(config);
  // An apply applies a plan of its own environment: the key says so, and
  // on ECS only that environment's identities can reach it.
  const key = planKey(job.environment, runId);
  const bytes = await store.read(key, MAX_PLAN_BYTES);
  const rawBinding = await store.read(`${key}.json`, 64 * 1024);
  if (!bytes || rawBinding === undefined) {
    throw new Rejection(`the saved plan of run ${runId} does not exist`);
  }
  if (sha256(bytes) !== expected) {
    throw new Rejection(
      `the saved plan of run ${runId} does not match its recorded sha256`,
    );
  }
  let binding: PlanBinding;
  try {
    binding = planBindingSchema.parse(JSON.parse(rawBinding.toString('utf8')));
  } catch {
    throw new Rejection(
      `the saved plan of run ${runId} has an unreadable binding`,
    );
  }
  if (binding.sha256 !== expected || binding.planRunId !== runId) {
    throw new Rejection(
      `the saved plan of run ${runId} does not match its binding`,
    );
  }
  const mismatch = BOUND_FIELDS.filter(field => binding[field] !== job[field]);
  if (mismatch.length > 0) {
    throw new Rejection(
      `the saved plan of run ${runId} was made for another ${mismatch.join(
        ', ',
      )} (${mismatch
        .map(field => `${binding[field]} ≠ ${job[field]}`)
        .join('; ')})`,
    );
  }
  return bytes;
}
