import { Entity } from '@backstage/catalog-model';
import { isSealedRunnerAvailable } from './conditions';

const entityWith = (annotations?: Record<string, string>): Entity => ({
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'payments', ...(annotations ? { annotations } : {}) },
});

describe('isSealedRunnerAvailable', () => {
  it.each<[string, boolean, Record<string, string> | undefined]>([
    [
      'a target annotation',
      true,
      { 'sealed-runner.io/target.dev': 'payments/dev' },
    ],
    [
      'only the repository annotation',
      true,
      { 'sealed-runner.io/repository': 'https://github.com/acme/live' },
    ],
    [
      'repository and targets among other annotations',
      true,
      {
        'backstage.io/source-location': 'url:https://github.com/acme/payments',
        'sealed-runner.io/repository': 'https://github.com/acme/live',
        'sealed-runner.io/target.prod': 'payments/prod',
      },
    ],
    [
      'only the module annotations of a catalog module',
      false,
      {
        'sealed-runner.io/module-source':
          'git::https://github.com/acme/modules//s3',
        'sealed-runner.io/module-versions': 'v1.0.0,v1.1.0',
      },
    ],
    [
      'unrelated annotations',
      false,
      { 'github.com/project-slug': 'acme/payments' },
    ],
    [
      'a look-alike annotation',
      false,
      { 'sealed-runner.io/targets': 'payments' },
    ],
    ['no annotations at all', false, undefined],
    ['an empty annotations map', false, {}],
  ])('%s → %s', (_, expected, annotations) => {
    expect(isSealedRunnerAvailable(entityWith(annotations))).toBe(expected);
  });
});
