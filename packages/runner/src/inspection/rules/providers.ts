import {
  BUILTIN_TERRAFORM_PROVIDER,
  Checked,
  normaliseProviderSource,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { moduleCalls, providerBlocks, resourceBlocks } from '../blocks';
import { q, shownList, Step, where } from '../locate';
import { LoadedModule } from '../moduleGraph';
import { providerDeclarations, providerLocalName } from '../providerNames';
import {
  bareExpression,
  labelledBlocks,
  TerraformFile,
} from '../terraformFiles';
import { Finding, InspectionContext, InspectionRule } from '../types';

type Located = Pick<TerraformFile, 'name' | 'shown' | 'text'>;

/**
 * Every provider is a plugin that runs with the runner's credentials: only
 * those on the environment's allowlist (and the built-in terraform
 * provider) may be used — declared in `required_providers`, configured,
 * referenced (`provider =`, a module's `providers` map, `import` blocks),
 * implied by a resource type (`aws_instance` → `hashicorp/aws` unless the
 * module declares `aws` otherwise), or selected by `terraform init`
 * (`.terraform.lock.hcl`, which also covers providers only the state needs).
 */
export function inspectProviders(
  graph: Parameters<InspectionRule>[0],
  { environment, policy }: InspectionContext,
): { findings: Finding[]; used: string[] } {
  const findings: Finding[] = [];
  const used = new Set<string>();
  const check = (
    file: Located,
    steps: Step[],
    construct: string,
    address: Checked<string>,
  ) => {
    if (!address.ok) {
      findings.push({
        rule: 'providers',
        reason: `${where(file, steps)}: ${construct}: ${address.reason}`,
      });
      return;
    }
    if (address.value === BUILTIN_TERRAFORM_PROVIDER) {
      return;
    }
    if (policy.providers.includes(address.value)) {
      used.add(address.value);
      return;
    }
    findings.push({
      rule: 'providers',
      reason: `${where(file, steps)}: ${construct} uses provider ${
        address.value
      }; refused in ${environment} (${
        policy.providers.length > 0
          ? `not in planPolicy.providers: ${shownList(policy.providers)}`
          : 'planPolicy.providers is empty'
      })`,
    });
  };

  const inspectModule = (module: LoadedModule) => {
    const declarations = providerDeclarations(module);
    const declared = new Set(declarations.map(d => d.name));
    for (const { file, name, address } of declarations) {
      check(
        file,
        [
          { block: 'terraform' },
          { block: 'required_providers' },
          { attribute: name },
        ],
        `required_providers ${q(name)}${module.context}`,
        address,
      );
    }
    // An override file (override.tf, *_override.tf) replaces a name's
    // source: a name declared with two sources is refused, whichever wins.
    for (const name of declared) {
      const sources = declarations.filter(d => d.name === name);
      const addresses = [
        ...new Set(
          sources.flatMap(d => (d.address.ok ? [d.address.value] : [])),
        ),
      ].sort();
      if (addresses.length > 1) {
        // Shown where an override file declares it, as Terraform reads it last.
        const shown =
          sources.find(d => /(?:^|_)override\.tf(?:\.json)?$/.test(d.file.name))
            ?.file ?? sources[sources.length - 1].file;
        findings.push({
          rule: 'providers',
          reason: `${where(shown, [
            { block: 'terraform' },
            { block: 'required_providers' },
            { attribute: name },
          ])}: required_providers ${q(name)}${
            module.context
          } is declared with more than one source (${shownList(
            addresses,
          )}); declare each name once`,
        });
      }
    }
    const use = (
      file: TerraformFile,
      steps: Step[],
      construct: string,
      reference: string | undefined,
    ) => {
      if (reference === undefined) {
        findings.push({
          rule: 'providers',
          reason: `${where(file, steps)}: ${construct}${
            module.context
          } does not name a provider configuration literally`,
        });
        return;
      }
      if (declared.has(reference)) {
        return;
      }
      check(
        file,
        steps,
        `${construct}${module.context}`,
        reference === 'terraform'
          ? { ok: true, value: BUILTIN_TERRAFORM_PROVIDER }
          : normaliseProviderSource(reference),
      );
    };
    for (const block of providerBlocks(module)) {
      use(block.file, block.steps, `provider ${q(block.name)}`, block.name);
    }
    for (const block of resourceBlocks(module)) {
      const construct = block.construct.slice(
        0,
        block.construct.length - module.context.length,
      );
      use(
        block.file,
        block.body.provider === undefined
          ? block.steps
          : [...block.steps, { attribute: 'provider' }],
        construct,
        block.body.provider === undefined
          ? block.type.split('_')[0]
          : providerLocalName(block.body.provider),
      );
    }
    for (const file of module.files) {
      for (const { body } of labelledBlocks(file.body.import, 0)) {
        if (body.provider !== undefined) {
          const to = bareExpression(body.to);
          use(
            file,
            [
              { block: 'import' },
              ...(to === undefined ? [] : [{ text: to }]),
              { attribute: 'provider' },
            ],
            'import block',
            providerLocalName(body.provider),
          );
        }
      }
    }
    for (const call of moduleCalls(module)) {
      for (const { body: map } of labelledBlocks(call.body.providers, 0)) {
        for (const [child, reference] of Object.entries(map)) {
          use(
            call.file,
            call.steps,
            `module ${q(call.name)} providers.${q(child).slice(1, -1)}`,
            providerLocalName(reference),
          );
        }
      }
    }
  };
  graph.modules.forEach(inspectModule);

  if (graph.lockFile) {
    for (const {
      labels: [address],
    } of labelledBlocks(graph.lockFile.body.provider, 1)) {
      check(
        graph.lockFile,
        [{ block: 'provider', labels: [address] }],
        `provider ${q(address)} (selected by terraform init)`,
        normaliseProviderSource(address),
      );
    }
  }
  return { findings, used: [...used].sort() };
}

export const providersRule: InspectionRule = (graph, context) =>
  inspectProviders(graph, context).findings;
