import { ConflictError, NotAllowedError } from '@backstage/errors';
import { Approval } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { EnvironmentConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { PlanSnapshot, RunRecord } from '../database/RunStore';
import {
  decideApply,
  decideApproval,
  decideCancel,
  decidePlanRequest,
  enforce,
} from './decisions';

const PLAN_SHA = 'a'.repeat(40);
const OTHER_SHA = 'b'.repeat(40);
const PLAN_FILE_SHA = 'c'.repeat(64);

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: 'plan-1',
    entityRef: 'component:default/payments',
    environment: 'prod',
    operation: 'plan',
    status: 'succeeded',
    ref: 'main',
    commitSha: PLAN_SHA,
    requestedBy: 'user:default/erin',
    createdAt: '2026-01-01T00:00:00.000Z',
    approvals: [],
    repository: 'https://git.example.com/acme/live.git',
    path: 'live/prod/payments',
    lockKey: 'f'.repeat(64),
    planSha256: PLAN_FILE_SHA,
    job: {} as RunRecord['job'],
    logCount: 0,
    ...overrides,
  };
}

function snapshot(
  plan: Partial<RunRecord> = {},
  rest: { approvals?: Approval[]; applyRuns?: Partial<RunRecord>[] } = {},
): PlanSnapshot {
  const approvals = rest.approvals ?? [];
  return {
    plan: run({ ...plan, approvals }),
    approvals,
    applyRuns: (rest.applyRuns ?? []).map((r, i) =>
      run({ id: `apply-${i}`, operation: 'apply', planRunId: 'plan-1', ...r }),
    ),
  };
}

const approval = (by: string): Approval => ({
  by,
  at: '2026-01-01T01:00:00.000Z',
});

function env(overrides: Partial<EnvironmentConfig> = {}): EnvironmentConfig {
  return {
    applyBranches: ['main'],
    requiredApprovals: 1,
    serviceRequests: 'extra-approval',
    ...overrides,
  };
}

const pat = {
  userEntityRef: 'user:default/pat',
  ownershipEntityRefs: ['user:default/pat'],
};

describe('decideApproval', () => {
  it.each<[string, PlanSnapshot, typeof pat, EnvironmentConfig]>([
    ['another user, no approvers list', snapshot(), pat, env()],
    [
      'a user listed by user ref',
      snapshot(),
      pat,
      env({ approvers: ['user:default/pat'] }),
    ],
    [
      'a member of a listed group',
      snapshot(),
      {
        ...pat,
        ownershipEntityRefs: [
          'user:default/pat',
          'group:default/platform-team',
        ],
      },
      env({ approvers: ['group:default/platform-team'] }),
    ],
    [
      'a member of a listed group, refs in another case',
      snapshot(),
      { ...pat, ownershipEntityRefs: ['Group:Default/Platform-Team'] },
      env({ approvers: ['group:default/platform-team'] }),
    ],
    [
      'a plan whose apply failed',
      snapshot({}, { applyRuns: [{ status: 'failed' }] }),
      pat,
      env(),
    ],
    [
      'a plan whose apply was cancelled',
      snapshot(
        {},
        { applyRuns: [{ status: 'cancelled' }, { status: 'rejected' }] },
      ),
      pat,
      env(),
    ],
    [
      'a plan already approved by someone else',
      snapshot({}, { approvals: [approval('user:default/sam')] }),
      pat,
      env(),
    ],
  ])('allows %s', (_, snap, approver, environment) => {
    expect(decideApproval(snap, approver, environment)).toEqual({
      allowed: true,
    });
  });

  it.each<
    [
      string,
      PlanSnapshot,
      typeof pat,
      EnvironmentConfig,
      'conflict' | 'forbidden',
      RegExp,
    ]
  >([
    [
      'a plan of a branch that can never be applied to the environment',
      snapshot({ ref: 'feature' }),
      pat,
      env(),
      'conflict',
      /branch feature may not be applied to prod \(apply branches: main\); its plan cannot be approved/,
    ],
    [
      'the requester (four-eyes)',
      snapshot(),
      {
        userEntityRef: 'user:default/erin',
        ownershipEntityRefs: ['user:default/erin'],
      },
      env(),
      'forbidden',
      /four-eyes/,
    ],
    [
      'the requester in another case',
      snapshot(),
      { userEntityRef: 'User:Default/Erin', ownershipEntityRefs: [] },
      env(),
      'forbidden',
      /four-eyes/,
    ],
    [
      'the requester even when in the approvers group',
      snapshot(),
      {
        userEntityRef: 'user:default/erin',
        ownershipEntityRefs: ['group:default/platform-team'],
      },
      env({ approvers: ['group:default/platform-team'] }),
      'forbidden',
      /four-eyes/,
    ],
    [
      'someone not on the approvers list',
      snapshot(),
      {
        ...pat,
        ownershipEntityRefs: [
          'user:default/pat',
          'group:default/payments-team',
        ],
      },
      env({ approvers: ['group:default/platform-team', 'user:default/sam'] }),
      'forbidden',
      /only group:default\/platform-team, user:default\/sam may approve plans for prod/,
    ],
    [
      'an apply run',
      snapshot({ operation: 'apply' }),
      pat,
      env(),
      'conflict',
      /is an apply, not a plan/,
    ],
    ...(['queued', 'running', 'failed', 'rejected', 'cancelled'] as const).map(
      status =>
        [
          `a ${status} plan`,
          snapshot({ status }),
          pat,
          env(),
          'conflict',
          new RegExp(`plan plan-1 is ${status}; only a succeeded plan`),
        ] as [
          string,
          PlanSnapshot,
          typeof pat,
          EnvironmentConfig,
          'conflict',
          RegExp,
        ],
    ),
    [
      'a superseded (stale) plan',
      snapshot({ supersededBy: 'plan-2' }),
      pat,
      env(),
      'conflict',
      /stale: newer plan plan-2 exists/,
    ],
    ...(['queued', 'running', 'succeeded'] as const).map(
      status =>
        [
          `a plan with a ${status} apply`,
          snapshot({}, { applyRuns: [{ status: 'failed' }, { status }] }),
          pat,
          env(),
          'conflict',
          new RegExp(`already been applied by run apply-1 \\(${status}\\)`),
        ] as [
          string,
          PlanSnapshot,
          typeof pat,
          EnvironmentConfig,
          'conflict',
          RegExp,
        ],
    ),
    [
      'a plan without a saved plan file',
      snapshot({ planSha256: undefined }),
      pat,
      env(),
      'conflict',
      /no saved plan file/,
    ],
  ])('refuses %s', (_, snap, approver, environment, kind, reason) => {
    expect(decideApproval(snap, approver, environment)).toEqual({
      allowed: false,
      kind,
      reason: expect.stringMatching(reason),
    });
  });
});

