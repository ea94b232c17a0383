import { Entity } from '@backstage/catalog-model';
import {
  AlertApi,
  alertApiRef,
  identityApiRef,
} from '@backstage/core-plugin-api';
import {
  entityRouteRef,
  EntityProvider,
} from '@backstage/plugin-catalog-react';
import {
  AuthorizeResult,
  EvaluatePermissionRequest,
} from '@backstage/plugin-permission-common';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { RenderResult } from '@testing-library/react';
import { ReactNode } from 'react';
import { useLocation } from 'react-router-dom';
import { sealedRunnerApiRef, SealedRunnerApi } from '../api';
import { rootRouteRef } from '../routes';
import { BOB, PLATFORM_TEAM } from './fixtures';

/** Shows where the app navigated to (path and query), so tests can assert it. */
function CurrentPath() {
  const { pathname, search } = useLocation();
  return <div data-testid="current-path">{`${pathname}${search}`}</div>;
}

export interface RenderOptions {
  /** Decides each permission request; everything is allowed by default. */
  authorize?: (
    request: EvaluatePermissionRequest,
  ) => AuthorizeResult.ALLOW | AuthorizeResult.DENY;
  /** The signed-in user; Bob of the platform team by default. */
  viewer?: { userEntityRef: string; ownershipEntityRefs: string[] };
  /** Wraps the element in an EntityProvider of this entity. */
  entity?: Entity;
  /** The URL the app starts at. */
  route?: string;
}

/**
 * Renders `element` in a Backstage test app with the plugin's routes
 * mounted and the given sealed-runner API, a permission API, an identity and
 * an alert API whose `post` is a `jest.fn`.
 */
export async function renderWithApis(
  element: ReactNode,
  api: SealedRunnerApi,
  options: RenderOptions = {},
): Promise<RenderResult & { alertApi: jest.Mocked<AlertApi> }> {
  const alertApi = {
    post: jest.fn(),
    alert$: jest.fn(),
  } as unknown as jest.Mocked<AlertApi>;
  const viewer = options.viewer ?? {
    userEntityRef: BOB,
    ownershipEntityRefs: [BOB, PLATFORM_TEAM],
  };
  const result = await renderInTestApp(
    <TestApiProvider
      apis={[
        [sealedRunnerApiRef, api],
        [
          permissionApiRef,
          mockApis.permission({
            authorize: options.authorize ?? (() => AuthorizeResult.ALLOW),
          }),
        ],
        [identityApiRef, mockApis.identity(viewer)],
        [alertApiRef, alertApi],
      ]}
    >
      {options.entity ? (
        <EntityProvider entity={options.entity}>{element}</EntityProvider>
      ) : (
        element
      )}
      <CurrentPath />
    </TestApiProvider>,
    {
      routeEntries: options.route ? [options.route] : undefined,
      mountedRoutes: {
        '/sealed-runner': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
  return { ...result, alertApi };
}
