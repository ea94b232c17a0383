import { q, where } from '../locate';
import { labelledBlocks } from '../terraformFiles';
import { Finding, InspectionRule } from '../types';

/**
 * The top-level blocks of Terraform's language that the other rules judge.
 * A block type added by a newer Terraform (an `action`, say) is refused
 * until a rule knows what it can reach: default deny, not a list of the
 * dangerous ones.
 */
export const TOP_LEVEL_BLOCKS: readonly string[] = [
  'terraform',
  'provider',
  'variable',
  'locals',
  'output',
  'module',
  'resource',
  'data',
  'ephemeral',
  'check',
  'import',
  'moved',
  'removed',
];

/** The settings of a `terraform` block the other rules judge (`experiments` is not one). */
export const TERRAFORM_SETTINGS: readonly string[] = [
  'required_version',
  'required_providers',
  'backend',
  'cloud',
  'provider_meta',
];

/** Every top-level block, and every setting of a `terraform` block, must be one the inspection knows. */
export const blockTypesRule: InspectionRule = graph => {
  const findings: Finding[] = [];
  for (const module of graph.modules) {
    for (const file of module.files) {
      // A "//" property is a comment at the top of a JSON file.
      const types = Object.keys(file.body).filter(key => key !== '//');
      for (const type of types.filter(t => !TOP_LEVEL_BLOCKS.includes(t))) {
        findings.push({
          rule: 'block-types',
          reason: `${where(file, [{ block: type, anyLabels: true }])}${
            module.context
          }: block type ${q(
            type,
          )} is not one the runner inspects (only ${TOP_LEVEL_BLOCKS.join(
            ', ',
          )})`,
        });
      }
      for (const { body } of labelledBlocks(file.body.terraform, 0)) {
        const settings = Object.keys(body).filter(key => key !== '//');
        for (const setting of settings.filter(
          s => !TERRAFORM_SETTINGS.includes(s),
        )) {
          findings.push({
            rule: 'block-types',
            reason: `${where(file, [
              { block: 'terraform' },
              { attribute: setting },
            ])}${module.context}: terraform setting ${q(
              setting,
            )} is not one the runner inspects (only ${TERRAFORM_SETTINGS.join(
              ', ',
            )})`,
          });
        }
      }
    }
  }
  return findings;
};
