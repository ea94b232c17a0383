import { ResponseError } from '@backstage/errors';

/**
 * The gate's reason for refusing a request — its error body's message, not
 * `ResponseError`'s "Request failed with 409 Conflict" — or the error's own
 * message for anything else. Used wherever a refusal is shown to a person
 * (the UI, scaffolder steps).
 *
 * @public
 */
export function gateErrorReason(error: unknown): string {
  if (error instanceof ResponseError) {
    return error.body?.error?.message ?? error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
