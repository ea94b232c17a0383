import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import {
  authProvidersExtensionPoint,
  createProxyAuthenticator,
  createProxyAuthProviderFactory,
} from '@backstage/plugin-auth-node';

/**
 * A second development-only sign-in, next to the guest sign-in, so the demo
 * can walk the four-eyes flow: it signs in as the catalog user configured in
 * `auth.providers.demo-approver.userEntityRef`. Like the guest provider it
 * refuses to work outside NODE_ENV=development.
 */
export const demoApproverSignInModule = createBackendModule({
  pluginId: 'auth',
  moduleId: 'demo-approver-provider',
  register(reg) {
    reg.registerInit({
      deps: {
        providers: authProvidersExtensionPoint,
        config: coreServices.rootConfig,
      },
      async init({ providers, config }) {
        const providerConfig = config.getOptionalConfig(
          'auth.providers.demo-approver',
        );
        if (!providerConfig) {
          return;
        }
        const userEntityRef = providerConfig.getString('userEntityRef');
        providers.registerProvider({
          providerId: 'demo-approver',
          factory: createProxyAuthProviderFactory({
            authenticator: createProxyAuthenticator({
              defaultProfileTransform: async () => ({ profile: {} }),
              initialize: () => undefined,
              async authenticate() {
                if (process.env.NODE_ENV !== 'development') {
                  throw new NotAllowedError(
                    'The demo-approver sign-in only works in a development environment',
                  );
                }
                return { result: {} };
              },
            }),
            signInResolver: async (_info, ctx) =>
              ctx.signInWithCatalogUser({ entityRef: userEntityRef }),
          }),
        });
      },
    });
  },
});
