import { Checked } from '@sealed-runner/backstage-plugin-sealed-runner-common';

/**
 * One function call found in an expression: the name as Terraform resolves
 * it (`core::file` is `file`; provider functions keep their
 * `provider::<local name>::` prefix) and the source text of each argument.
 */
export interface FunctionCall {
  name: string;
  args: string[];
}

/** An expression longer than this is not inspected (and so refused). */
export const MAX_EXPRESSION_LENGTH = 256 * 1024;
const MAX_DEPTH = 64;

/** Words that open a parenthesised group, never a call: `x if (a > b)`. */
const KEYWORDS = new Set([
  'if',
  'for',
  'in',
  'else',
  'endif',
  'endfor',
  'true',
  'false',
  'null',
]);

class ScanError extends Error {}

/**
 * Finds every function call in a Terraform template or expression, as
 * Terraform's own HCL reads them, so an inspection can allow calls by name.
 * It reads the strings `@cdktf/hcl2json` (Go's HCL parser) produces — every
 * value is a template whose `${…}` and `%{…}` hold the expression source —
 * and the templates of Terraform's JSON syntax and of `templatefile`.
 *
 * It fails closed: anything it cannot read with certainty (an unterminated
 * string, comment or heredoc, unbalanced brackets, nesting deeper than 64)
 * is an error, never "no calls".
 */
const CLOSING: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

class Scanner {
  private pos = 0;
  readonly calls: FunctionCall[] = [];

  constructor(private readonly text: string) {}

  private fail(why: string): never {
    throw new ScanError(`${why} at offset ${this.pos}`);
  }

  private startsWith(token: string): boolean {
    return this.text.startsWith(token, this.pos);
  }

  /** A template up to the end of the text, or up to `quote` (a quoted string). */
  template(depth: number, quote: boolean): void {
    if (depth > MAX_DEPTH) {
      this.fail('nesting too deep');
    }
    while (this.pos < this.text.length) {
      if (quote && this.text[this.pos] === '"') {
        this.pos += 1;
        return;
      }
      if (quote && this.text[this.pos] === '\\') {
        this.pos += 2;
        continue;
      }
      if (quote && this.text[this.pos] === '\n') {
        this.fail('line break in a quoted string');
      }
      if (this.startsWith('$${') || this.startsWith('%%{')) {
        this.pos += 3;
        continue;
      }
      if (this.startsWith('${') || this.startsWith('%{')) {
        this.pos += 2;
        this.expression(depth + 1, '}');
        continue;
      }
      this.pos += 1;
    }
    if (quote) {
      this.fail('unterminated string');
    }
  }

  /** A heredoc whose `<<` has been read: `<<[-]MARKER\n … \n  MARKER`. */
  private heredoc(depth: number): void {
    const header = /^-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(
      this.text.slice(this.pos, this.pos + 300),
    );
    if (!header) {
      this.fail('unreadable heredoc');
    }
    this.pos += header[0].length;
    const end = new RegExp(`^[ \\t]*${header[1]}[ \\t]*$`, 'm');
    const rest = this.text.slice(this.pos);
    const match = end.exec(rest);
    if (!match) {
      this.fail('unterminated heredoc');
    }
    const body = new Scanner(rest.slice(0, match.index));
    body.template(depth + 1, false);
    this.calls.push(...body.calls);
    this.pos += match.index + match[0].length;
  }

  private skipComment(): boolean {
    if (this.text[this.pos] === '#' || this.startsWith('//')) {
      const end = this.text.indexOf('\n', this.pos);
      this.pos = end === -1 ? this.text.length : end + 1;
      return true;
    }
    if (this.startsWith('/*')) {
      const end = this.text.indexOf('*/', this.pos + 2);
      if (end === -1) {
        this.fail('unterminated comment');
      }
      this.pos = end + 2;
      return true;
    }
    return false;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      if (/\s/.test(this.text[this.pos])) {
        this.pos += 1;
      } else if (!this.skipComment()) {
        return;
      }
    }
  }

  /**
   * An expression up to its closing bracket `close` (`}` of `${`, `)` of a
   * call or group, `]`, or `}` of an object). Returns the offsets of its
   * top-level commas, which separate a call's arguments.
   */
  expression(depth: number, close: string): number[] {
    if (depth > MAX_DEPTH) {
      this.fail('nesting too deep');
    }
    const commas: number[] = [];
    while (this.pos < this.text.length) {
      if (this.skipComment()) {
        continue;
      }
      const c = this.text[this.pos];
      if (c === close) {
        this.pos += 1;
        return commas;
      }
      if (c === ',') {
        commas.push(this.pos);
        this.pos += 1;
      } else if (c === '"') {
        this.pos += 1;
        this.template(depth + 1, true);
      } else if (
        this.startsWith('<<') &&
        /[-A-Za-z_]/.test(this.text[this.pos + 2] ?? '')
      ) {
        this.pos += 2;
        this.heredoc(depth);
      } else if (c === '(' || c === '[' || c === '{') {
        this.pos += 1;
        this.expression(depth + 1, CLOSING[c]);
      } else if (c === ')' || c === ']' || c === '}') {
        this.fail(`unbalanced '${c}'`);
      } else if (/[0-9]/.test(c)) {
        this.pos += /^[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(
          this.text.slice(this.pos),
        )![0].length;
      } else if (/[\p{L}_]/u.test(c)) {
        this.identifier(depth);
      } else {
        this.pos += 1;
      }
    }
    return this.fail(`missing '${close}'`);
  }

  /** An identifier, and the call it starts if a `(` follows. */
  private identifier(depth: number): void {
    const segment = /^[\p{L}_][\p{L}\p{N}_-]*/u;
    const first = segment.exec(this.text.slice(this.pos))![0];
    const names = [first];
    this.pos += first.length;
    let afterName = this.pos;
    // `::` is a token of its own: `core :: file(…)` and
    // `provider/**/::aws::arn_parse(…)` are namespaced calls too.
    for (;;) {
      this.skipSpace();
      if (!this.startsWith('::')) {
        break;
      }
      this.pos += 2;
      this.skipSpace();
      const next = segment.exec(this.text.slice(this.pos));
      if (!next) {
        break;
      }
      names.push(next[0]);
      this.pos += next[0].length;
      afterName = this.pos;
    }
    this.pos = afterName;
    this.skipSpace();
    const fullName = names.join('::');
    if (this.text[this.pos] !== '(' || KEYWORDS.has(fullName)) {
      this.pos = afterName;
      return;
    }
    this.pos += 1;
    const start = this.pos;
    const commas = this.expression(depth + 1, ')');
    const end = this.pos - 1;
    const bounds = [start - 1, ...commas, end];
    const args = bounds
      .slice(0, -1)
      .map((from, i) => this.text.slice(from + 1, bounds[i + 1]).trim())
      .filter((arg, i, all) => !(arg === '' && i === all.length - 1));
    const name = fullName.startsWith('core::')
      ? fullName.slice('core::'.length)
      : fullName;
    this.calls.push({ name, args });
  }
}