describe('decideApply', () => {
  it.each<[string, PlanSnapshot, EnvironmentConfig, string | undefined]>([
    [
      'an approved plan of an apply branch',
      snapshot({}, { approvals: [approval('user:default/pat')] }),
      env(),
      PLAN_SHA,
    ],
    [
      'a plan needing no approvals',
      snapshot(),
      env({ requiredApprovals: 0 }),
      PLAN_SHA,
    ],
    [
      'any branch where applyBranches is *',
      snapshot({ ref: 'feature/x' }),
      env({ applyBranches: ['*'], requiredApprovals: 0 }),
      PLAN_SHA,
    ],
    [
      'a branch listed among several',
      snapshot(
        { ref: 'release' },
        { approvals: [approval('user:default/pat')] },
      ),
      env({ applyBranches: ['main', 'release'] }),
      PLAN_SHA,
    ],
    [
      'two approvals where two are needed',
      snapshot(
        {},
        {
          approvals: [
            approval('user:default/pat'),
            approval('user:default/sam'),
          ],
        },
      ),
      env({ requiredApprovals: 2 }),
      PLAN_SHA,
    ],
    [
      'a plan whose earlier apply failed',
      snapshot(
        {},
        {
          approvals: [approval('user:default/pat')],
          applyRuns: [{ status: 'failed' }],
        },
      ),
      env(),
      PLAN_SHA,
    ],
  ])('allows %s', (_, snap, environment, head) => {
    expect(decideApply(snap, environment, head)).toEqual({ allowed: true });
  });

  const approved = { approvals: [approval('user:default/pat')] };

  it.each<
    [
      string,
      PlanSnapshot,
      EnvironmentConfig,
      string | undefined,
      'conflict' | 'forbidden',
      RegExp,
    ]
  >([
    [
      'a branch that is not an apply branch',
      snapshot({ ref: 'feature' }, approved),
      env(),
      PLAN_SHA,
      'forbidden',
      /branch feature may not be applied to prod \(apply branches: main\)/,
    ],
    [
      'a branch whose name only starts like an apply branch',
      snapshot({ ref: 'main-2' }, approved),
      env(),
      PLAN_SHA,
      'forbidden',
      /branch main-2 may not be applied/,
    ],
    [
      'a plan without approvals',
      snapshot(),
      env(),
      PLAN_SHA,
      'conflict',
      /needs 1 more approval from someone other than user:default\/erin/,
    ],
    [
      'a plan approved only by its requester',
      snapshot({}, { approvals: [approval('user:default/erin')] }),
      env(),
      PLAN_SHA,
      'conflict',
      /needs 1 more approval from/,
    ],
    [
      'a plan approved by its requester in another case',
      snapshot({}, { approvals: [approval('USER:default/Erin')] }),
      env(),
      PLAN_SHA,
      'conflict',
      /needs 1 more approval from/,
    ],
    [
      'a plan with one of three approvals',
      snapshot(
        {},
        {
          approvals: [
            approval('user:default/erin'),
            approval('user:default/pat'),
          ],
        },
      ),
      env({ requiredApprovals: 3 }),
      PLAN_SHA,
      'conflict',
      /needs 2 more approvals from/,
    ],
    [
      'a plan whose branch moved',
      snapshot({}, approved),
      env(),
      OTHER_SHA,
      'conflict',
      new RegExp(
        `branch main moved since this plan \\(planned ${PLAN_SHA.slice(
          0,
          12,
        )}, now ${OTHER_SHA.slice(0, 12)}\\)`,
      ),
    ],
    [
      'a plan whose branch was deleted',
      snapshot({}, approved),
      env(),
      undefined,
      'conflict',
      /branch main no longer exists/,
    ],
    [
      'a stale plan',
      snapshot({ supersededBy: 'plan-2' }, approved),
      env(),
      PLAN_SHA,
      'conflict',
      /stale/,
    ],
    [
      'a plan with a running apply',
      snapshot({}, { ...approved, applyRuns: [{ status: 'running' }] }),
      env(),
      PLAN_SHA,
      'conflict',
      /already been applied by run apply-0 \(running\)/,
    ],
    [
      'a failed plan',
      snapshot({ status: 'failed' }, approved),
      env(),
      PLAN_SHA,
      'conflict',
      /is failed/,
    ],
    [
      'an apply run',
      snapshot({ operation: 'apply' }, approved),
      env(),
      PLAN_SHA,
      'conflict',
      /is an apply, not a plan/,
    ],
    [
      'a plan without a saved plan file',
      snapshot({ planSha256: undefined }, approved),
      env(),
      PLAN_SHA,
      'conflict',
      /no saved plan file/,
    ],
  ])('refuses %s', (_, snap, environment, head, kind, reason) => {
    expect(decideApply(snap, environment, head)).toEqual({
      allowed: false,
      kind,
      reason: expect.stringMatching(reason),
    });
  });
});

