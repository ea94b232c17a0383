import { LogStreamLimiter, LogStreamSlot } from './LogStreamLimiter';

const limits = { maxPerCaller: 2, maxTotal: 3, slowClientSeconds: 30 };
const slot = (s: LogStreamSlot | { refused: string }) => {
  if ('refused' in s) {
    throw new Error(s.refused);
  }
  return s;
};

describe('LogStreamLimiter', () => {
  it('refuses a caller past its own limit, not another caller', () => {
    const limiter = new LogStreamLimiter(limits);
    slot(limiter.acquire('user:default/erin'));
    slot(limiter.acquire('user:default/erin'));
    expect(limiter.acquire('user:default/erin')).toEqual({
      refused:
        'user:default/erin already has 2 open log streams (sealedRunner.logStreams.maxPerCaller: 2); close one first',
    });
    expect('release' in limiter.acquire('user:default/pat')).toBe(true);
  });

  it('refuses everyone past the total', () => {
    const limiter = new LogStreamLimiter(limits);
    ['a', 'b', 'c'].forEach(c => slot(limiter.acquire(c)));
    expect(limiter.acquire('d')).toEqual({
      refused:
        'this backend already serves 3 log streams (sealedRunner.logStreams.maxTotal: 3); try again shortly',
    });
  });

  it('frees a slot once however often it is released', () => {
    const limiter = new LogStreamLimiter(limits);
    const first = slot(limiter.acquire('erin'));
    slot(limiter.acquire('erin'));
    first.release();
    first.release();
    expect(limiter.openStreams).toBe(1);
    slot(limiter.acquire('erin'));
    expect('refused' in limiter.acquire('erin')).toBe(true);
  });
});
