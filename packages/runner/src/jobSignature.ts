import { KeyObject, verify } from 'node:crypto';
import {
  checkEnvironmentName,
  MAX_JOB_BYTES,
  signedJobDocumentSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { z } from 'zod';

/** A job issued this far in the future is refused (clock skew allowance). */
const MAX_CLOCK_SKEW_MS = 60_000;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type VerifiedJob =
  | { ok: true; payload: string }
  | { ok: false; reason: string };

/**
 * Accepts a signed job document only if the gate's key signed exactly these
 * bytes, the job is not expired or from the future, and no job of this run
 * was accepted before (single use: the marker is created exclusively, so a
 * replay fails even when two copies race). Runs before any git or Terraform
 * command; the payload is then validated in full by the job schema.
 */
export async function verifyJobDocument(
  document: string,
  options: {
    publicKey: KeyObject;
    lifetimeSeconds: number;
    /** Whether this runner serves the environment a job names. */
    serves(environment: string): boolean;
    /**
     * Records that the job of this run was accepted: false if it already
     * was. Exclusive creation, so a replay fails even when two copies race.
     */
    markSeen(job: { runId: string; environment: string }): Promise<boolean>;
    now?: number;
  },
): Promise<VerifiedJob> {
  let envelope: z.infer<typeof signedJobDocumentSchema>;
  try {
    const parsed = signedJobDocumentSchema.safeParse(JSON.parse(document));
    if (!parsed.success) {
      return { ok: false, reason: 'the job is not a signed job document' };
    }
    envelope = parsed.data;
  } catch {
    return { ok: false, reason: 'the job is not a signed job document' };
  }
  if (Buffer.byteLength(envelope.payload) > MAX_JOB_BYTES) {
    return {
      ok: false,
      reason: `job document is larger than ${MAX_JOB_BYTES} bytes`,
    };
  }
  const signature = Buffer.from(envelope.signature, 'base64');
  if (
    !verify(
      null,
      jobSigningMessage(envelope.payload),
      options.publicKey,
      signature,
    )
  ) {
    return {
      ok: false,
      reason: "the job signature does not verify with the runner's job key",
    };
  }

  // Signed by the gate: read just enough to check freshness and single use.
  // A payload that is not a well-formed job is left to the job schema,
  // which refuses it before anything runs.
  let header:
    | { runId?: unknown; issuedAt?: unknown; environment?: unknown }
    | undefined;
  try {
    header = JSON.parse(envelope.payload);
  } catch {
    header = undefined;
  }
  const issuedAt =
    typeof header?.issuedAt === 'string' ? Date.parse(header.issuedAt) : NaN;
  const now = options.now ?? Date.now();
  if (issuedAt > now + MAX_CLOCK_SKEW_MS) {
    return { ok: false, reason: 'the job was issued in the future' };
  }
  if (now - issuedAt > options.lifetimeSeconds * 1000) {
    return {
      ok: false,
      reason: `the job expired (issued ${new Date(
        issuedAt,
      ).toISOString()}, lifetime ${options.lifetimeSeconds} s)`,
    };
  }
  // Single use is keyed by the run id, so it must have exactly one
  // spelling: an upper-case copy of an id would be another marker. (A
  // payload without a string run id is refused by the job schema.)
  if (
    typeof header?.runId === 'string' &&
    typeof header.environment === 'string'
  ) {
    if (!RUN_ID.test(header.runId)) {
      return {
        ok: false,
        reason: "the job's runId is not in canonical form (a lower-case UUID)",
      };
    }
    // Markers are per environment; an environment this runner does not
    // serve is refused before one is written.
    const environment = checkEnvironmentName(header.environment);
    if (!environment.ok || !options.serves(environment.value)) {
      return {
        ok: false,
        reason: `environment ${JSON.stringify(
          header.environment.slice(0, 64),
        )} is not configured in the runner`,
      };
    }
    if (
      !(await options.markSeen({
        runId: header.runId,
        environment: environment.value,
      }))
    ) {
      return {
        ok: false,
        reason: `the job of run ${header.runId} was already run (a replay)`,
      };
    }
  }
  return { ok: true, payload: envelope.payload };
}
