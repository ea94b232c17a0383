import { quote } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { parse as parseHcl } from '@cdktf/hcl2json';

/** A parsed Terraform file: HCL as Go's HCL parser reads it, or JSON. */
export type TerraformBody = Record<string, unknown>;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A reference as its text: hcl2json gives `aws_instance.a` as
 * `${aws_instance.a}`, Terraform's JSON syntax writes it bare. Undefined
 * for anything but a string.
 */
export function bareExpression(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  return /^\$\{([^}]*)\}$/.exec(value)?.[1] ?? value;
}

/**
 * The bodies of the blocks of one type, with their labels. HCL (through
 * hcl2json) gives `{type: {label: [body]}}`; Terraform's JSON syntax also
 * accepts an array of objects at every level (`"data": [{"external": …}]`),
 * so arrays are flattened wherever they appear. `"//"` properties are JSON
 * comments, not labels.
 */
export function labelledBlocks(
  value: unknown,
  labelCount: number,
  labels: string[] = [],
): Array<{ labels: string[]; body: Record<string, unknown> }> {
  if (Array.isArray(value)) {
    return value.flatMap(v => labelledBlocks(v, labelCount, labels));
  }
  if (!isObject(value)) {
    return [];
  }
  if (labelCount === 0) {
    return [{ labels, body: value }];
  }
  return Object.entries(value)
    .filter(([label]) => label !== '//')
    .flatMap(([label, v]) =>
      labelledBlocks(v, labelCount - 1, [...labels, label]),
    );
}

/**
 * The first key that appears twice in one object of a JSON document.
 * Terraform reads every occurrence of a repeated key (a second `module`
 * property is a second set of module blocks), while JSON.parse keeps only
 * the last — so a repeated key could hide a block from a check.
 * Only called on text that JSON.parse accepted.
 */
function findDuplicateKey(text: string): string | undefined {
  // Objects being read, innermost last; `undefined` stands for an array.
  const open: Array<Set<string> | undefined> = [];
  for (const [token, colon] of text.matchAll(
    /"(?:[^"\\]|\\.)*"(\s*:)?|[{}[\]]/g,
  )) {
    if (token === '{' || token === '[') {
      open.push(token === '{' ? new Set() : undefined);
    } else if (token === '}' || token === ']') {
      open.pop();
    } else if (colon !== undefined) {
      const key: string = JSON.parse(
        token.slice(0, token.length - colon.length),
      );
      const keys = open[open.length - 1];
      if (keys?.has(key)) {
        return key;
      }
      keys?.add(key);
    }
  }
  return undefined;
}

/** JSON.parse, refusing a document that repeats a key in one object. */
export function parseStrictJson(text: string): unknown {
  const body = JSON.parse(text);
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new Error(`duplicate key ${quote(duplicate, 100)} in one object`);
  }
  return body;
}

/**
 * Parses one Terraform file. HCL goes through a real HCL parser (Go's,
 * compiled to WASM); `.tf.json` through JSON.parse with the duplicate-key
 * guard. Both produce the same block shape.
 */
export async function parseTerraformFile(
  name: string,
  text: string,
): Promise<TerraformBody> {
  if (name.endsWith('.tf.json')) {
    const body = parseStrictJson(text);
    if (!isObject(body)) {
      throw new Error('a Terraform JSON file must hold one object');
    }
    return body;
  }
  return parseHcl(name, text);
}

/** One Terraform file of a module folder, as read and parsed. */
export interface TerraformFile {
  name: string;
  /** How reasons name the file: its path in the checkout, or under `.terraform/modules`. */
  shown: string;
  text: string;
  body: TerraformBody;
}
