import {
  BUILTIN_PROVIDER_FUNCTIONS,
  BUILTIN_TERRAFORM_PROVIDER,
  FILE_FUNCTIONS,
  PURE_FUNCTIONS,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  classifyPathArgument,
  FunctionCall,
  templateCalls,
} from '../expressions';
import { lineOf, q, Step, where } from '../locate';
import {
  entryOf,
  expressionsOf,
  LoadedModule,
  resolveInModule,
} from '../moduleGraph';
import { providerAddressOf } from '../providerNames';
import { TerraformFile } from '../terraformFiles';
import { Finding, InspectionContext, InspectionRule } from '../types';

type Located = Pick<TerraformFile, 'name' | 'shown' | 'text'>;

/** A call as reasons show it: `file("/etc/passwd")`, bounded, non-printable characters escaped. */
function shownCall(call: FunctionCall): string {
  const text = `${call.name}(${call.args.join(', ')})`;
  return q(text, 120).slice(1, -1).replace(/\\"/g, '"');
}

/** Where a call is: found by its name and first argument, or else by its name. */
function whereCall(file: Located, call: FunctionCall): string {
  const precise: Step[] = [{ call: call.name, argument: call.args[0] }];
  return call.args.length > 0 && lineOf(file, precise) !== undefined
    ? where(file, precise)
    : where(file, [{ call: call.name }]);
}

/**
 * What one call may do, or why it may not. `templates` are the templates
 * its module's `templatefile` calls read (checked where they are called).
 */
function judgeCall(
  call: FunctionCall,
  module: LoadedModule,
  { policy }: InspectionContext,
  inTemplate: boolean,
): { problem?: string; template?: string } {
  if (PURE_FUNCTIONS.has(call.name)) {
    return {};
  }
  const provider = /^provider::([^:]+)::([^:]+)$/.exec(call.name);
  if (provider) {
    const [, local, fn] = provider;
    const address = providerAddressOf(module, local);
    if (
      address === BUILTIN_TERRAFORM_PROVIDER
        ? BUILTIN_PROVIDER_FUNCTIONS.has(fn)
        : address && policy.providers.includes(address)
    ) {
      return {};
    }
    return {
      problem: `${shownCall(
        call,
      )} calls a function of a provider that is not allowed here`,
    };
  }
  const reads = FILE_FUNCTIONS[call.name];
  if (!reads) {
    return {
      problem:
        call.name === 'templatestring'
          ? `${shownCall(
              call,
            )} evaluates a template held in a value, whose calls cannot be inspected`
          : `${shownCall(
              call,
            )} is not one of the Terraform built-in functions the runner allows`,
    };
  }
  if (inTemplate && call.name === 'templatefile') {
    return {
      problem: `${shownCall(call)} calls templatefile inside a template`,
    };
  }
  if (call.args.length === 0) {
    return {}; // Terraform refuses the call itself
  }
  const argument = classifyPathArgument(call.args[0]);
  if (argument.kind !== 'literal') {
    return {
      problem: `${shownCall(
        call,
      )} reads a path that is not a literal; file functions take "\${path.module}/<file>"`,
    };
  }
  const path = resolveInModule(module, argument);
  if (path === undefined) {
    return {
      problem: `${shownCall(call)} reads outside the module's own folder`,
    };
  }
  const entry = entryOf(module.entries, path);
  if (entry === 'symlink' || entry === 'other') {
    return {
      problem: `${shownCall(call)} reads through ${
        entry === 'symlink'
          ? 'a symlink'
          : 'something that is not a plain file or folder'
      }`,
    };
  }
  // fileset follows symlinks below the folder it lists (Terraform's
  // doublestar glob does), naming files wherever they point.
  const link =
    reads.reads === 'folder'
      ? [...module.entries].find(
          ([name, type]) =>
            type === 'symlink' && (path === '' || name.startsWith(`${path}/`)),
        )
      : undefined;
  if (link) {
    return {
      problem: `${shownCall(call)} lists a folder holding a symlink (${q(
        link[0],
      )}), which it would follow`,
    };
  }
  if (reads.pattern !== undefined && call.args[reads.pattern] !== undefined) {
    const pattern = classifyPathArgument(call.args[reads.pattern]);
    if (
      pattern.kind !== 'literal' ||
      pattern.base !== 'cwd' ||
      pattern.path.startsWith('/') ||
      pattern.path.split('/').includes('..')
    ) {
      return {
        problem: `${shownCall(
          call,
        )} has a pattern that is not a literal inside the folder`,
      };
    }
  }
  if (call.name === 'templatefile' && entry === 'file') {
    const template = module.templates.get(path);
    return template === undefined
      ? { problem: `${shownCall(call)}: the template was not read` }
      : { template: path };
  }
  return {};
}

/**
 * Functions run at plan time: only Terraform's pure built-ins are allowed,
 * the file functions (`file`, `templatefile`, `fileset`, `filebase64`, …)
 * only with a literal path inside the calling module's own folder and not
 * through a symlink, a template's own calls are judged the same way, and a
 * provider-defined function only of an allowed provider. An expression the
 * scanner cannot read with certainty is refused.
 */
export const functionsRule: InspectionRule = (graph, context) => {
  const findings: Finding[] = [];
  for (const module of graph.modules) {
    const judgedTemplates = new Set<string>();
    const judge = (file: Located, text: string, inTemplate: boolean) => {
      const calls = templateCalls(text);
      if (!calls.ok) {
        findings.push({
          rule: 'functions',
          reason: `${file.shown}${
            module.context
          }: an expression could not be inspected (${calls.reason}): ${q(
            text,
            80,
          )}`,
        });
        return;
      }
      for (const call of calls.value) {
        const { problem, template } = judgeCall(
          call,
          module,
          context,
          inTemplate,
        );
        if (problem) {
          findings.push({
            rule: 'functions',
            reason: `${whereCall(file, call)}${
              module.context
            }: ${problem}; refused in ${context.environment}`,
          });
        }
        if (template !== undefined && !judgedTemplates.has(template)) {
          judgedTemplates.add(template);
          const shown =
            module.shownDir === '.'
              ? template
              : `${module.shownDir}/${template}`;
          judge(
            { name: template, shown, text: module.templates.get(template)! },
            module.templates.get(template)!,
            true,
          );
        }
      }
    };
    for (const file of module.files) {
      for (const text of expressionsOf(file.body)) {
        judge(file, text, false);
      }
    }
  }
  return findings;
};
