import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { SealedRunnerEntityProcessor } from './processor/SealedRunnerEntityProcessor';

/**
 * Adds the sealed-runner annotation processor to the catalog.
 *
 * @public
 */
export const catalogModuleSealedRunner = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'sealed-runner',
  register(reg) {
    reg.registerInit({
      deps: {
        catalog: catalogProcessingExtensionPoint,
        config: coreServices.rootConfig,
        discovery: coreServices.discovery,
        auth: coreServices.auth,
        logger: coreServices.logger,
      },
      async init({ catalog, config, discovery, auth, logger }) {
        if (!config.has('sealedRunner')) {
          logger.info(
            'sealedRunner is not configured: checking sealed-runner.io annotations for syntax only, not against environments or the repository allowlist',
          );
        }
        catalog.addProcessor(
          SealedRunnerEntityProcessor.fromConfig(config, {
            discovery,
            auth,
            logger,
          }),
        );
      },
    });
  },
});
