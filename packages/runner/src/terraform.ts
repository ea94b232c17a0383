import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  PlanSummary,
  ResourceAction,
  ResourceChange,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * A Terraform CLI configuration the runner owns: providers come only from a
 * filesystem mirror the runner controls (`mirror`, as Terraform sees it),
 * never from a direct download.
 */
export async function writeCliConfig(
  path: string,
  mirror: string,
): Promise<void> {
  await writeFile(
    path,
    [
      'disable_checkpoint = true',
      'provider_installation {',
      '  filesystem_mirror {',
      `    path = ${JSON.stringify(mirror)}`,
      '  }',
      '}',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
}

/**
 * For code that declares no backend (the embedded default), keeps state in
 * a file the runner owns, outside the checkout, so it persists between runs
 * of the same target.
 */
export async function writeLocalBackend(
  folderDir: string,
  stateFile: string,
): Promise<void> {
  await writeFile(
    join(folderDir, 'zz_sealed_runner_backend.tf.json'),
    JSON.stringify({
      terraform: { backend: { local: { path: stateFile } } },
    }),
  );
}

/** Long for_each keys make long addresses; reports carry at most this much. */
export const MAX_ADDRESS_LENGTH = 1024;

function boundedAddress(address: string): string {
  return address.length > MAX_ADDRESS_LENGTH
    ? `${address.slice(0, MAX_ADDRESS_LENGTH - 1)}…`
    : address;
}

const ACTIONS = new Set<ResourceAction>([
  'create',
  'update',
  'delete',
  'read',
  'no-op',
]);

/**
 * Reads the resource changes of `terraform show -json <plan>`: addresses
 * and actions only. Values — which may be sensitive — are never copied.
 */
export function summarisePlan(showJson: string): {
  plan: PlanSummary;
  changes: ResourceChange[];
} {
  const document = JSON.parse(showJson) as {
    resource_changes?: Array<{
      address?: unknown;
      change?: { actions?: unknown };
    }>;
  };
  const plan: PlanSummary = { add: 0, change: 0, destroy: 0 };
  const changes: ResourceChange[] = [];
  for (const entry of document.resource_changes ?? []) {
    const actions = entry.change?.actions;
    if (
      typeof entry.address !== 'string' ||
      !Array.isArray(actions) ||
      !actions.every(a => ACTIONS.has(a))
    ) {
      throw new Error(
        'terraform show -json returned an unexpected resource change',
      );
    }
    const typed = actions as ResourceAction[];
    if (typed.includes('create')) plan.add += 1;
    if (typed.includes('delete')) plan.destroy += 1;
    if (typed.includes('update')) plan.change += 1;
    changes.push({ address: boundedAddress(entry.address), actions: typed });
  }
  return { plan, changes };
}
