import {
  Run,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  ALICE,
  BOB,
  makeRun,
  makeTarget,
  PLATFORM_TEAM,
} from '../../__testUtils__/fixtures';
import {
  applyBlocker,
  approveBlocker,
  displayRef,
  isActive,
  isOpenPlan,
  missingApprovals,
  planBlocker,
  Viewer,
} from './runActions';

const bob: Viewer = {
  userEntityRef: BOB,
  ownershipEntityRefs: [BOB, PLATFORM_TEAM],
};
const approval = (by: string) => ({ by, at: '2024-05-01T11:00:00.000Z' });

describe('approveBlocker', () => {
  it.each<[string, Partial<Run>, Partial<Target>, Viewer, string | undefined]>([
    ['another owner may approve an open plan', {}, {}, bob, undefined],
    [
      'the requester may not approve (four eyes)',
      {},
      {},
      { ...bob, userEntityRef: ALICE },
      'you requested this plan',
    ],
    [
      'the requester may not approve, whatever the case of the ref',
      { requestedBy: 'user:default/Alice' },
      {},
      { ...bob, userEntityRef: 'User:default/ALICE' },
      'you requested this plan',
    ],
    [
      'nobody approves twice',
      { approvals: [approval(BOB)] },
      {},
      bob,
      'you already approved this plan',
    ],
    [
      'nobody approves twice, whatever the case of the ref',
      { approvals: [approval('user:default/BOB')] },
      {},
      bob,
      'you already approved this plan',
    ],
    [
      'a second approver may add to an existing approval',
      { approvals: [approval('user:default/carol')] },
      { requiredApprovals: 2 },
      bob,
      undefined,
    ],
    [
      'outside the approvers group, nobody may approve',
      {},
      { approvers: [PLATFORM_TEAM] },
      {
        userEntityRef: BOB,
        ownershipEntityRefs: [BOB, 'group:default/payments-team'],
      },
      'only platform-team may approve prod',
    ],
    [
      'the approvers list is named as Backstage shows refs',
      {},
      { approvers: [PLATFORM_TEAM, 'user:security/carol'] },
      { userEntityRef: BOB, ownershipEntityRefs: [BOB] },
      'only platform-team, security/carol may approve prod',
    ],
    [
      'members of the approvers group may approve',
      {},
      { approvers: [PLATFORM_TEAM] },
      bob,
      undefined,
    ],
    [
      'approver group membership is compared case-insensitively',
      {},
      { approvers: ['group:default/Platform-Team'] },
      bob,
      undefined,
    ],
    [
      'an environment without approvals needs none',
      {},
      { requiredApprovals: 0 },
      bob,
      'prod needs no approvals',
    ],
    [
      'a plan of a branch that may not be applied',
      { ref: 'feature/x' },
      { applyBranches: ['main', 'release'] },
      bob,
      'feature/x is not an apply branch of prod (main, release)',
    ],
    [
      'a plan where no branch may be applied',
      { ref: 'main' },
      { applyBranches: [] },
      bob,
      'main is not an apply branch of prod (none)',
    ],
    [
      'any branch may be applied with *',
      { ref: 'feature/x' },
      { applyBranches: ['*'] },
      bob,
      undefined,
    ],
    [
      'a superseded plan',
      { supersededBy: 'run-plan-2' },
      {},
      bob,
      'a newer plan (run-plan-2) replaced this one',
    ],
    [
      'an applied plan',
      { applyRunId: 'run-apply-1' },
      {},
      bob,
      'this plan was applied by run run-apply-1',
    ],
    [
      'an applied plan, even when also superseded',
      { applyRunId: 'run-apply-1', supersededBy: 'run-plan-2' },
      {},
      bob,
      'this plan was applied by run run-apply-1',
    ],
    [
      'a running plan',
      { status: 'running' },
      {},
      bob,
      'the plan has not finished',
    ],
    [
      'a queued plan',
      { status: 'queued' },
      {},
      bob,
      'the plan has not finished',
    ],
    ['a failed plan', { status: 'failed' }, {}, bob, 'the plan failed'],
    [
      'a rejected plan',
      { status: 'rejected' },
      {},
      bob,
      'the plan was rejected',
    ],
    [
      'the requester of an applied plan is told it was applied, not four-eyes',
      { applyRunId: 'run-apply-1' },
      {},
      { ...bob, userEntityRef: ALICE },
      'this plan was applied by run run-apply-1',
    ],
  ])('%s', (_, run, target, viewer, expected) => {
    expect(approveBlocker(makeRun(run), makeTarget(target), viewer)).toBe(
      expected,
    );
  });
});

