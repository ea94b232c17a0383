import {
  assembleFrames,
  frameLine,
  MAX_UNFRAMED_LINE_BYTES,
} from './logFrames';

/** What CloudWatch Logs does to a line over 16 KiB: separate events. */
const CLOUDWATCH_SPLIT_BYTES = 16 * 1024;

describe('log frames', () => {
  const result = JSON.stringify({
    type: 'result',
    status: 'succeeded',
    changes: Array.from({ length: 2000 }, (_, i) => ({
      address: `module.x.terraform_data.r${i}["ü→${i}"]`,
      actions: ['create'],
    })),
  });

  it('passes short lines unchanged', () => {
    const line = '{"type":"log","line":"hello"}';
    expect(frameLine(line, 0)).toEqual([line]);
    expect(assembleFrames([line], undefined)).toEqual({
      lines: [line],
      pending: undefined,
    });
  });

  it('frames a long line into pieces CloudWatch will not split, and reassembles it exactly', () => {
    const frames = frameLine(result, 7);
    expect(Buffer.byteLength(result)).toBeGreaterThan(MAX_UNFRAMED_LINE_BYTES);
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames) {
      expect(Buffer.byteLength(frame)).toBeLessThan(CLOUDWATCH_SPLIT_BYTES);
    }
    expect(
      assembleFrames(['before', ...frames, 'after'], undefined).lines,
    ).toEqual(['before', result, 'after']);
  });

  it('carries an incomplete line across polls', () => {
    const frames = frameLine(result, 1);
    const first = assembleFrames(frames.slice(0, 2), undefined);
    expect(first.lines).toEqual([]);
    // The pending frames survive a round trip through a persisted cursor.
    const pending = JSON.parse(JSON.stringify(first.pending));
    expect(assembleFrames(frames.slice(2), pending).lines).toEqual([result]);
  });

  it('drops a line whose frames are missing or out of order, never inventing one', () => {
    const frames = frameLine(result, 2);
    expect(
      assembleFrames([frames[0], frames[2], ...frames.slice(3)], undefined)
        .lines,
    ).toEqual([]);
    expect(assembleFrames(frames.slice(1), undefined).lines).toEqual([]);
    const other = frameLine(result, 3);
    expect(assembleFrames([frames[0], other[1]], undefined).lines).toEqual([]);
  });

  it.each([
    '{"type":"frame","id":1,"part":0,"parts":1,"data":"eA=="}',
    '{"type":"frame","id":1,"part":0,"parts":99999,"data":"eA=="}',
    '{"type":"frame","id":1,"part":-1,"parts":2,"data":"eA=="}',
    '{"type":"frame", broken',
  ])('passes a malformed frame through as a plain line: %s', line => {
    expect(assembleFrames([line], undefined).lines).toEqual([line]);
  });
});
