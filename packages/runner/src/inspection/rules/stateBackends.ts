import {
  PG_CONN_STR_PARAMETERS,
  STATE_BACKEND_CONFIG,
  StateBackendType,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { resourceBlocks } from '../blocks';
import { q, shownList, Step, where } from '../locate';
import { isObject, labelledBlocks, TerraformFile } from '../terraformFiles';
import { Finding, InspectionContext, InspectionRule } from '../types';
import { ArgumentViolation, checkArgumentTree } from './argumentTree';

/** The arguments of a `terraform_remote_state` data source, besides `config`. */
const REMOTE_STATE_ARGUMENTS = new Set([
  'backend',
  'config',
  'defaults',
  'workspace',
  'count',
  'for_each',
  'depends_on',
  'provider',
  'lifecycle',
]);

/** A state backend declaration of the root module: a `backend` block, or a `cloud` block. */
export interface RootBackend {
  type: string;
  /** A `cloud` block (type `cloud`), or a `backend` block — which may be labelled "cloud" too. */
  block: 'backend' | 'cloud';
  file: TerraformFile;
}

/** The `backend` and `cloud` blocks of the target folder (Terraform ignores them in child modules). */
export function rootBackends(
  graph: Parameters<InspectionRule>[0],
): RootBackend[] {
  return graph.modules
    .filter(m => m.isRoot)
    .flatMap(m => m.files)
    .flatMap(file =>
      labelledBlocks(file.body.terraform, 0).flatMap(({ body }) => [
        ...labelledBlocks(body.backend, 1).map(({ labels: [type] }) => ({
          type,
          block: 'backend' as const,
          file,
        })),
        ...(body.cloud !== undefined
          ? [{ type: 'cloud', block: 'cloud' as const, file }]
          : []),
      ]),
    );
}

function violationText(violation: ArgumentViolation, type: string): string {
  switch (violation.problem) {
    case 'dynamic':
      return `a dynamic block (${q(violation.path)}) cannot be inspected`;
    case 'not-literal':
      return `${q(
        violation.path,
      )} must be written out literally, so its keys can be checked`;
    default:
      return `key ${q(violation.path)} is not allowed for backend ${q(
        type,
      )} (its allowed keys say where state lives, never a file, command, profile or endpoint)`;
  }
}

/**
 * A libpq key/value connection string as Terraform's driver (lib/pq)
 * reads it: `key = value` pairs, a value bare or single-quoted with
 * backslash escapes. Only ASCII whitespace separates them here: lib/pq
 * also splits on Unicode spaces (U+0085, U+00A0, …), which is why a
 * conn_str holding anything but printable ASCII is refused before this.
 * Undefined if the text is not such a list, whole.
 */
function keyValueParameters(text: string): Array<[string, string]> | undefined {
  const pair = /\s*([^\s=']+)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)/y;
  const parameters: Array<[string, string]> = [];
  for (;;) {
    const from = pair.lastIndex;
    if (/^\s*$/.test(text.slice(from))) {
      return parameters;
    }
    const match = pair.exec(text);
    if (!match || (from > 0 && !/\s/.test(text[from]))) {
      return undefined;
    }
    parameters.push([
      match[1],
      match[2].replace(/^'|'$/g, '').replace(/\\(.)/g, '$1'),
    ]);
  }
}

/**
 * `pg`'s `conn_str` may only carry connection parameters, never a file or
 * service name, and it names a host on the network, never a Unix socket's
 * folder.
 */
function connStrProblem(value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (
    typeof value !== 'string' ||
    value.includes('${') ||
    value.includes('%{')
  ) {
    return 'conn_str must be a literal string';
  }
  if (!/^[\x20-\x7e\t\n\v\f\r]*$/.test(value)) {
    return 'conn_str may hold only printable ASCII and ASCII whitespace';
  }
  let parameters: Array<[string, string]> | undefined;
  if (/^postgres(?:ql)?:\/\//.test(value)) {
    try {
      const url = new URL(value);
      parameters = [
        ['host', decodeURIComponent(url.hostname)],
        ...url.searchParams,
      ];
    } catch {
      return 'conn_str is not a valid postgres:// URL';
    }
  } else {
    parameters = keyValueParameters(value);
    if (!parameters) {
      return 'conn_str is not a list of key=value parameters';
    }
  }
  const refused = parameters.find(
    ([name]) => !PG_CONN_STR_PARAMETERS.includes(name),
  );
  if (refused) {
    return `conn_str parameter ${q(
      refused[0],
    )} is not allowed (only ${PG_CONN_STR_PARAMETERS.join(', ')})`;
  }
  // A host starting with "/" is the folder of a Unix socket.
  const socket = parameters.find(
    ([name, host]) =>
      (name === 'host' || name === 'hostaddr') &&
      /[^A-Za-z0-9.:,[\]-]/.test(host),
  );
  return socket
    ? `conn_str parameter ${q(
        socket[0],
      )} must name hosts (letters, digits and . - : [ ] ,), never a socket folder`
    : undefined;
}

/**
 * Where state is read and written, and with what credentials, is the
 * platform team's decision. A `backend` block (root module) and a
 * `terraform_remote_state` data source (any module) may use only a backend
 * type the environment lists in `planPolicy.backends`, written literally,
 * with only the configuration keys of that type's allowlist
 * (`STATE_BACKEND_CONFIG`): a kubeconfig with an `exec` plugin, a
 * `shared_config_files` with a `credential_process`, a `local` path — none
 * of them is on it. `cloud` never passes.
 */
export const stateBackendsRule: InspectionRule = (
  graph,
  context: InspectionContext,
) => {
  const findings: Finding[] = [];
  const { environment, policy } = context;
  const allowed: readonly string[] = policy.backends;
  const add = (file: TerraformFile, steps: Step[], text: string) =>
    findings.push({
      rule: 'state-backends',
      reason: `${where(file, steps)}: ${text}`,
    });
  const typeRefused = (type: string) =>
    `${
      type === 'cloud'
        ? 'is HCP Terraform, which is never allowed'
        : `is not allowed`
    } in ${environment} (planPolicy.backends: ${
      shownList(allowed) || 'none; the runner keeps the state'
    })`;
  const checkConfig = (
    file: TerraformFile,
    steps: Step[],
    construct: string,
    type: StateBackendType,
    config: unknown,
  ) => {
    for (const violation of checkArgumentTree(
      config,
      STATE_BACKEND_CONFIG[type],
    )) {
      add(
        file,
        steps,
        `${construct}: ${violationText(
          violation,
          type,
        )}; refused in ${environment}`,
      );
    }
    if (type === 'pg') {
      for (const body of Array.isArray(config) ? config : [config]) {
        const problem = isObject(body)
          ? connStrProblem(body.conn_str)
          : undefined;
        if (problem) {
          add(
            file,
            steps,
            `${construct}: ${problem}; refused in ${environment}`,
          );
        }
      }
    }
  };

  for (const { type, block, file } of rootBackends(graph)) {
    const steps: Step[] =
      block === 'cloud'
        ? [{ block: 'terraform' }, { block: 'cloud' }]
        : [{ block: 'terraform' }, { block: 'backend', labels: [type] }];
    const construct =
      block === 'cloud'
        ? 'terraform cloud block'
        : `terraform backend ${q(type)}`;
    if (!allowed.includes(type)) {
      add(file, steps, `${construct} ${typeRefused(type)}`);
      continue;
    }
    for (const { body: terraform } of labelledBlocks(file.body.terraform, 0)) {
      for (const {
        labels: [label],
        body,
      } of labelledBlocks(terraform.backend, 1)) {
        if (label === type) {
          checkConfig(file, steps, construct, type as StateBackendType, body);
        }
      }
    }
  }

  for (const module of graph.modules) {
    for (const block of resourceBlocks(module)) {
      if (block.kind !== 'data' || block.type !== 'terraform_remote_state') {
        continue;
      }
      const { body, file, steps, construct } = block;
      for (const key of Object.keys(body)) {
        if (!REMOTE_STATE_ARGUMENTS.has(key) && key !== '//') {
          add(file, steps, `${construct}: argument ${q(key)} is not allowed`);
        }
      }
      const type = body.backend;
      if (
        typeof type !== 'string' ||
        type.includes('${') ||
        type.includes('%{')
      ) {
        add(
          file,
          [...steps, { attribute: 'backend' }],
          `${construct}: backend must be a literal backend type`,
        );
        continue;
      }
      if (!allowed.includes(type)) {
        add(
          file,
          [...steps, { attribute: 'backend' }],
          `${construct} reads state through backend ${q(
            type,
          )}, which ${typeRefused(type)}`,
        );
        continue;
      }
      if (body.config !== undefined && !isObject(body.config)) {
        add(
          file,
          [...steps, { attribute: 'config' }],
          `${construct}: config must be written out as an object, so its keys can be checked`,
        );
      } else if (body.config !== undefined) {
        checkConfig(
          file,
          [...steps, { attribute: 'config' }],
          construct,
          type as StateBackendType,
          body.config,
        );
      }
    }
  }
  return findings;
};
