import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import {
  BUILTIN_TERRAFORM_PROVIDER,
  CatalogModule,
  checkVettedModuleSource,
  isLocalModuleSource,
  normaliseProviderSource,
  PlanPolicy,
  resolveLocalModulePath,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { z } from 'zod';
import {
  isObject,
  labelledBlocks,
  MAX_FILE_BYTES,
  MAX_FOLDERS,
  parseStrictJson,
  parseTerraformFile,
  readTerraformFiles,
  TerraformFile,
} from './terraformFiles';

/** @public */
export interface PlanPolicyCheckOptions {
  checkoutDir: string;
  /** The target folder, relative to the checkout. */
  folder: string;
  /** Named in reasons: "refused in prod". */
  environment: string;
  /** What code may run; the backend types are checked separately, before init. */
  policy: Pick<PlanPolicy, 'allowCodeExecution' | 'providers'>;
  /** The job's catalog snapshot: module calls inside downloaded modules must be vetted too. */
  modules: readonly CatalogModule[];
  /**
   * Terraform's data directory after `terraform init`. Given, the check also
   * reads every module Terraform will load (`modules/modules.json`) and the
   * providers init selected (`.terraform.lock.hcl`, which also covers
   * providers only the state needs). Without it, the check covers the
   * target folder and the local modules it calls, as before init.
   */
  terraformDataDir?: string;
}

/** @public */
export type PlanPolicyCheck =
  | {
      ok: true;
      /** Module folders inspected. */
      folders: number;
      /** Providers the code uses besides the built-in one, sorted. */
      providers: string[];
    }
  | {
      ok: false;
      /** The first finding, and how many more there are. */
      reason: string;
      findings: string[];
    };

const MAX_FINDINGS = 100;
const MAX_MODULES_JSON_BYTES = 4 * 1024 * 1024;

/** What `terraform init` writes to `<TF_DATA_DIR>/modules/modules.json`. */
const modulesJsonSchema = z.object({
  Modules: z
    .array(
      z.object({ Key: z.string(), Source: z.string(), Dir: z.string().min(1) }),
    )
    .max(MAX_FOLDERS * 10),
});

const PROVISIONERS: Record<string, string> = {
  'local-exec': 'runs a command on the runner',
  'remote-exec':
    'runs commands on another host over a connection the runner opens',
  file: 'copies files from the runner to another host',
};

/**
 * Where a construct is, as steps from the top of a file: a block header
 * (type and labels) or an attribute name. Used only to put a line number in
 * a reason — the decision is always made on the parsed file.
 */
type Step = { block: string; labels?: string[] } | { attribute: string };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function stepPatterns(step: Step, json: boolean): RegExp[] {
  const key = (name: string) =>
    new RegExp(`${escapeRegExp(JSON.stringify(name))}\\s*:`, 'g');
  if ('attribute' in step) {
    return [
      json
        ? key(step.attribute)
        : new RegExp(`^[ \\t]*${escapeRegExp(step.attribute)}[ \\t]*=`, 'gm'),
    ];
  }
  const labels = step.labels ?? [];
  if (json) {
    return [step.block, ...labels].map(key);
  }
  // An HCL block header is always on one line; labels may be quoted or bare.
  const labelPattern = labels
    .map(
      l => `[ \\t]+(?:${escapeRegExp(JSON.stringify(l))}|${escapeRegExp(l)})`,
    )
    .join('');
  return [
    new RegExp(
      `^[ \\t]*${escapeRegExp(step.block)}${labelPattern}[ \\t]*\\{`,
      'gm',
    ),
  ];
}

/** The line of the last step found in order, or undefined if none is. */
function lineOf(
  file: { name: string; text: string },
  steps: Step[],
): number | undefined {
  const json = file.name.endsWith('.json');
  let offset = 0;
  let line: number | undefined;
  for (const pattern of steps.flatMap(step => stepPatterns(step, json))) {
    pattern.lastIndex = offset;
    const match = pattern.exec(file.text);
    if (!match) {
      break;
    }
    const start = match.index + (match[0].length - match[0].trimStart().length);
    line = file.text.slice(0, start).split('\n').length;
    offset = match.index + match[0].length;
  }
  return line;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

/** `aws.west`, as hcl2json (`${aws.west}`) or Terraform JSON (`aws.west`) give it. */
function providerLocalName(reference: unknown): string | undefined {
  if (typeof reference !== 'string') {
    return undefined;
  }
  const bare = /^\$\{([^}]*)\}$/.exec(reference)?.[1] ?? reference;
  return /^([A-Za-z][A-Za-z0-9_-]*)(?:\.[A-Za-z][A-Za-z0-9_-]*)?$/.exec(
    bare.trim(),
  )?.[1];
}

/**
 * A label from the code, quoted as reasons show it: bounded, and with
 * anything but printable ASCII escaped, so a hostile label cannot reorder
 * or forge the text around it.
 */
function q(label: string, max = 100): string {
  const bounded = label.length > max ? `${label.slice(0, max)}…` : label;
  return JSON.stringify(bounded).replace(
    /[^\x20-\x7e]/g,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function shownList(items: readonly string[]): string {
  return items.length > 5
    ? `${items.slice(0, 5).join(', ')}, …`
    : items.join(', ');
}

/** One module folder Terraform will load. */
interface ModuleFolder {
  files: TerraformFile[];
  /** For downloaded modules: ` in module.<key>`. */
  context: string;
}

/** A file as reasons name it, with the text its line numbers come from. */
type Located = Pick<TerraformFile, 'name' | 'shown' | 'text'>;

class Inspection {
  readonly codeFindings: string[] = [];
  readonly moduleFindings: string[] = [];
  readonly providerFindings: string[] = [];
  readonly providers = new Set<string>();

  constructor(private readonly options: PlanPolicyCheckOptions) {}

  private where(file: Located, steps: Step[]) {
    const line = lineOf(file, steps);
    return line === undefined ? file.shown : `${file.shown}:${line}`;
  }

  private add(list: string[], finding: string) {
    if (list.length < MAX_FINDINGS) {
      list.push(finding);
    }
  }

  codeExecution(
    file: TerraformFile,
    steps: Step[],
    construct: string,
    what: string,
  ) {
    if (this.options.policy.allowCodeExecution) {
      return;
    }
    this.add(
      this.codeFindings,
      `${this.where(file, steps)}: ${construct} ${what}; refused in ${
        this.options.environment
      } (planPolicy.allowCodeExecution is false)`,
    );
  }

  /** Checks one normalised (or refused) provider address against the allowlist. */
  provider(
    file: Located,
    steps: Step[],
    construct: string,
    address: ReturnType<typeof normaliseProviderSource>,
  ) {
    if (!address.ok) {
      this.add(
        this.providerFindings,
        `${this.where(file, steps)}: ${construct}: ${address.reason}`,
      );
      return;
    }
    if (address.value === BUILTIN_TERRAFORM_PROVIDER) {
      return;
    }
    const { providers } = this.options.policy;
    if (providers.includes(address.value)) {
      this.providers.add(address.value);
      return;
    }
    this.add(
      this.providerFindings,
      `${this.where(file, steps)}: ${construct} uses provider ${
        address.value
      }; refused in ${this.options.environment} (${
        providers.length > 0
          ? `not in planPolicy.providers: ${shownList(providers)}`
          : 'planPolicy.providers is empty'
      })`,
    );
  }

  moduleSource(
    file: TerraformFile,
    steps: Step[],
    construct: string,
    source: unknown,
  ) {
    const vetted = checkVettedModuleSource(source, this.options.modules);
    if (!vetted.ok) {
      this.add(
        this.moduleFindings,
        `${this.where(file, steps)}: ${construct}: ${vetted.reason}`,
      );
    }
  }

  /**
   * Inspects one module folder. Provider local names are per module: a
   * name declared in `required_providers` means its declared source (every
   * declaration is checked, override files included); any other name means
   * `hashicorp/<name>`, and `terraform` the built-in provider.
   */
  folder({ files, context }: ModuleFolder): Array<{ source: string }> {
    const declared = new Set<string>();
    for (const file of files) {
      for (const { body: terraform } of labelledBlocks(
        file.body.terraform,
        0,
      )) {
        for (const { body: required } of labelledBlocks(
          terraform.required_providers,
          0,
        )) {
          for (const [name, value] of Object.entries(required)) {
            if (name === '//') {
              continue;
            }
            declared.add(name);
            const source = isObject(value) ? value.source : undefined;
            this.provider(
              file,
              [
                { block: 'terraform' },
                { block: 'required_providers' },
                { attribute: name },
              ],
              `required_providers ${q(name)}${context}`,
              source === undefined && name === 'terraform'
                ? { ok: true, value: BUILTIN_TERRAFORM_PROVIDER }
                : normaliseProviderSource(source ?? name),
            );
          }
        }
      }
    }
    const use = (
      file: TerraformFile,
      steps: Step[],
      construct: string,
      reference: string | undefined,
    ) => {
      if (reference === undefined) {
        this.add(
          this.providerFindings,
          `${this.where(
            file,
            steps,
          )}: ${construct}${context} does not name a provider configuration literally`,
        );
        return;
      }
      if (declared.has(reference)) {
        return;
      }
      this.provider(
        file,
        steps,
        `${construct}${context}`,
        reference === 'terraform'
          ? { ok: true, value: BUILTIN_TERRAFORM_PROVIDER }
          : normaliseProviderSource(reference),
      );
    };
    const provisioners = (
      file: TerraformFile,
      steps: Step[],
      construct: string,
      value: unknown,
    ) => {
      for (const {
        labels: [kind],
      } of labelledBlocks(value, 1)) {
        this.codeExecution(
          file,
          [...steps, { block: 'provisioner', labels: [kind] }],
          `provisioner ${q(kind)} in ${construct}${context}`,
          `${
            PROVISIONERS[kind] ?? 'is a provisioner, which runs'
          } at apply time`,
        );
      }
    };
    const resourceLike = (
      file: TerraformFile,
      kind: string,
      value: unknown,
      outer: Step[],
      outerName: string,
    ) => {
      for (const {
        labels: [type, name],
        body,
      } of labelledBlocks(value, 2)) {
        const steps: Step[] = [...outer, { block: kind, labels: [type, name] }];
        const construct = `${kind} ${q(type)} ${q(name)}${outerName}`;
        use(
          file,
          body.provider === undefined
            ? steps
            : [...steps, { attribute: 'provider' }],
          construct,
          body.provider === undefined
            ? type.split('_')[0]
            : providerLocalName(body.provider),
        );
        if (kind === 'data' && type === 'external') {
          this.codeExecution(
            file,
            steps,
            `${construct}${context}`,
            'runs a program at plan time',
          );
        }
        if (kind === 'resource') {
          provisioners(file, steps, construct, body.provisioner);
        }
      }
    };

    const calls: Array<{ source: string }> = [];
    for (const file of files) {
      const { body } = file;
      for (const {
        labels: [name],
      } of labelledBlocks(body.provider, 1)) {
        use(
          file,
          [{ block: 'provider', labels: [name] }],
          `provider ${q(name)}`,
          name,
        );
      }
      for (const kind of ['resource', 'data', 'ephemeral']) {
        resourceLike(file, kind, body[kind], [], '');
      }
      // Data sources scoped to a check block are read at plan time too.
      for (const {
        labels: [name],
        body: check,
      } of labelledBlocks(body.check, 1)) {
        resourceLike(
          file,
          'data',
          check.data,
          [{ block: 'check', labels: [name] }],
          ` in check ${q(name)}`,
        );
      }
      // Since Terraform 1.9 a removed block may carry destroy-time provisioners.
      for (const { body: removed } of labelledBlocks(body.removed, 0)) {
        const from =
          typeof removed.from === 'string'
            ? q(removed.from.replace(/^\$\{|\}$/g, '')).slice(1, -1)
            : '?';
        provisioners(
          file,
          [{ block: 'removed' }],
          `removed block (from ${from})`,
          removed.provisioner,
        );
      }
      for (const { body: block } of labelledBlocks(body.import, 0)) {
        if (block.provider !== undefined) {
          use(
            file,
            [{ block: 'import' }, { attribute: 'provider' }],
            'import block',
            providerLocalName(block.provider),
          );
        }
      }
      for (const {
        labels: [name],
        body: call,
      } of labelledBlocks(body.module, 1)) {
        const steps: Step[] = [{ block: 'module', labels: [name] }];
        for (const { body: map } of labelledBlocks(call.providers, 0)) {
          for (const [child, reference] of Object.entries(map)) {
            use(
              file,
              steps,
              `module ${q(name)} providers.${q(child).slice(1, -1)}`,
              providerLocalName(reference),
            );
          }
        }
        if (typeof call.source !== 'string') {
          this.add(
            this.moduleFindings,
            `${this.where(file, steps)}: module ${q(
              name,
            )}${context} has no literal source`,
          );
        } else if (isLocalModuleSource(call.source)) {
          calls.push({ source: call.source });
        } else {
          this.moduleSource(
            file,
            steps,
            `module ${q(name)}${context}`,
            call.source,
          );
        }
      }
    }
    return calls;
  }

  findings(): string[] {
    return [
      ...this.codeFindings,
      ...this.moduleFindings,
      ...this.providerFindings,
    ];
  }
}

function refused(reason: string): PlanPolicyCheck {
  return { ok: false, reason, findings: [reason] };
}

/**
 * Reads a file Terraform or the runner wrote, refusing anything but a
 * bounded regular file. Undefined if it does not exist.
 */
async function readOwnFile(
  path: string,
  limit: number,
): Promise<string | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) {
    return undefined;
  }
  if (!info.isFile() || info.size > limit) {
    throw new Error('is not a regular file of bounded size');
  }
  return readFile(path, 'utf8');
}

/**
 * Decides whether Terraform may plan (or apply) this code in this
 * environment. `plan` runs code: `data "external"` runs a program,
 * provisioners run commands at apply time, and every provider is a plugin
 * running with the runner's credentials. So, per the environment's own
 * policy, it refuses code execution and providers outside the allowlist in
 * the target folder and every module Terraform will load; with
 * `terraformDataDir`, that includes the modules `terraform init` downloaded,
 * whose own module calls must be vetted catalog modules too.
 *
 * @public
 */
export async function checkPlanPolicy(
  options: PlanPolicyCheckOptions,
): Promise<PlanPolicyCheck> {
  const root = await realpath(options.checkoutDir);
  const inspection = new Inspection(options);
  const seen = new Set<string>();

  /** Reads one module folder once; undefined if it was read already. */
  const read = async (
    real: string,
    shown: (file: string) => string,
    folderName: string,
  ): Promise<TerraformFile[] | string | undefined> => {
    if (seen.has(real)) {
      return undefined;
    }
    seen.add(real);
    if (seen.size > MAX_FOLDERS) {
      return `more than ${MAX_FOLDERS} module folders`;
    }
    const files = await readTerraformFiles(real, shown, folderName);
    return files.ok ? files.value : files.reason;
  };

  // The target folder and the local modules it calls, as in the module check.
  const visitLocal = async (start: string): Promise<string | undefined> => {
    const queue = [start];
    while (queue.length > 0) {
      const current = queue.shift()!;
      const dir = current === '.' ? root : join(root, current);
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) {
        return `folder ${JSON.stringify(current)} does not exist in the commit`;
      }
      const real = await realpath(dir);
      if (!within(real, root)) {
        return `folder ${JSON.stringify(current)} leaves the checkout`;
      }
      const files = await read(
        real,
        file => (current === '.' ? file : `${current}/${file}`),
        JSON.stringify(current),
      );
      if (typeof files === 'string') {
        return files;
      }
      if (!files) {
        continue;
      }
      for (const { source } of inspection.folder({ files, context: '' })) {
        const local = resolveLocalModulePath(current, source);
        if (!local.ok) {
          return local.reason;
        }
        queue.push(local.value);
      }
    }
    return undefined;
  };

  const localError = await visitLocal(options.folder);
  if (localError) {
    return refused(localError);
  }

  const dataDir = options.terraformDataDir;
  if (dataDir !== undefined) {
    const folderDir = join(root, options.folder);
    let modulesJson: string | undefined;
    try {
      modulesJson = await readOwnFile(
        join(dataDir, 'modules', 'modules.json'),
        MAX_MODULES_JSON_BYTES,
      );
    } catch (error) {
      return refused(
        `modules.json written by terraform init ${(error as Error).message}`,
      );
    }
    if (modulesJson !== undefined) {
      let entries: z.infer<typeof modulesJsonSchema>['Modules'];
      try {
        entries = modulesJsonSchema.parse(parseStrictJson(modulesJson)).Modules;
      } catch {
        return refused(
          'modules.json written by terraform init could not be read',
        );
      }
      const modulesRoot = await realpath(join(dataDir, 'modules'));
      for (const { Key: key, Source: source, Dir: moduleDir } of entries) {
        const name =
          key === '' ? 'the root module' : `module.${q(key).slice(1, -1)}`;
        const real = await realpath(resolve(folderDir, moduleDir)).catch(
          () => undefined,
        );
        if (real === undefined) {
          return refused(
            `terraform init installed ${name} in ${q(
              moduleDir,
              500,
            )}, which does not exist`,
          );
        }
        if (within(real, root)) {
          const error = await visitLocal(relative(root, real) || '.');
          if (error) {
            return refused(error);
          }
          continue;
        }
        if (!within(real, modulesRoot)) {
          return refused(
            `terraform init installed ${name} in ${q(
              moduleDir,
              500,
            )}, outside the checkout and the downloaded modules`,
          );
        }
        // Nested calls of a downloaded module name their own sources.
        if (key !== '' && !isLocalModuleSource(source)) {
          const vetted = checkVettedModuleSource(source, options.modules);
          if (!vetted.ok) {
            return refused(`${name}: ${vetted.reason}`);
          }
        }
        if (!(await lstat(real)).isDirectory()) {
          return refused(
            `terraform init installed ${name} in ${q(
              moduleDir,
              500,
            )}, which is not a folder`,
          );
        }
        const prefix = `.terraform/modules/${relative(modulesRoot, real)}`;
        const files = await read(
          real,
          file => `${prefix}/${file}`,
          JSON.stringify(prefix),
        );
        if (typeof files === 'string') {
          return refused(files);
        }
        // Local calls inside a downloaded module are entries of modules.json themselves.
        if (files) {
          inspection.folder({ files, context: ` in ${name}` });
        }
      }
    }

    // After init the lock file lists every provider Terraform selected —
    // for the configuration and for resources only the state still holds.
    const lockPath = join(folderDir, '.terraform.lock.hcl');
    const shown =
      options.folder === '.'
        ? '.terraform.lock.hcl'
        : `${options.folder}/.terraform.lock.hcl`;
    let lockText: string | undefined;
    try {
      lockText = await readOwnFile(lockPath, MAX_FILE_BYTES);
    } catch (error) {
      return refused(`${shown} ${(error as Error).message}`);
    }
    if (lockText !== undefined) {
      let lock;
      try {
        lock = await parseTerraformFile('.terraform.lock.hcl', lockText);
      } catch (error) {
        return refused(
          `${shown} could not be parsed: ${String(error).slice(0, 500)}`,
        );
      }
      const file = { shown, name: '.terraform.lock.hcl', text: lockText };
      for (const {
        labels: [address],
      } of labelledBlocks(lock.provider, 1)) {
        inspection.provider(
          file,
          [{ block: 'provider', labels: [address] }],
          `provider ${q(address)} (selected by terraform init)`,
          normaliseProviderSource(address),
        );
      }
    }
  }

  const findings = inspection.findings();
  if (findings.length > 0) {
    const more = findings.length - 1;
    return {
      ok: false,
      reason:
        more > 0
          ? `${findings[0]} (and ${more} more finding${more > 1 ? 's' : ''})`
          : findings[0],
      findings,
    };
  }
  return {
    ok: true,
    folders: seen.size,
    providers: [...inspection.providers].sort(),
  };
}
