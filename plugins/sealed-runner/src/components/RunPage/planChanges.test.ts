import { ResourceAction } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ChangeKind, changeKind, groupChanges } from './planChanges';

describe('changeKind', () => {
  it.each<[ResourceAction[], ChangeKind]>([
    [['create'], 'create'],
    [['update'], 'update'],
    [['delete'], 'delete'],
    [['delete', 'create'], 'replace'],
    [['create', 'delete'], 'replace'],
    [['read'], 'read'],
    [['no-op'], 'no-op'],
    [[], 'no-op'],
  ])('%j → %s', (actions, expected) => {
    expect(changeKind({ address: 'aws_s3_bucket.logs', actions })).toBe(
      expected,
    );
  });
});

describe('groupChanges', () => {
  it('puts the most dangerous kinds first and sorts addresses within a kind', () => {
    const groups = groupChanges([
      { address: 'aws_s3_bucket.b', actions: ['create'] },
      { address: 'data.aws_iam_policy.p', actions: ['read'] },
      { address: 'aws_instance.web', actions: ['create', 'delete'] },
      { address: 'aws_s3_bucket.a', actions: ['create'] },
      { address: 'aws_security_group.sg', actions: ['update'] },
      { address: 'aws_db_instance.main', actions: ['delete'] },
      { address: 'aws_iam_role.r', actions: ['no-op'] },
      { address: 'aws_instance.api', actions: ['delete', 'create'] },
    ]);
    expect(groups).toEqual([
      { kind: 'delete', addresses: ['aws_db_instance.main'] },
      { kind: 'replace', addresses: ['aws_instance.api', 'aws_instance.web'] },
      { kind: 'update', addresses: ['aws_security_group.sg'] },
      { kind: 'create', addresses: ['aws_s3_bucket.a', 'aws_s3_bucket.b'] },
      { kind: 'read', addresses: ['data.aws_iam_policy.p'] },
      { kind: 'no-op', addresses: ['aws_iam_role.r'] },
    ]);
  });

  it('leaves out kinds without changes', () => {
    expect(
      groupChanges([
        { address: 'module.db.aws_db_instance.x', actions: ['create'] },
        { address: 'aws_s3_bucket.old', actions: ['delete'] },
      ]).map(g => g.kind),
    ).toEqual(['delete', 'create']);
  });

  it('returns no groups for a plan without changes', () => {
    expect(groupChanges([])).toEqual([]);
  });

  it('does not reorder the caller’s changes', () => {
    const changes = [
      { address: 'b', actions: ['create' as const] },
      { address: 'a', actions: ['create' as const] },
    ];
    groupChanges(changes);
    expect(changes.map(c => c.address)).toEqual(['b', 'a']);
  });
});
