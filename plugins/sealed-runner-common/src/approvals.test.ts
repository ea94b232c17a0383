import {
  countedApprovals,
  isUserActor,
  missingApprovals,
  requiredApprovalsFor,
} from './approvals';

const CI = 'service:ci-pipeline';
const ERIN = 'user:default/erin';
const approval = (by: string) => ({ by, at: '2026-01-01T00:00:00.000Z' });

describe('isUserActor', () => {
  it.each([
    ['user:default/erin', true],
    ['User:Default/Erin', true],
    ['user:default/service', true],
    [CI, false],
    ['service:user:default/pat', false],
    ['ci-pipeline', false],
    ['user:default/pat/x', false],
    ['user:pat', false],
    ['group:default/platform-team', false],
    ['', false],
  ])('%j → %s', (actor, expected) => {
    expect(isUserActor(actor)).toBe(expected);
  });
});

describe('requiredApprovalsFor', () => {
  it.each<[string, string, number, number]>([
    ['a person, one required', ERIN, 1, 1],
    ['a service, one required', CI, 1, 2],
    ['a service, two required', CI, 2, 3],
    ['a service where none are required', CI, 0, 0],
    [
      'a service whose subject looks like a user',
      'service:user:default/pat',
      1,
      2,
    ],
    ['a person whose name starts with service', 'user:default/service', 1, 1],
    ['a service recorded before services were prefixed', 'ci-pipeline', 1, 2],
    ['something that only starts like a user ref', 'user:default/pat/x', 1, 2],
  ])('%s', (_, requestedBy, requiredApprovals, expected) => {
    expect(requiredApprovalsFor({ requestedBy }, { requiredApprovals })).toBe(
      expected,
    );
  });
});

describe('countedApprovals', () => {
  it.each([
    ['no approvals', [], []],
    ['one by someone else', ['user:default/pat'], ['user:default/pat']],
    ['only the requester', [ERIN], []],
    ['the requester in another case', ['User:Default/ERIN'], []],
    [
      'the requester and two others',
      ['user:default/pat', ERIN, 'user:default/sam'],
      ['user:default/pat', 'user:default/sam'],
    ],
  ])('%s', (_, by, expected) => {
    expect(
      countedApprovals({ requestedBy: ERIN }, by.map(approval)).map(a => a.by),
    ).toEqual(expected);
  });
});

describe('missingApprovals', () => {
  it.each<[string, string, string[], number, number]>([
    ['a person, none yet', ERIN, [], 1, 1],
    ['a person, approved', ERIN, ['user:default/pat'], 1, 0],
    ['a person who approved their own plan', ERIN, [ERIN], 1, 1],
    ['the requester under another spelling', ERIN, ['USER:default/Erin'], 1, 1],
    [
      'a person, more approvals than needed',
      ERIN,
      ['user:default/pat', 'user:default/sam'],
      1,
      0,
    ],
    ['a service, one approval', CI, ['user:default/pat'], 1, 1],
    [
      'a service, two approvals',
      CI,
      ['user:default/pat', 'user:default/sam'],
      1,
      0,
    ],
    ['none required', ERIN, [], 0, 0],
    ['two required, one given', ERIN, ['user:default/pat'], 2, 1],
  ])('%s', (_, requestedBy, by, requiredApprovals, expected) => {
    expect(
      missingApprovals({ requestedBy }, by.map(approval), {
        requiredApprovals,
      }),
    ).toBe(expected);
  });
});
