import {
  EmptyState,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';
import { Typography } from '@material-ui/core';
import { Target } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { sealedRunnerApiRef } from '../../api';
import { usePolling } from '../../hooks/useRun';
import { isActive } from '../shared';
import { TargetsTable } from './TargetsTable';

/** How often targets with a run in progress are re-read. */
export const TARGETS_REFRESH_MS = 3_000;

const busy = (targets: Target[] | undefined) =>
  targets?.some(t => t.locked || (t.lastRun && isActive(t.lastRun))) ?? false;

/** The entity's "Deployments" tab: its targets, their state and last runs, and actions. */
export function EntityDeploymentsContent() {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const api = useApi(sealedRunnerApiRef);
  const {
    value: targets,
    loading,
    error,
    retry,
  } = useAsyncRetry(() => api.listTargets(entityRef), [api, entityRef]);
  usePolling(retry, !loading && busy(targets), TARGETS_REFRESH_MS);

  if (error && !targets) {
    return <ResponseErrorPanel error={error} />;
  }
  if (!targets) {
    return <Progress />;
  }
  if (targets.length === 0) {
    return (
      <EmptyState
        missing="field"
        title="No deployment targets"
        description={
          <Typography variant="body1" component="span">
            {entityRef} names no target you can see. Add an annotation{' '}
            <code>
              sealed-runner.io/target.&lt;environment&gt;: &lt;folder&gt;
            </code>{' '}
            next to <code>sealed-runner.io/repository</code> to deploy it
            through the sealed runner.
          </Typography>
        }
      />
    );
  }
  return (
    <TargetsTable
      title="Deployment targets"
      targets={targets}
      onChange={retry}
    />
  );
}
