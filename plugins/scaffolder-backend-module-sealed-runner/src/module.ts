import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import {
  DefaultSealedRunnerGateClient,
  environmentConfigSchema,
  readSealedRunnerPart,
  resolveLocationRef,
  sealedRunnerConfigSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { z } from 'zod';
import { createPublishBranchAction } from './actions/publishBranch';
import { createRenderModuleAction } from './actions/renderModule';
import { createApplyAction, createPlanAction } from './actions/runActions';

/**
 * What the actions read of `sealedRunner`, described by the gate's own
 * schema: who may vet a module, the repository allowlist, and each
 * environment's apply branches and approvals.
 */
const actionsPart = z.object({
  repositories: sealedRunnerConfigSchema.shape.repositories.optional(),
  modules: sealedRunnerConfigSchema.shape.modules,
  environments: z
    .record(
      z.string(),
      environmentConfigSchema
        .pick({ applyBranches: true, requiredApprovals: true })
        .loose(),
    )
    .optional(),
});

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
        const sealedRunner = readSealedRunnerPart(config, actionsPart);
        const gate = new DefaultSealedRunnerGateClient({ discovery, auth });
        const appBaseUrl = config.getString('app.baseUrl');
        scaffolderActions.addActions(
          createRenderModuleAction({
            catalog,
            vetting: {
              owners: sealedRunner?.modules?.owners,
              locations:
                sealedRunner?.modules?.locations?.map(resolveLocationRef),
            },
          }),
          createPlanAction({ gate, appBaseUrl }),
          createApplyAction({ gate, appBaseUrl }),
          createPublishBranchAction({
            repositories: sealedRunner?.repositories ?? [],
            environments: Object.entries(sealedRunner?.environments ?? {}).map(
              ([name, environment]) => ({
                name,
                applyBranches: environment.applyBranches,
                requiredApprovals: environment.requiredApprovals,
              }),
            ),
          }),
        );
      },
    });
  },
});