describe('applyBlocker', () => {
  it.each<[string, Partial<Run>, Partial<Target>, string | undefined]>([
    [
      'an approved plan may be applied',
      { approvals: [approval(BOB)] },
      {},
      undefined,
    ],
    [
      'a plan of an environment without approvals may be applied',
      {},
      { requiredApprovals: 0 },
      undefined,
    ],
    [
      'an unapproved plan needs 1 more approval',
      {},
      {},
      'needs 1 more approval',
    ],
    [
      'two missing approvals are counted',
      {},
      { requiredApprovals: 2 },
      'needs 2 more approvals',
    ],
    [
      'one of two approvals given',
      { approvals: [approval(BOB)] },
      { requiredApprovals: 2 },
      'needs 1 more approval',
    ],
    [
      'a locked target',
      { approvals: [approval(BOB)] },
      { locked: true, lockedBy: 'run-apply-9' },
      'target locked by run run-apply-9',
    ],
    [
      'missing approvals are named before the lock',
      {},
      { locked: true, lockedBy: 'run-apply-9' },
      'needs 1 more approval',
    ],
    [
      'a plan of a branch that may not be applied',
      { ref: 'feature/x', approvals: [approval(BOB)] },
      {},
      'feature/x is not an apply branch of prod (main)',
    ],
    [
      'a superseded plan',
      { supersededBy: 'run-plan-2' },
      { requiredApprovals: 0 },
      'a newer plan (run-plan-2) replaced this one',
    ],
    [
      'an already applied plan',
      { applyRunId: 'run-apply-1' },
      { requiredApprovals: 0 },
      'this plan was applied by run run-apply-1',
    ],
    [
      'an unfinished plan',
      { status: 'running' },
      { requiredApprovals: 0 },
      'the plan has not finished',
    ],
    [
      'a cancelled plan',
      { status: 'cancelled' },
      { requiredApprovals: 0 },
      'the plan was cancelled',
    ],
  ])('%s', (_, run, target, expected) => {
    expect(applyBlocker(makeRun(run), makeTarget(target))).toBe(expected);
  });

  it('names a lock without a known holder in plain words', () => {
    expect(
      applyBlocker(
        makeRun({ approvals: [approval(BOB)] }),
        makeTarget({ locked: true }),
      ),
    ).toBe('target locked by another run');
  });
});

describe('planBlocker', () => {
  it.each<[string, Partial<Target>, string | undefined]>([
    ['a deployable, unlocked target may be planned', {}, undefined],
    [
      'a target that is not deployable says why',
      {
        deployable: false,
        reason: 'no sealed-runner.io/repository annotation',
      },
      'no sealed-runner.io/repository annotation',
    ],
    [
      'a target that is not deployable without a reason',
      { deployable: false },
      'the target is not deployable',
    ],
    [
      'a locked target',
      { locked: true, lockedBy: 'run-apply-9' },
      'target locked by run run-apply-9',
    ],
    [
      'not deployable wins over locked',
      {
        deployable: false,
        reason: 'archived',
        locked: true,
        lockedBy: 'run-apply-9',
      },
      'archived',
    ],
  ])('%s', (_, target, expected) => {
    expect(planBlocker(makeTarget(target))).toBe(expected);
  });
});

describe('isOpenPlan', () => {
  it.each<[string, boolean, Partial<Run>]>([
    ['a succeeded plan', true, {}],
    ['a succeeded apply', false, { operation: 'apply' }],
    ['a running plan', false, { status: 'running' }],
    ['a failed plan', false, { status: 'failed' }],
    ['a superseded plan', false, { supersededBy: 'run-plan-2' }],
    ['an applied plan', false, { applyRunId: 'run-apply-1' }],
  ])('%s → %s', (_, expected, run) => {
    expect(isOpenPlan(makeRun(run))).toBe(expected);
  });
});

describe('missingApprovals', () => {
  const ERIN = 'user:default/erin';
  const CI = 'service:ci-pipeline';
  it.each<[string, number, number, number]>([
    [ERIN, 1, 0, 1],
    [ERIN, 2, 0, 2],
    [ERIN, 2, 1, 1],
    [ERIN, 2, 2, 0],
    [ERIN, 1, 3, 0],
    [ERIN, 0, 0, 0],
    // A plan CI requested needs one more, where any are required.
    [CI, 1, 1, 1],
    [CI, 1, 2, 0],
    [CI, 0, 0, 0],
  ])(
    'requested by %s: %i required, %i given → %i missing',
    (requestedBy, required, given, expected) => {
      const approvals = Array.from({ length: given }, (__, i) =>
        approval(`user:default/u${i}`),
      );
      expect(
        missingApprovals(
          makeRun({ approvals, requestedBy }),
          makeTarget({ requiredApprovals: required }),
        ),
      ).toBe(expected);
    },
  );

  it("counts as the gate counts: never the requester's own approval", () => {
    expect(
      missingApprovals(
        makeRun({
          requestedBy: ERIN,
          approvals: [approval('User:Default/Erin')],
        }),
        makeTarget({ requiredApprovals: 1 }),
      ),
    ).toBe(1);
  });
});

describe('isActive', () => {
  it.each<[Run['status'], boolean]>([
    ['queued', true],
    ['running', true],
    ['succeeded', false],
    ['failed', false],
    ['rejected', false],
    ['cancelled', false],
  ])('%s → %s', (status, expected) => {
    expect(isActive(makeRun({ status }))).toBe(expected);
  });
});

describe('displayRef', () => {
  it.each([
    ['group:default/platform-team', 'platform-team'],
    ['user:default/alice', 'alice'],
    ['user:security/carol', 'security/carol'],
    ['group:defaults/ops', 'defaults/ops'],
    ['alice', 'alice'],
  ])('%s → %s', (ref, expected) => {
    expect(displayRef(ref)).toBe(expected);
  });
});
