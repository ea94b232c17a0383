import { formatDuration, timeAgo } from './time';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const before = (ms: number) => new Date(NOW - ms).toISOString();

describe('timeAgo', () => {
  it.each<[number, string]>([
    [0, 'now'],
    [400, 'now'],
    [5_000, '5 seconds ago'],
    [59_000, '59 seconds ago'],
    [60_000, '1 minute ago'],
    [3 * 60_000 + 10_000, '3 minutes ago'],
    [3_600_000, '1 hour ago'],
    [86_400_000, 'yesterday'],
    [3 * 86_400_000, '3 days ago'],
    [-2 * 60_000, 'in 2 minutes'],
  ])('%i ms ago → %s', (ago, expected) => {
    expect(timeAgo(before(ago), NOW)).toBe(expected);
  });
});

describe('formatDuration', () => {
  it.each<[string, number]>([
    ['0s', 0],
    ['42s', 42_000],
    ['1m 05s', 65_000],
    ['59m 59s', 3_599_000],
    ['1h 00m', 3_600_000],
    ['2h 07m', 2 * 3_600_000 + 7 * 60_000 + 30_000],
  ])('%s', (expected, ms) => {
    expect(formatDuration(before(ms), new Date(NOW).toISOString())).toBe(
      expected,
    );
  });

  it('measures until now while the run goes on', () => {
    expect(formatDuration(before(90_000), undefined, NOW)).toBe('1m 30s');
  });

  it('never counts backwards when clocks disagree', () => {
    expect(
      formatDuration(new Date(NOW + 5_000).toISOString(), undefined, NOW),
    ).toBe('0s');
  });
});
