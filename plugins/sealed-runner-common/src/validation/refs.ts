import { accept, Checked, checkPlainString, quote, refuse } from './checked';

/** @public */
export const MAX_REF_LENGTH = 200;

const REF_CHARACTERS = /^[A-Za-z0-9._/+-]+$/;

/**
 * Checks a short branch or tag name. Stricter than `git check-ref-format`:
 * besides git's own rules it refuses names that could be read as an option
 * (`-…`), full ref names (`refs/…`), `HEAD`, and any character outside
 * `[A-Za-z0-9._/+-]`.
 *
 * @public
 */
export function checkRefName(
  value: unknown,
  what: string = 'branch',
): Checked<string> {
  const plain = checkPlainString(what, value, MAX_REF_LENGTH);
  if (!plain.ok) {
    return plain;
  }
  const ref = plain.value;
  const bad = (why: string) => refuse<string>(`${what} ${quote(ref)} ${why}`);
  if (!REF_CHARACTERS.test(ref)) {
    return bad("may only contain letters, digits and '.', '_', '/', '+', '-'");
  }
  // '-' would read as an option, '+' as a forced refspec.
  if (ref.startsWith('-') || ref.startsWith('+')) {
    return bad("must not start with '-' or '+'");
  }
  if (ref.startsWith('/') || ref.endsWith('/')) {
    return bad("must not start or end with '/'");
  }
  if (ref.includes('..')) {
    return bad("must not contain '..'");
  }
  if (ref.includes('//')) {
    return bad("must not contain '//'");
  }
  if (ref.endsWith('.')) {
    return bad("must not end with '.'");
  }
  if (ref === 'HEAD' || ref.startsWith('refs/')) {
    return bad('must be a short branch or tag name');
  }
  for (const component of ref.split('/')) {
    if (component.startsWith('.') || component.endsWith('.lock')) {
      return bad("has a component starting with '.' or ending with '.lock'");
    }
  }
  return accept(ref);
}

/** Checks a branch name. @public */
export function checkBranchName(value: unknown): Checked<string> {
  return checkRefName(value, 'branch');
}

/** Checks a tag name (module versions). @public */
export function checkTagName(value: unknown): Checked<string> {
  return checkRefName(value, 'tag');
}

const COMMIT_SHA = /^[0-9a-f]{40}$/;

/**
 * Checks a full, lowercase 40-hex commit id. Abbreviations are refused: a
 * run binds to exactly one commit.
 *
 * @public
 */
export function checkCommitSha(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !COMMIT_SHA.test(value)) {
    return refuse(
      `commit ${
        typeof value === 'string' ? quote(value) : 'value'
      } must be a full 40-character lowercase hex sha`,
    );
  }
  return accept(value);
}

const ENVIRONMENT = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/**
 * Checks an environment name: lowercase letters, digits and '-', at most 32
 * characters.
 *
 * @public
 */
export function checkEnvironmentName(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !ENVIRONMENT.test(value)) {
    return refuse(
      `environment ${
        typeof value === 'string' ? quote(value) : 'value'
      } must be 1-32 lowercase letters, digits or '-' (not at either end)`,
    );
  }
  return accept(value);
}

/**
 * Whether an environment's apply branches admit a branch. `*` admits any.
 *
 * @public
 */
export function isApplyBranch(
  applyBranches: readonly string[],
  branch: string,
): boolean {
  return applyBranches.includes('*') || applyBranches.includes(branch);
}
