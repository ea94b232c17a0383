import {
  BUILTIN_TERRAFORM_PROVIDER,
  Checked,
  normaliseProviderSource,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { LoadedModule } from './moduleGraph';
import {
  bareExpression,
  isObject,
  labelledBlocks,
  TerraformFile,
} from './terraformFiles';

/** One `required_providers` entry of a module. */
export interface ProviderDeclaration {
  file: TerraformFile;
  name: string;
  address: Checked<string>;
}

/**
 * The `required_providers` entries of a module (override files included:
 * every declaration is listed, so each can be checked).
 */
export function providerDeclarations(
  module: LoadedModule,
): ProviderDeclaration[] {
  const declarations: ProviderDeclaration[] = [];
  for (const file of module.files) {
    for (const { body: terraform } of labelledBlocks(file.body.terraform, 0)) {
      for (const { body: required } of labelledBlocks(
        terraform.required_providers,
        0,
      )) {
        for (const [name, value] of Object.entries(required)) {
          if (name === '//') {
            continue;
          }
          const source = isObject(value) ? value.source : undefined;
          declarations.push({
            file,
            name,
            address:
              source === undefined && name === 'terraform'
                ? { ok: true, value: BUILTIN_TERRAFORM_PROVIDER }
                : normaliseProviderSource(source ?? name),
          });
        }
      }
    }
  }
  return declarations;
}

/**
 * Resolves a provider local name as Terraform does in one module: a name
 * declared in `required_providers` means its declared source; `terraform`
 * the built-in provider; any other name `hashicorp/<name>`. Undefined for a
 * declared name whose source is invalid (the provider rule reports that).
 */
export function providerAddressOf(
  module: LoadedModule,
  localName: string,
): string | undefined {
  const declared = providerDeclarations(module).filter(
    d => d.name === localName,
  );
  if (declared.length > 0) {
    const addresses = new Set(
      declared.map(d => (d.address.ok ? d.address.value : undefined)),
    );
    return addresses.size === 1 ? [...addresses][0] : undefined;
  }
  if (localName === 'terraform') {
    return BUILTIN_TERRAFORM_PROVIDER;
  }
  const address = normaliseProviderSource(localName);
  return address.ok ? address.value : undefined;
}

/** `aws.west`, as hcl2json (`${aws.west}`) or Terraform JSON (`aws.west`) give it: `aws`. */
export function providerLocalName(reference: unknown): string | undefined {
  const bare = bareExpression(reference);
  return bare === undefined
    ? undefined
    : /^([A-Za-z][A-Za-z0-9_-]*)(?:\.[A-Za-z][A-Za-z0-9_-]*)?$/.exec(
        bare.trim(),
      )?.[1];
}