function scan(
  text: string,
  read: (scanner: Scanner) => void,
): Checked<FunctionCall[]> {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    return {
      ok: false,
      reason: `longer than ${MAX_EXPRESSION_LENGTH} characters`,
    };
  }
  const scanner = new Scanner(text);
  try {
    read(scanner);
  } catch (error) {
    if (error instanceof ScanError) {
      return { ok: false, reason: error.message };
    }
    throw error;
  }
  return { ok: true, value: scanner.calls };
}

/**
 * The function calls of a template: a string value as hcl2json or
 * Terraform's JSON syntax give it, or a `templatefile` template.
 */
export function templateCalls(template: string): Checked<FunctionCall[]> {
  return scan(template, scanner => scanner.template(0, false));
}

/**
 * What a path argument of a file function is, read from its source text:
 * a literal string, `path.module` (or `"${path.module}/rest"`), the root
 * module (`path.root`, `path.cwd`), or anything else — which cannot be
 * checked before it runs.
 */
export type PathArgument =
  | { kind: 'literal'; base: 'module' | 'root' | 'cwd'; path: string }
  | { kind: 'expression' };

const HCL_ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  '"': '"',
  '\\': '\\',
};

/** The value of a quoted HCL string without interpolation, or undefined. */
function literalString(text: string): string | undefined {
  if (!/^"(?:[^"\\$%]|\\.|\$(?!\{)|%(?!\{)|\$\$\{|%%\{)*"$/s.test(text)) {
    return undefined;
  }
  let value = '';
  for (let i = 1; i < text.length - 1; i++) {
    const c = text[i];
    if (c === '\\') {
      const next = text[i + 1];
      if (next === 'u' || next === 'U') {
        const digits = next === 'u' ? 4 : 8;
        const hex = text.slice(i + 2, i + 2 + digits);
        if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== digits) {
          return undefined;
        }
        value += String.fromCodePoint(parseInt(hex, 16));
        i += 1 + digits;
        continue;
      }
      if (!(next in HCL_ESCAPES)) {
        return undefined;
      }
      value += HCL_ESCAPES[next];
      i += 1;
      continue;
    }
    if ((c === '$' || c === '%') && text.startsWith(`${c}${c}{`, i)) {
      value += `${c}{`;
      i += 2;
      continue;
    }
    value += c;
  }
  return value;
}

const PATH_BASES: Record<string, 'module' | 'root' | 'cwd'> = {
  'path.module': 'module',
  'path.root': 'root',
  'path.cwd': 'cwd',
};

/** Classifies the source text of a file function's path argument. */
export function classifyPathArgument(source: string): PathArgument {
  const text = source.trim();
  if (PATH_BASES[text]) {
    return { kind: 'literal', base: PATH_BASES[text], path: '' };
  }
  const prefixed = /^"\$\{\s*(path\.(?:module|root|cwd))\s*\}(.*)"$/s.exec(
    text,
  );
  if (prefixed) {
    const rest = literalString(`"${prefixed[2]}"`);
    if (rest === undefined || (rest !== '' && !rest.startsWith('/'))) {
      return { kind: 'expression' };
    }
    return {
      kind: 'literal',
      base: PATH_BASES[prefixed[1]],
      path: rest.replace(/^\/+/, ''),
    };
  }
  const literal = literalString(text);
  return literal === undefined
    ? { kind: 'expression' }
    : { kind: 'literal', base: 'cwd', path: literal };
}
