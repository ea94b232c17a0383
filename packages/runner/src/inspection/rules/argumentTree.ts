import { ArgumentTree } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { isObject } from '../terraformFiles';

/** One key of a configuration block that its allowlist does not name. */
export interface ArgumentViolation {
  /** Dotted path of the key: `assume_role_with_web_identity`, `exec.command`. */
  path: string;
  /** Why: not on the list, or a block written as an expression whose keys cannot be read. */
  problem: 'not-allowed' | 'not-literal' | 'dynamic';
}

/**
 * Checks every key of a configuration body against an allowlist tree.
 * hcl2json gives a nested block as an array of bodies and an object
 * attribute as an object; both are checked the same way. A key whose tree
 * is nested must be written out (an expression such as `var.role` could
 * hold any key).
 */
export function checkArgumentTree(
  body: unknown,
  tree: ArgumentTree,
  prefix = '',
): ArgumentViolation[] {
  const violations: ArgumentViolation[] = [];
  const bodies = Array.isArray(body) ? body : [body];
  for (const item of bodies) {
    if (!isObject(item)) {
      violations.push({ path: prefix || '(body)', problem: 'not-literal' });
      continue;
    }
    for (const [key, value] of Object.entries(item)) {
      if (key === '//') {
        continue;
      }
      const path = prefix ? `${prefix}.${key}` : key;
      const allowed = Object.prototype.hasOwnProperty.call(tree, key)
        ? tree[key]
        : undefined;
      if (allowed === undefined) {
        violations.push({
          path,
          problem: key === 'dynamic' ? 'dynamic' : 'not-allowed',
        });
      } else if (allowed !== true) {
        violations.push(...checkArgumentTree(value, allowed, path));
      }
    }
  }
  return violations;
}

/** The allowed keys of a tree, for a reason: `bucket, key, assume_role.role_arn, …`. */
export function describeTree(tree: ArgumentTree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return value === true ? [path] : describeTree(value, path);
  });
}
