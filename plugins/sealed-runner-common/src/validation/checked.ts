/**
 * Result of a validation primitive: the accepted value, or a reason a human
 * can act on.
 *
 * @public
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

export function accept<T>(value: T): Checked<T> {
  return { ok: true, value };
}

export function refuse<T = never>(reason: string): Checked<T> {
  return { ok: false, reason };
}

/**
 * The accepted value of a validation primitive, or its reason thrown as an
 * error: for code that may not go on with a refused value.
 *
 * @public
 */
export function valueOf<T>(result: Checked<T>): T {
  if (!result.ok) {
    throw new Error(result.reason);
  }
  return result.value;
}

// C0 controls, DEL and C1 controls. Anything that can end a line or steer a
// terminal has no business in a path, ref or URL.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

// What JSON.stringify leaves raw but must not reach a terminal or a UI: DEL
// and C1 controls (0x9b is a CSI introducer), bidi controls that reorder the
// text around them (Trojan Source), and line/paragraph separators.
const UNSAFE_IN_MESSAGES =
  /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * True if a string holds C0/C1 control characters or DEL.
 *
 * @public
 */
export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

/**
 * Quotes a hostile value for an error message without echoing control
 * bytes, bidi controls or megabytes: at most `max` characters are shown.
 *
 * @public
 */
export function quote(value: string, max = 300): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown).replace(
    UNSAFE_IN_MESSAGES,
    c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Shows a key, kind or other name from outside in a message: as it is when
 * it is short and printable ASCII, quoted (see {@link quote}) otherwise.
 *
 * @public
 */
export function showName(value: string, max = 100): string {
  return value.length <= max && /^[\x21-\x7e]+$/.test(value)
    ? value
    : quote(value, max);
}

/**
 * Checks the things every string crossing a trust boundary must satisfy:
 * a string, non-empty, bounded, no control characters.
 */
export function checkPlainString(
  what: string,
  value: unknown,
  maxLength: number,
): Checked<string> {
  if (typeof value !== 'string') {
    return refuse(`${what} must be a string`);
  }
  if (value.length === 0) {
    return refuse(`${what} must not be empty`);
  }
  if (value.length > maxLength) {
    return refuse(`${what} is longer than ${maxLength} characters`);
  }
  if (CONTROL_CHARACTERS.test(value)) {
    return refuse(`${what} ${quote(value)} contains control characters`);
  }
  return accept(value);
}
