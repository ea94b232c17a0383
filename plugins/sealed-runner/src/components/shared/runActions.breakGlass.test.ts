import {
  ALICE,
  BOB,
  makeRun,
  makeSession,
  makeTarget,
} from '../../__testUtils__/fixtures';
import {
  appliesUnderBreakGlass,
  applyBlocker,
  holdsBreakGlass,
} from './runActions';

const bob = { userEntityRef: BOB, ownershipEntityRefs: [BOB] };
const NOW = Date.parse('2024-05-01T12:00:00.000Z');

describe('holdsBreakGlass', () => {
  const open = makeSession({ expiresAt: '2024-05-01T13:00:00.000Z' });
  it.each([
    ['the opener of an open session', open, bob, true],
    [
      'the opener, spelled in another case',
      open,
      { ...bob, userEntityRef: 'User:default/BOB' },
      true,
    ],
    [
      'someone else',
      makeSession({ openedBy: ALICE, expiresAt: open.expiresAt }),
      bob,
      false,
    ],
    [
      'the opener of an expired session',
      makeSession({ expiresAt: '2024-05-01T12:00:00.000Z' }),
      bob,
      false,
    ],
    [
      'the opener of a closed session',
      makeSession({
        expiresAt: open.expiresAt,
        closedAt: '2024-05-01T11:59:00.000Z',
        closeReason: 'closed',
      }),
      bob,
      false,
    ],
    ['no session', undefined, bob, false],
    ['no viewer yet', open, undefined, false],
  ] as const)('%s → %s', (_, session, viewer, expected) => {
    expect(holdsBreakGlass(session, viewer, NOW)).toBe(expected);
  });
});

describe('applyBlocker under break-glass', () => {
  const target = makeTarget({ requiredApprovals: 2, applyBranches: ['main'] });
  it.each([
    ['missing approvals', makeRun(), undefined, true],
    [
      'a branch that is not an apply branch',
      makeRun({ ref: 'hotfix' }),
      undefined,
      true,
    ],
    [
      'a superseded plan',
      makeRun({ supersededBy: 'run-2' }),
      'a newer plan (run-2) replaced this one',
      false,
    ],
    [
      'an applied plan',
      makeRun({ applyRunId: 'run-3' }),
      'this plan was applied by run run-3',
      false,
    ],
    ['a failed plan', makeRun({ status: 'failed' }), 'the plan failed', false],
    [
      'a running plan',
      makeRun({ status: 'running' }),
      'the plan has not finished',
      false,
    ],
  ] as const)('%s', (_, plan, blocker, waived) => {
    expect(applyBlocker(plan, target, { underBreakGlass: true })).toBe(blocker);
    expect(appliesUnderBreakGlass(plan, target, true)).toBe(waived);
    // Without a session, nothing changes.
    expect(applyBlocker(plan, target)).toBeDefined();
    expect(appliesUnderBreakGlass(plan, target, false)).toBe(false);
  });

  it('still refuses a locked target', () => {
    expect(
      applyBlocker(makeRun(), makeTarget({ locked: true, lockedBy: 'run-9' }), {
        underBreakGlass: true,
      }),
    ).toBe('target locked by run run-9');
  });

  it('is not needed, and not claimed, for an approved plan', () => {
    const approved = makeRun({
      approvals: [{ by: BOB, at: '2024-05-01T11:00:00Z' }],
    });
    const one = makeTarget({ requiredApprovals: 1 });
    expect(applyBlocker(approved, one)).toBeUndefined();
    expect(appliesUnderBreakGlass(approved, one, true)).toBe(false);
  });
});
