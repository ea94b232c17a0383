import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import {
  DefaultSealedRunnerGateClient,
  resolveLocationRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { createPublishBranchAction } from './actions/publishBranch';
import { createRenderModuleAction } from './actions/renderModule';
import { createApplyAction, createPlanAction } from './actions/runActions';

/**
 * Registers the sealed-runner scaffolder actions. They read the
 * `sealedRunner` config the gate owns (module owners, repositories,
 * environments) only to refuse early; the gate decides every run.
 */
export const scaffolderModuleSealedRunner = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'sealed-runner',
  register({ registerInit }) {
    registerInit({
      deps: {
        scaffolderActions: scaffolderActionsExtensionPoint,
        config: coreServices.rootConfig,
        catalog: catalogServiceRef,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
      },
      async init({ scaffolderActions, config, catalog, auth, discovery }) {
        const sealedRunner = config.getOptionalConfig('sealedRunner');
        const environments = sealedRunner?.getOptionalConfig('environments');
        const gate = new DefaultSealedRunnerGateClient({ discovery, auth });
        const appBaseUrl = config.getString('app.baseUrl');
        scaffolderActions.addActions(
          createRenderModuleAction({
            catalog,
            vetting: {
              owners: sealedRunner?.getOptionalStringArray('modules.owners'),
              locations: sealedRunner
                ?.getOptionalStringArray('modules.locations')
                ?.map(resolveLocationRef),
            },
          }),
          createPlanAction({ gate, appBaseUrl }),
          createApplyAction({ gate, appBaseUrl }),
          createPublishBranchAction({
            repositories:
              sealedRunner?.getOptionalStringArray('repositories') ?? [],
            environments: (environments?.keys() ?? []).map(name => ({
              name,
              applyBranches: environments!.getStringArray(
                `${name}.applyBranches`,
              ),
              requiredApprovals: environments!.getNumber(
                `${name}.requiredApprovals`,
              ),
            })),
          }),
        );
      },
    });
  },
});