describe('plans a service requested', () => {
  const CI = 'service:ci-pipeline';

  it('counts a person approving a CI plan, and still needs one more before apply', () => {
    const plan = snapshot(
      { requestedBy: CI },
      { approvals: [approval('user:default/pat')] },
    );
    const decision = decideApply(plan, env(), PLAN_SHA);
    expect(decision).toMatchObject({ allowed: false, kind: 'conflict' });
    expect(decision.allowed || decision.reason).toMatch(
      /needs 1 more approval from someone other than service:ci-pipeline \(a service requested it: one more than prod's 1\)/,
    );
    const twice = snapshot(
      { requestedBy: CI },
      {
        approvals: [approval('user:default/pat'), approval('user:default/sam')],
      },
    );
    expect(decideApply(twice, env(), PLAN_SHA)).toEqual({ allowed: true });
  });

  it.each<[string, string, EnvironmentConfig['serviceRequests'], boolean]>([
    ['a service where services are denied', CI, 'deny', false],
    ['a service by default', CI, 'extra-approval', true],
    ['a person where services are denied', 'user:default/erin', 'deny', true],
  ])(
    'decides a plan request from %s',
    (_, requester, serviceRequests, allowed) => {
      expect(
        decidePlanRequest(requester, 'prod', env({ serviceRequests })).allowed,
      ).toBe(allowed);
    },
  );
});

describe('decideCancel', () => {
  it.each(['queued', 'running'] as const)('allows a %s run', status => {
    expect(decideCancel(run({ status }))).toEqual({ allowed: true });
  });

  it.each(['succeeded', 'failed', 'rejected', 'cancelled'] as const)(
    'refuses a %s run',
    status => {
      expect(decideCancel(run({ status }))).toEqual({
        allowed: false,
        kind: 'conflict',
        reason: `run plan-1 is ${status}; only queued or running runs can be cancelled`,
      });
    },
  );
});

describe('enforce', () => {
  it.each([
    ['conflict', ConflictError],
    ['forbidden', NotAllowedError],
  ] as const)(
    'throws %s as the matching Backstage error',
    (kind, ErrorType) => {
      expect(() => enforce({ allowed: false, kind, reason: 'no' })).toThrow(
        ErrorType,
      );
      expect(() => enforce({ allowed: false, kind, reason: 'no' })).toThrow(
        'no',
      );
    },
  );

  it('does nothing when allowed', () => {
    expect(() => enforce({ allowed: true })).not.toThrow();
  });
});
