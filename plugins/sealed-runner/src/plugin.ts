import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { sealedRunnerApiRef, SealedRunnerClient } from './api';
import { rootRouteRef, runRouteRef } from './routes';

/**
 * The Sealed Runner frontend plugin for apps on the legacy frontend system.
 * Apps on the new frontend system use the default export of `/alpha`.
 *
 * @public
 */
export const sealedRunnerPlugin = createPlugin({
  id: 'sealed-runner',
  apis: [
    createApiFactory({
      api: sealedRunnerApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new SealedRunnerClient({ discoveryApi, fetchApi }),
    }),
  ],
  routes: { root: rootRouteRef, run: runRouteRef },
});

/**
 * The runs page, with each run's page below it. Mount it at a path of your
 * choice, e.g. `<Route path="/sealed-runner" element={<SealedRunnerPage />} />`.
 *
 * @public
 */
export const SealedRunnerPage = sealedRunnerPlugin.provide(
  createRoutableExtension({
    name: 'SealedRunnerPage',
    component: () => import('./components/Router').then(m => m.Router),
    mountPoint: rootRouteRef,
  }),
);

/**
 * The entity "Deployments" tab content. Show it only where
 * `isSealedRunnerAvailable` holds.
 *
 * @public
 */
export const EntitySealedRunnerContent = sealedRunnerPlugin.provide(
  createComponentExtension({
    name: 'EntitySealedRunnerContent',
    component: {
      lazy: () =>
        import('./components/EntityDeploymentsContent').then(
          m => m.EntityDeploymentsContent,
        ),
    },
  }),
);

/**
 * The entity overview card "Deployments at a glance".
 *
 * @public
 */
export const EntitySealedRunnerCard = sealedRunnerPlugin.provide(
  createComponentExtension({
    name: 'EntitySealedRunnerCard',
    component: {
      lazy: () =>
        import('./components/EntityDeploymentsCard').then(
          m => m.EntityDeploymentsCard,
        ),
    },
  }),
);
