import type { Config } from '@backstage/config';
import {
  readSealedRunnerPart,
  sealedRunnerConfigSchema,
  shapeOf,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { z } from 'zod';
import type { SealedRunnerAnnotationRules } from './checkAnnotations';

/**
 * What the annotation check reads of `sealedRunner`: the environment names
 * and the repository allowlist, shaped by the gate's own schema (the gate
 * refuses wrong values at its startup).
 */
const annotationRulesPart = z.object({
  repositories: shapeOf(sealedRunnerConfigSchema.shape.repositories).optional(),
  environments: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Reads what the annotation check needs from `sealedRunner`. Without a
 * `sealedRunner` section (the catalog runs on a backend without the gate),
 * both rules are unset and only the syntax is checked. A wrong value fails
 * startup with a message naming its key.
 */
export function readAnnotationRules(
  config: Config,
): SealedRunnerAnnotationRules {
  const part = readSealedRunnerPart(config, annotationRulesPart);
  return {
    ...(part?.environments
      ? { environments: Object.keys(part.environments) }
      : {}),
    ...(part?.repositories
      ? { repositories: part.repositories as string[] }
      : {}),
  };
}
