import {
  EmptyState,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { Typography } from '@material-ui/core';
import { useEntityTargets } from '../../hooks/useEntityTargets';
import { TargetsTable } from './TargetsTable';

/** The entity's "Deployments" tab: its targets, their state and last runs, and actions. */
export function EntityDeploymentsContent() {
  const { entityRef, value: targets, error, retry } = useEntityTargets();

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
