/**
 * On ECS the runner's events travel through the container's log driver to
 * CloudWatch Logs, which splits lines longer than 16 KiB into separate log
 * events. A result with many resource changes is longer than that, so the
 * ECS runner writes such a line as frames small enough to pass whole, and
 * the ECS dispatcher puts them back together before the backend parses
 * the line.
 */

/** Lines up to this many bytes pass as they are. */
export const MAX_UNFRAMED_LINE_BYTES = 8 * 1024;
/** Bytes of the line per frame: base64 makes 10.7 KiB of it, well under 16 KiB. */
const FRAME_DATA_BYTES = 8 * 1024;
/** 32 MiB: larger than the largest event a runner writes. */
const MAX_FRAMES = 4096;

interface Frame {
  type: 'frame';
  id: number;
  part: number;
  parts: number;
  data: string;
}

/** The lines to write for one event line. */
export function frameLine(line: string, id: number): string[] {
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= MAX_UNFRAMED_LINE_BYTES) {
    return [line];
  }
  const parts = Math.ceil(bytes.length / FRAME_DATA_BYTES);
  return Array.from({ length: parts }, (_, part) => {
    const frame: Frame = {
      type: 'frame',
      id,
      part,
      parts,
      data: bytes
        .subarray(part * FRAME_DATA_BYTES, (part + 1) * FRAME_DATA_BYTES)
        .toString('base64'),
    };
    return JSON.stringify(frame);
  });
}

function parseFrame(line: string): Frame | undefined {
  if (!line.startsWith('{"type":"frame"')) {
    return undefined;
  }
  try {
    const frame = JSON.parse(line) as Frame;
    const valid =
      Number.isSafeInteger(frame.id) &&
      Number.isSafeInteger(frame.part) &&
      Number.isSafeInteger(frame.parts) &&
      frame.parts > 1 &&
      frame.parts <= MAX_FRAMES &&
      frame.part >= 0 &&
      frame.part < frame.parts &&
      typeof frame.data === 'string';
    return valid ? frame : undefined;
  } catch {
    return undefined;
  }
}

/** Frames of a line not yet complete; serialisable, so it can live in a cursor. */
export interface PendingFrames {
  id: number;
  parts: number;
  data: string[];
}

/**
 * Puts framed lines back together. Frames arrive in order (one writer, one
 * stream); a frame out of sequence drops the incomplete line, which then
 * never reaches the backend — a run whose result is lost fails for lack of
 * a result, it is never given a made-up one.
 */
export function assembleFrames(
  lines: string[],
  pending: PendingFrames | undefined,
): { lines: string[]; pending: PendingFrames | undefined } {
  const out: string[] = [];
  let current = pending;
  for (const line of lines) {
    const frame = parseFrame(line);
    if (!frame) {
      current = undefined;
      out.push(line);
      continue;
    }
    if (frame.part === 0) {
      current = { id: frame.id, parts: frame.parts, data: [] };
    }
    if (
      !current ||
      current.id !== frame.id ||
      current.parts !== frame.parts ||
      current.data.length !== frame.part
    ) {
      current = undefined;
      continue;
    }
    current.data.push(frame.data);
    if (current.data.length === current.parts) {
      out.push(
        Buffer.concat(current.data.map(d => Buffer.from(d, 'base64'))).toString(
          'utf8',
        ),
      );
      current = undefined;
    }
  }
  return { lines: out, pending: current };
}
