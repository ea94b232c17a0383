import { limitLogLines, LOG_ROW_BYTES } from './logLimits';

const ROW = LOG_ROW_BYTES;
const limits = { maxLines: 5, maxBytes: 20 + 5 * ROW };
const fresh = { lines: 0, bytes: 0, truncated: false };

describe('limitLogLines', () => {
  it('keeps every line within the limits', () => {
    expect(limitLogLines(fresh, ['a', 'b'], limits)).toEqual({
      kept: ['a', 'b'],
      tally: { lines: 2, bytes: 2 + 2 * ROW, truncated: false },
    });
  });

  it.each([
    [
      'the line limit',
      { lines: 4, bytes: 4 + 4 * ROW, truncated: false },
      ['e', 'f', 'g'],
      ['e'],
    ],
    [
      'the byte limit',
      { lines: 1, bytes: 16 + 4 * ROW, truncated: false },
      ['12345', '6'],
      [],
    ],
    [
      'the rows a line costs',
      { lines: 1, bytes: 1 + 4 * ROW, truncated: false },
      ['a', 'b'],
      ['a'],
    ],
    [
      'multi-byte characters by their bytes',
      { lines: 0, bytes: 16 + 3 * ROW, truncated: false },
      ['€', 'é'],
      ['€'],
    ],
  ])('cuts at %s with one marker', (_, tally, incoming, kept) => {
    const result = limitLogLines(tally, incoming, limits);
    expect(result.kept.slice(0, -1)).toEqual(kept);
    expect(result.kept.at(-1)).toMatch(
      new RegExp(
        `^\\[sealed-runner backend\\] log truncated: this run's log reached its limit of 5 lines or ${
          20 + 5 * ROW
        } bytes`,
      ),
    );
    expect(result.tally.truncated).toBe(true);
  });

  it('keeps nothing, not even another marker, once truncated', () => {
    const once = limitLogLines(fresh, ['x'.repeat(limits.maxBytes)], limits);
    expect(once.kept).toHaveLength(1);
    expect(limitLogLines(once.tally, ['a', 'b'], limits)).toEqual({
      kept: [],
      tally: once.tally,
    });
  });
});
