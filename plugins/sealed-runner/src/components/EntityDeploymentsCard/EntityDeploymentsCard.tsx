import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useRouteRef } from '@backstage/core-plugin-api';
import {
  entityRouteParams,
  entityRouteRef,
} from '@backstage/plugin-catalog-react';
import {
  Box,
  List,
  ListItem,
  ListItemText,
  Tooltip,
  Typography,
} from '@material-ui/core';
import { Target } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useEntityTargets } from '../../hooks/useEntityTargets';
import {
  formatTimestamp,
  PlanSummary,
  RunStatusLink,
  timeAgo,
} from '../shared';

function TargetLine(props: { target: Target }) {
  const { target } = props;
  const run = target.lastRun;
  let secondary;
  if (!target.deployable) {
    secondary = (
      <Typography variant="caption" color="error">
        Not deployable: {target.reason}
      </Typography>
    );
  } else if (!run) {
    secondary = 'Never run';
  } else {
    secondary = (
      <Box
        display="flex"
        alignItems="center"
        flexWrap="wrap"
        style={{ gap: 8 }}
      >
        <Tooltip title={formatTimestamp(run.createdAt)}>
          <span>
            {run.operation} of {run.ref} · {timeAgo(run.createdAt)}
          </span>
        </Tooltip>
        <PlanSummary plan={run.plan} />
      </Box>
    );
  }
  return (
    <ListItem divider>
      <ListItemText
        primary={
          <Box
            display="flex"
            justifyContent="space-between"
            alignItems="center"
          >
            <strong>{target.environment}</strong>
            {run && <RunStatusLink run={run} />}
          </Box>
        }
        secondary={secondary}
        secondaryTypographyProps={{ component: 'div' }}
      />
    </ListItem>
  );
}

/** "Deployments at a glance": the last run of each environment. */
export function EntityDeploymentsCard(props: {
  variant?: 'gridItem' | 'flex' | 'fullHeight';
}) {
  const { entity, value: targets, error } = useEntityTargets();
  const entityRoute = useRouteRef(entityRouteRef);

  return (
    <InfoCard
      title="Deployments at a glance"
      variant={props.variant ?? 'gridItem'}
      deepLink={{
        title: 'View deployments',
        link: `${entityRoute(entityRouteParams(entity))}/deployments`,
      }}
    >
      {error && !targets && <ResponseErrorPanel error={error} />}
      {!error && !targets && <Progress />}
      {targets && targets.length === 0 && (
        <Typography variant="body2" color="textSecondary">
          No deployment targets.
        </Typography>
      )}
      {targets && targets.length > 0 && (
        <List dense disablePadding aria-label="last run per environment">
          {targets.map(t => (
            <TargetLine key={t.environment} target={t} />
          ))}
        </List>
      )}
    </InfoCard>
  );
}
