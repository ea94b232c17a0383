import { createRouteRef, createSubRouteRef } from '@backstage/core-plugin-api';

/** The plugin's page: every run across the catalog. */
export const rootRouteRef = createRouteRef({ id: 'sealed-runner' });

/** One run: status, plan review, approvals and the live log. */
export const runRouteRef = createSubRouteRef({
  id: 'sealed-runner/run',
  parent: rootRouteRef,
  path: '/runs/:runId',
});
