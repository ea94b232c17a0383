import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import {
  DefaultSealedRunnerGateClient,
  EnvironmentConfig,
  readSealedRunnerPart,
  resolveLocationRef,
  sealedRunnerConfigSchema,
  shapeOf,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { z } from 'zod';
import { createPublishBranchAction } from './actions/publishBranch';
import { createRenderModuleAction } from './actions/renderModule';
import { createApplyAction, createPlanAction } from './actions/runActions';

const { shape } = sealedRunnerConfigSchema;

/**
 * What the actions read of `sealedRunner`, shaped by the gate's own schema
 * (the gate refuses wrong values at its startup): who may vet a module, the
 * repository allowlist, and each environment's apply branches and
 * approvals.
 */
const actionsPart = z.object({
  repositories: shapeOf(shape.repositories).optional(),
  modules: shapeOf(shape.modules),
  environments: shapeOf(shape.environments).optional(),
}) as z.ZodType<{
  repositories?: string[];
  modules?: { owners?: string[]; locations?: string[] };
  environments?: Record<
    string,
    Pick<EnvironmentConfig, 'applyBranches' | 'requiredApprovals'>
  >;
}>;

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
