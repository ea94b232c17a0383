import { convertLegacyRouteRefs } from '@backstage/core-compat-api';
import {
  ApiBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  PageBlueprint,
} from '@backstage/frontend-plugin-api';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import CloudUploadIcon from '@material-ui/icons/CloudUpload';
import { sealedRunnerApiRef, SealedRunnerClient } from './api';
import { isSealedRunnerAvailable } from './conditions';
import { rootRouteRef, runRouteRef } from './routes';

const routes = convertLegacyRouteRefs({ root: rootRouteRef, run: runRouteRef });

/** @alpha */
export const sealedRunnerApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: sealedRunnerApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new SealedRunnerClient({ discoveryApi, fetchApi }),
    }),
});

/**
 * The runs page and run pages; also the "Deployments" nav item. The pages
 * draw their own header (the same component serves legacy apps).
 *
 * @alpha
 */
export const sealedRunnerPage = PageBlueprint.make({
  params: {
    path: '/sealed-runner',
    title: 'Deployments',
    icon: <CloudUploadIcon />,
    noHeader: true,
    routeRef: routes.root,
    loader: () => import('./components/Router').then(m => <m.Router />),
  },
});

/** @alpha */
export const entitySealedRunnerContent = EntityContentBlueprint.make({
  params: {
    path: 'deployments',
    title: 'Deployments',
    group: 'deployment',
    filter: isSealedRunnerAvailable,
    loader: () =>
      import('./components/EntityDeploymentsContent').then(m => (
        <m.EntityDeploymentsContent />
      )),
  },
});

/** @alpha */
export const entitySealedRunnerCard = EntityCardBlueprint.make({
  name: 'deployments',
  params: {
    type: 'info',
    filter: isSealedRunnerAvailable,
    loader: () =>
      import('./components/EntityDeploymentsCard').then(m => (
        <m.EntityDeploymentsCard />
      )),
  },
});

/**
 * The Sealed Runner frontend plugin for the new frontend system.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'sealed-runner',
  info: { packageJson: () => import('../package.json') },
  routes,
  extensions: [
    sealedRunnerApi,
    sealedRunnerPage,
    entitySealedRunnerContent,
    entitySealedRunnerCard,
  ],
});
