import { LoadedModule } from './moduleGraph';
import { q, Step } from './locate';
import { labelledBlocks, TerraformFile } from './terraformFiles';

/** A `resource`, `data` or `ephemeral` block, wherever Terraform reads one. */
export interface ResourceBlock {
  file: TerraformFile;
  kind: 'resource' | 'data' | 'ephemeral';
  type: string;
  name: string;
  body: Record<string, unknown>;
  /** Where it is, for a line number. */
  steps: Step[];
  /** How reasons name it: `data "external" "x" in check "c" in module.payments`. */
  construct: string;
}

/**
 * Every resource-like block of a module: top-level `resource`, `data` and
 * `ephemeral` blocks, and the data sources scoped to `check` blocks (read
 * at plan time too).
 */
export function resourceBlocks(module: LoadedModule): ResourceBlock[] {
  const blocks: ResourceBlock[] = [];
  const collect = (
    file: TerraformFile,
    kind: ResourceBlock['kind'],
    value: unknown,
    outer: Step[],
    outerName: string,
  ) => {
    for (const {
      labels: [type, name],
      body,
    } of labelledBlocks(value, 2)) {
      blocks.push({
        file,
        kind,
        type,
        name,
        body,
        steps: [...outer, { block: kind, labels: [type, name] }],
        construct: `${kind} ${q(type)} ${q(name)}${outerName}${module.context}`,
      });
    }
  };
  for (const file of module.files) {
    for (const kind of ['resource', 'data', 'ephemeral'] as const) {
      collect(file, kind, file.body[kind], [], '');
    }
    for (const {
      labels: [name],
      body: check,
    } of labelledBlocks(file.body.check, 1)) {
      collect(
        file,
        'data',
        check.data,
        [{ block: 'check', labels: [name] }],
        ` in check ${q(name)}`,
      );
    }
  }
  return blocks;
}

/** A `module` block of a module. */
export interface ModuleCall {
  file: TerraformFile;
  name: string;
  body: Record<string, unknown>;
  steps: Step[];
  construct: string;
}

export function moduleCalls(module: LoadedModule): ModuleCall[] {
  return module.files.flatMap(file =>
    labelledBlocks(file.body.module, 1).map(({ labels: [name], body }) => ({
      file,
      name,
      body,
      steps: [{ block: 'module', labels: [name] }],
      construct: `module ${q(name)}${module.context}`,
    })),
  );
}

/** A `provider` configuration block of a module. */
export interface ProviderBlock {
  file: TerraformFile;
  name: string;
  body: Record<string, unknown>;
  steps: Step[];
}

export function providerBlocks(module: LoadedModule): ProviderBlock[] {
  return module.files.flatMap(file =>
    labelledBlocks(file.body.provider, 1).map(({ labels: [name], body }) => ({
      file,
      name,
      body,
      steps: [{ block: 'provider', labels: [name] }],
    })),
  );
}
