import { TerraformFile } from './terraformFiles';

/**
 * Where a construct is, as steps from the top of a file: a block header
 * (type and labels), an attribute name, a function call, or text of the
 * construct. Used only to put a line number in a reason — every decision
 * is made on the parsed file.
 */
export type Step =
  | { block: string; labels?: string[]; anyLabels?: boolean }
  | { attribute: string }
  | { call: string; argument?: string }
  | { text: string };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function stepPatterns(step: Step, json: boolean): RegExp[] {
  const key = (name: string) =>
    new RegExp(`${escapeRegExp(JSON.stringify(name))}\\s*:`, 'g');
  if ('text' in step) {
    // Text from the construct itself, to tell apart blocks without labels
    // (the `from` of a removed block); JSON syntax shows it escaped.
    return [
      new RegExp(
        escapeRegExp(json ? JSON.stringify(step.text).slice(1, -1) : step.text),
        'g',
      ),
    ];
  }
  if ('call' in step) {
    // The first argument as written tells apart two calls of one function;
    // JSON syntax shows it escaped.
    const argument =
      step.argument === undefined
        ? ''
        : `\\s*${escapeRegExp(
            json ? JSON.stringify(step.argument).slice(1, -1) : step.argument,
          )}`;
    const name = step.call.split('::').map(escapeRegExp).join('\\s*::\\s*');
    return [
      new RegExp(
        `(?<![\\w.-])(?:core\\s*::\\s*)?${name}\\s*\\(${argument}`,
        'g',
      ),
    ];
  }
  if ('attribute' in step) {
    // In HCL an argument may be a nested block with labels: `dynamic "assume_role" {`.
    return [
      json
        ? key(step.attribute)
        : new RegExp(
            `^[ \\t]*${escapeRegExp(
              step.attribute,
            )}(?:[ \\t]+(?:"[^"\\n]*"|[\\w-]+))*[ \\t]*[={]`,
            'gm',
          ),
    ];
  }
  const labels = step.labels ?? [];
  if (json) {
    return [step.block, ...labels].map(key);
  }
  // An HCL block header is always on one line; labels may be quoted or bare.
  const labelPattern = step.anyLabels
    ? '(?:[ \\t]+(?:"[^"\\n]*"|[\\w-]+))*'
    : labels
        .map(
          l =>
            `[ \\t]+(?:${escapeRegExp(JSON.stringify(l))}|${escapeRegExp(l)})`,
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
export function lineOf(
  file: Pick<TerraformFile, 'name' | 'text'>,
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

/** `file:line`, or the file alone where the construct could not be located. */
export function where(
  file: Pick<TerraformFile, 'name' | 'text' | 'shown'>,
  steps: Step[],
): string {
  const line = lineOf(file, steps);
  return line === undefined ? file.shown : `${file.shown}:${line}`;
}

/**
 * A label from the code, quoted as reasons show it: bounded, and with
 * anything but printable ASCII escaped, so a hostile label cannot reorder
 * or forge the text around it.
 */
export function q(label: string, max = 100): string {
  const bounded = label.length > max ? `${label.slice(0, max)}…` : label;
  return JSON.stringify(bounded).replace(
    /[^\x20-\x7e]/g,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Up to five items, then an ellipsis. */
export function shownList(items: readonly string[]): string {
  return items.length > 5
    ? `${items.slice(0, 5).join(', ')}, …`
    : items.join(', ');
}
