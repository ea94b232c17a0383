import type { Config } from '@backstage/config';
import type { SealedRunnerAnnotationRules } from './checkAnnotations';

/**
 * Reads what the annotation check needs from `sealedRunner`: the
 * environment names and the repository allowlist. The gate validates the
 * whole section at its own startup; this reads only those two keys, so the
 * catalog does not depend on the gate's schema.
 *
 * Without a `sealedRunner` section (the catalog runs on a backend without
 * the gate), both rules are unset and only the syntax is checked. A key of
 * the wrong type fails startup with the config reader's message naming it.
 */
export function readAnnotationRules(
  config: Config,
): SealedRunnerAnnotationRules {
  const sealedRunner = config.getOptionalConfig('sealedRunner');
  if (!sealedRunner) {
    return {};
  }
  const environments = sealedRunner.getOptionalConfig('environments')?.keys();
  const repositories = sealedRunner.getOptionalStringArray('repositories');
  return {
    ...(environments ? { environments } : {}),
    ...(repositories ? { repositories } : {}),
  };
}
