import {
  EmptyState,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { Typography } from '@material-ui/core';
import { useBreakGlassSessions } from '../../hooks/useBreakGlassSessions';
import { useEntityTargets } from '../../hooks/useEntityTargets';
import { BreakGlassBanner } from '../BreakGlass';
import { ModulesTable } from './ModulesTable';
import { TargetsTable } from './TargetsTable';

/** The entity's "Deployments" tab: its targets, their state and last runs, and actions. */
export function EntityDeploymentsContent() {
  const { entityRef, value: targets, error, retry } = useEntityTargets();
  const breakGlass = useBreakGlassSessions(entityRef);

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
  // A session's banner stands above the table, naming its target: it
  // must be impossible to miss.
  const sessions = breakGlass.sessions.filter(s =>
    targets.some(t => t.environment === s.environment),
  );
  return (
    <>
      {sessions.map(session => (
        <BreakGlassBanner
          key={session.id}
          session={session}
          showEnvironment
          onClosed={breakGlass.retry}
        />
      ))}
      <TargetsTable
        title="Deployment targets"
        targets={targets}
        onChange={retry}
        breakGlassSessions={sessions}
        onBreakGlassChange={breakGlass.retry}
      />
      <ModulesTable entityRef={entityRef} />
    </>
  );
}
