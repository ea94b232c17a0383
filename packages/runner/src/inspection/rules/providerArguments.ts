import {
  argumentTree,
  mergeArgumentTrees,
  PROVIDER_ARGUMENTS,
  PROVIDER_META_ARGUMENTS,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { providerBlocks } from '../blocks';
import { q, where } from '../locate';
import { providerAddressOf } from '../providerNames';
import { Finding, InspectionRule } from '../types';
import { checkArgumentTree } from './argumentTree';

/**
 * A provider's configuration decides where its credentials come from: the
 * AWS provider's `shared_config_files` (with a `credential_process`),
 * `profile` or web-identity token file, kubernetes' `exec` and
 * `config_path`, a custom endpoint. Every argument of a `provider` block
 * must be on that provider's allowlist (`PROVIDER_ARGUMENTS`, plus the
 * environment's `planPolicy.providerArguments`); a provider with no list
 * may set only `alias` and `version`.
 */
export const providerArgumentsRule: InspectionRule = (
  graph,
  { environment, policy },
) => {
  const findings: Finding[] = [];
  for (const module of graph.modules) {
    for (const block of providerBlocks(module)) {
      const address = providerAddressOf(module, block.name);
      if (address === undefined) {
        continue; // an invalid provider address is the provider rule's finding
      }
      const tree = mergeArgumentTrees(
        argumentTree(PROVIDER_META_ARGUMENTS),
        PROVIDER_ARGUMENTS[address] ?? argumentTree([]),
        argumentTree(
          policy.providerArguments
            .filter(p => p.provider === address)
            .flatMap(p => p.arguments),
        ),
      );
      for (const violation of checkArgumentTree(block.body, tree)) {
        const argument = violation.path.split('.')[0];
        const at = where(block.file, [...block.steps, { attribute: argument }]);
        const construct = `provider ${q(block.name)}${module.context}`;
        const problems = {
          dynamic: 'a dynamic block cannot be inspected; write its blocks out',
          'not-literal': `${q(
            violation.path,
          )} must be written out literally, so its arguments can be checked`,
          'not-allowed': `argument ${q(
            violation.path,
          )} is not allowed for ${address} in ${environment} (not on the provider's argument allowlist; planPolicy.providerArguments can add one)`,
        };
        findings.push({
          rule: 'provider-arguments',
          reason: `${at}: ${construct}: ${problems[violation.problem]}`,
        });
      }
    }
  }
  return findings;
};
