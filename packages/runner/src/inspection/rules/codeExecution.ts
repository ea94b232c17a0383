import { resourceBlocks } from '../blocks';
import { q, Step, where } from '../locate';
import {
  bareExpression,
  labelledBlocks,
  TerraformFile,
} from '../terraformFiles';
import { Finding, InspectionRule } from '../types';

const PROVISIONERS: Record<string, string> = {
  'local-exec': 'runs a command on the runner',
  'remote-exec':
    'runs commands on another host over a connection the runner opens',
  file: 'copies files from the runner to another host',
};

/**
 * `data "external"` runs a program at plan time and provisioners run
 * commands at apply time (also `removed` blocks' destroy-time
 * provisioners): refused unless the environment allows code execution.
 */
export const codeExecutionRule: InspectionRule = (
  graph,
  { environment, policy },
) => {
  if (policy.allowCodeExecution) {
    return [];
  }
  const findings: Finding[] = [];
  const refuse = (
    file: TerraformFile,
    steps: Step[],
    construct: string,
    what: string,
  ) =>
    findings.push({
      rule: 'code-execution',
      reason: `${where(
        file,
        steps,
      )}: ${construct} ${what}; refused in ${environment} (planPolicy.allowCodeExecution is false)`,
    });
  const provisioners = (
    file: TerraformFile,
    steps: Step[],
    construct: string,
    value: unknown,
  ) => {
    for (const {
      labels: [kind],
    } of labelledBlocks(value, 1)) {
      refuse(
        file,
        [...steps, { block: 'provisioner', labels: [kind] }],
        `provisioner ${q(kind)} in ${construct}`,
        `${PROVISIONERS[kind] ?? 'is a provisioner, which runs'} at apply time`,
      );
    }
  };
  for (const module of graph.modules) {
    for (const block of resourceBlocks(module)) {
      if (block.kind === 'data' && block.type === 'external') {
        refuse(
          block.file,
          block.steps,
          block.construct,
          'runs a program at plan time',
        );
      }
      if (block.kind === 'resource') {
        provisioners(
          block.file,
          block.steps,
          block.construct,
          block.body.provisioner,
        );
      }
    }
    // Since Terraform 1.9 a removed block may carry destroy-time provisioners.
    for (const file of module.files) {
      for (const { body: removed } of labelledBlocks(file.body.removed, 0)) {
        const source = bareExpression(removed.from);
        const from = source === undefined ? '?' : q(source).slice(1, -1);
        provisioners(
          file,
          [
            { block: 'removed' },
            ...(source === undefined ? [] : [{ text: source }]),
          ],
          `removed block (from ${from})${module.context}`,
          removed.provisioner,
        );
      }
    }
  }
  return findings;
};
