import { coreExtensionData } from '@backstage/frontend-plugin-api';
import { createExtensionTester } from '@backstage/frontend-test-utils';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import { deployableEntity } from './__testUtils__/fixtures';
import plugin, {
  entitySealedRunnerCard,
  entitySealedRunnerContent,
} from './alpha';

const moduleEntity = {
  ...deployableEntity,
  metadata: {
    name: 's3-bucket',
    annotations: {
      'sealed-runner.io/module-source':
        'git::https://github.com/acme/modules//s3',
    },
  },
};

describe('the new frontend system plugin', () => {
  it('is the sealed-runner plugin with its API, page, tab and card', () => {
    expect(plugin.$$type).toBe('@backstage/FrontendPlugin');
    expect(plugin.pluginId).toBe('sealed-runner');
    expect(plugin.getExtension('api:sealed-runner')).toBeDefined();
    expect(plugin.getExtension('page:sealed-runner')).toBeDefined();
    expect(plugin.getExtension('entity-content:sealed-runner')).toBeDefined();
    expect(
      plugin.getExtension('entity-card:sealed-runner/deployments'),
    ).toBeDefined();
  });

  it('adds a Deployments tab only to entities with targets', () => {
    const tester = createExtensionTester(entitySealedRunnerContent);
    // The card's "View deployments" link points at this path.
    expect(tester.get(coreExtensionData.routePath)).toMatch(/^\/?deployments$/);
    expect(tester.get(EntityContentBlueprint.dataRefs.title)).toBe(
      'Deployments',
    );
    const filter = tester.get(EntityContentBlueprint.dataRefs.filterFunction)!;
    expect(filter(deployableEntity)).toBe(true);
    expect(filter(moduleEntity)).toBe(false);
  });

  it('adds the card only to entities with targets', () => {
    const tester = createExtensionTester(entitySealedRunnerCard);
    const filter = tester.get(EntityCardBlueprint.dataRefs.filterFunction)!;
    expect(filter(deployableEntity)).toBe(true);
    expect(filter(moduleEntity)).toBe(false);
  });
});
