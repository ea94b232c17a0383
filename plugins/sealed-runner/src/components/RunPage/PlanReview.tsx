import { InfoCard } from '@backstage/core-components';
import {
  Box,
  Chip,
  List,
  ListItem,
  ListItemIcon,
  ListItemText,
  ListSubheader,
  Typography,
} from '@material-ui/core';
import { makeStyles } from '@material-ui/core/styles';
import AddCircleOutline from '@material-ui/icons/AddCircleOutline';
import Autorenew from '@material-ui/icons/Autorenew';
import Edit from '@material-ui/icons/Edit';
import RemoveCircleOutline from '@material-ui/icons/RemoveCircleOutline';
import Visibility from '@material-ui/icons/Visibility';
import CheckCircleOutline from '@material-ui/icons/CheckCircleOutline';
import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ChangeKind, groupChanges } from './planChanges';

const useStyles = makeStyles(theme => ({
  address: {
    fontFamily: 'monospace',
    fontSize: '0.85rem',
    wordBreak: 'break-all',
  },
  create: { color: theme.palette.success.main },
  update: { color: theme.palette.warning.dark },
  replace: { color: theme.palette.error.main },
  delete: { color: theme.palette.error.main },
  read: { color: theme.palette.info.main },
  'no-op': { color: theme.palette.text.secondary },
  subheader: { background: theme.palette.background.paper, lineHeight: '36px' },
}));

const KIND_LABELS: Record<ChangeKind, string> = {
  create: 'Create',
  update: 'Update in place',
  replace: 'Replace (destroy, then create)',
  delete: 'Destroy',
  read: 'Read',
  'no-op': 'Unchanged',
};

const KIND_ICONS: Record<ChangeKind, typeof Edit> = {
  create: AddCircleOutline,
  update: Edit,
  replace: Autorenew,
  delete: RemoveCircleOutline,
  read: Visibility,
  'no-op': CheckCircleOutline,
};

/**
 * What the plan will change, resource by resource, grouped and counted.
 * Attribute values never leave the runner (plans can hold secrets), so
 * approvers review addresses and actions against the commit.
 */
export function PlanReview(props: { run: Run }) {
  const classes = useStyles();
  const { run } = props;
  const groups = groupChanges(run.changes ?? []);
  const changing = groups.filter(g => g.kind !== 'no-op' && g.kind !== 'read');
  return (
    <InfoCard
      title="Plan review"
      subheader={`Resource changes of commit ${run.commitSha.slice(0, 12)} on ${
        run.ref
      }`}
    >
      {run.status !== 'succeeded' && groups.length === 0 ? (
        <Typography variant="body2" color="textSecondary">
          {run.status === 'queued' || run.status === 'running'
            ? 'The changes appear here when the plan finishes.'
            : 'This plan did not finish, so there are no changes to review.'}
        </Typography>
      ) : (
        <>
          <Box display="flex" flexWrap="wrap" style={{ gap: 8 }} mb={1}>
            {groups.map(g => (
              <Chip
                key={g.kind}
                size="small"
                variant="outlined"
                label={`${KIND_LABELS[g.kind]}: ${g.addresses.length}`}
                className={classes[g.kind]}
              />
            ))}
          </Box>
          {changing.length === 0 && (
            <Typography variant="body2">
              No changes. The infrastructure matches the configuration.
            </Typography>
          )}
          <List dense aria-label="resource changes">
            {changing.map(g => {
              const Icon = KIND_ICONS[g.kind];
              return (
                <li key={g.kind}>
                  <ul style={{ padding: 0 }}>
                    <ListSubheader className={classes.subheader}>
                      {KIND_LABELS[g.kind]} ({g.addresses.length})
                    </ListSubheader>
                    {g.addresses.map(address => (
                      <ListItem key={address} data-change={g.kind}>
                        <ListItemIcon style={{ minWidth: 32 }}>
                          <Icon fontSize="small" className={classes[g.kind]} />
                        </ListItemIcon>
                        <ListItemText
                          primary={address}
                          primaryTypographyProps={{
                            className: classes.address,
                          }}
                        />
                      </ListItem>
                    ))}
                  </ul>
                </li>
              );
            })}
          </List>
          <Typography variant="caption" color="textSecondary">
            Attribute values are not shown: plans can contain secrets, and they
            never leave the sealed runner.
          </Typography>
        </>
      )}
    </InfoCard>
  );
}
