import { runnerEventSchema } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { MAX_ADDRESS_LENGTH, summarisePlan } from './terraform';

function showJson(
  changes: Array<{ address: string; actions: string[] }>,
): string {
  return JSON.stringify({
    format_version: '1.2',
    terraform_version: '1.11.4',
    resource_changes: changes.map(c => ({
      address: c.address,
      mode: 'managed',
      type: 'terraform_data',
      name: c.address.split('.').pop(),
      change: { actions: c.actions, before: null, after: {} },
    })),
  });
}

describe('summarisePlan', () => {
  it.each([
    ['a create', ['create'], { add: 1, change: 0, destroy: 0 }],
    ['an update', ['update'], { add: 0, change: 1, destroy: 0 }],
    ['a delete', ['delete'], { add: 0, change: 0, destroy: 1 }],
    [
      'a delete-before-create replace',
      ['delete', 'create'],
      { add: 1, change: 0, destroy: 1 },
    ],
    [
      'a create-before-destroy replace',
      ['create', 'delete'],
      { add: 1, change: 0, destroy: 1 },
    ],
    ['a data source read', ['read'], { add: 0, change: 0, destroy: 0 }],
    ['a no-op', ['no-op'], { add: 0, change: 0, destroy: 0 }],
  ])('counts %s like Terraform does', (_, actions, plan) => {
    expect(
      summarisePlan(showJson([{ address: 'terraform_data.x', actions }])),
    ).toEqual({
      plan,
      changes: [{ address: 'terraform_data.x', actions }],
    });
  });

  it('sums a mixed plan and keeps the order of the changes', () => {
    const changes = [
      { address: 'module.a.terraform_data.new', actions: ['create'] },
      { address: 'terraform_data.changed', actions: ['update'] },
      {
        address: 'terraform_data.replaced["x"]',
        actions: ['delete', 'create'],
      },
      { address: 'terraform_data.gone', actions: ['delete'] },
      { address: 'terraform_data.same', actions: ['no-op'] },
    ];
    expect(summarisePlan(showJson(changes))).toEqual({
      plan: { add: 2, change: 1, destroy: 2 },
      changes,
    });
  });

  it('reports an empty plan when there are no resource changes', () => {
    expect(summarisePlan(JSON.stringify({ format_version: '1.2' }))).toEqual({
      plan: { add: 0, change: 0, destroy: 0 },
      changes: [],
    });
  });

  it('copies only addresses and actions, never values', () => {
    const secret = 'hunter2-very-secret';
    const document = {
      format_version: '1.2',
      variables: { db_password: { value: secret } },
      planned_values: {
        root_module: { resources: [{ values: { input: secret } }] },
      },
      resource_changes: [
        {
          address: 'terraform_data.db',
          mode: 'managed',
          type: 'terraform_data',
          name: 'db',
          provider_name: 'terraform.io/builtin/terraform',
          change: {
            actions: ['update'],
            before: { input: 'old' },
            after: { input: secret },
            after_unknown: { output: true },
            before_sensitive: { input: true },
            after_sensitive: { input: true },
          },
        },
      ],
      prior_state: {
        values: { root_module: { resources: [{ values: { input: secret } }] } },
      },
      configuration: {
        root_module: { variables: { db_password: { sensitive: true } } },
      },
    };
    const summary = summarisePlan(JSON.stringify(document));
    expect(summary).toEqual({
      plan: { add: 0, change: 1, destroy: 0 },
      changes: [{ address: 'terraform_data.db', actions: ['update'] }],
    });
    expect(Object.keys(summary.changes[0]).sort()).toEqual([
      'actions',
      'address',
    ]);
    expect(JSON.stringify(summary)).not.toContain(secret);
  });

  it.each([
    ['text that is not JSON', 'Error: Failed to read plan'],
    [
      'a change without an address',
      JSON.stringify({
        resource_changes: [{ change: { actions: ['create'] } }],
      }),
    ],
    [
      'a numeric address',
      JSON.stringify({
        resource_changes: [{ address: 1, change: { actions: ['create'] } }],
      }),
    ],
    [
      'a change without actions',
      JSON.stringify({ resource_changes: [{ address: 'a.b', change: {} }] }),
    ],
    [
      'actions that are not a list',
      JSON.stringify({
        resource_changes: [{ address: 'a.b', change: { actions: 'create' } }],
      }),
    ],
    [
      'an unknown action',
      JSON.stringify({
        resource_changes: [{ address: 'a.b', change: { actions: ['forget'] } }],
      }),
    ],
    ['a null change entry', JSON.stringify({ resource_changes: [null] })],
  ])('throws on %s', (_, text) => {
    expect(() => summarisePlan(text)).toThrow();
  });

  // A for_each key of ~1000 characters must not make a successful plan's
  // result line unreadable to the backend (runnerEventSchema bounds it).
  it('bounds long addresses so the backend accepts the summary', () => {
    const address = `terraform_data.x["${'k'.repeat(1100)}"]`;
    const summary = summarisePlan(showJson([{ address, actions: ['create'] }]));
    expect(summary.changes[0].address).toHaveLength(MAX_ADDRESS_LENGTH);
    expect(summary.changes[0].address.endsWith('…')).toBe(true);
    expect(
      runnerEventSchema.safeParse({
        type: 'result',
        status: 'succeeded',
        ...summary,
      }).success,
    ).toBe(true);
  });
});
