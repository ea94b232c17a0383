import { Table, TableColumn } from '@backstage/core-components';
import { Box, Chip, Tooltip, Typography } from '@material-ui/core';
import { makeStyles } from '@material-ui/core/styles';
import BlockIcon from '@material-ui/icons/Block';
import LockIcon from '@material-ui/icons/Lock';
import WarningIcon from '@material-ui/icons/Warning';
import {
  BreakGlassSession,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { breakGlassSummary } from '../BreakGlass';
import { displayRef, RunLink, RunSummaryLine } from '../shared';
import { TargetActions } from './TargetActions';

const useStyles = makeStyles(theme => ({
  mono: { fontFamily: 'monospace', fontSize: '0.8rem' },
  notDeployable: {
    color: theme.palette.error.main,
    display: 'flex',
    alignItems: 'flex-start',
    gap: theme.spacing(0.5),
  },
}));

function approvalsText(target: Target): string {
  if (target.requiredApprovals === 0) {
    return 'no approval needed';
  }
  const who = target.approvers
    ? ` from ${target.approvers.map(displayRef).join(', ')}`
    : '';
  return `${target.requiredApprovals} approval${
    target.requiredApprovals === 1 ? '' : 's'
  }${who}`;
}

function repositoryName(url: string): string {
  const last = url.replace(/\/+$/, '').split('/').pop() ?? url;
  return last || url;
}

function EnvironmentCell(props: { target: Target }) {
  const { target } = props;
  const branches = target.applyBranches.includes('*')
    ? 'any branch'
    : target.applyBranches.join(', ');
  return (
    <Box>
      <Typography variant="subtitle2">{target.environment}</Typography>
      <Typography variant="caption" color="textSecondary" component="div">
        apply from {branches || 'no branch'} · {approvalsText(target)}
      </Typography>
    </Box>
  );
}

function SourceCell(props: { target: Target }) {
  const classes = useStyles();
  const { target } = props;
  return (
    <Box>
      <Tooltip title={target.repository || 'no repository annotation'}>
        <Typography variant="body2">
          {repositoryName(target.repository) || '—'}
        </Typography>
      </Tooltip>
      <Typography
        variant="caption"
        color="textSecondary"
        className={classes.mono}
        component="div"
      >
        {target.path}
      </Typography>
    </Box>
  );
}

/** Marks the row of a target with an open break-glass session. */
function BreakGlassChip(props: { session?: BreakGlassSession }) {
  if (!props.session) {
    return null;
  }
  return (
    <Tooltip title={breakGlassSummary(props.session)}>
      <Chip
        size="small"
        color="secondary"
        icon={<WarningIcon />}
        label="Break-glass open"
        style={{ marginTop: 4 }}
      />
    </Tooltip>
  );
}

/** Runs of this target run git and Terraform without the runner's sandbox. */
function UnsandboxedChip(props: { target: Target }) {
  if (props.target.sandboxed !== false) {
    return null;
  }
  return (
    <Tooltip title="The runner is configured with sandbox: false: git and Terraform run as the backend's user and can reach what it can. For machines without bubblewrap only.">
      <Chip
        size="small"
        color="secondary"
        icon={<WarningIcon />}
        label="Runs unsandboxed"
        style={{ marginTop: 4 }}
      />
    </Tooltip>
  );
}

function StateCell(props: { target: Target; breakGlass?: BreakGlassSession }) {
  return (
    <Box display="flex" flexDirection="column" alignItems="flex-start">
      <TargetState target={props.target} />
      <BreakGlassChip session={props.breakGlass} />
      <UnsandboxedChip target={props.target} />
    </Box>
  );
}

function TargetState(props: { target: Target }) {
  const classes = useStyles();
  const { target } = props;
  if (!target.deployable) {
    return (
      <Typography
        variant="body2"
        className={classes.notDeployable}
        component="div"
      >
        <BlockIcon fontSize="small" />
        <span>
          <strong>Not deployable:</strong> {target.reason}
        </span>
      </Typography>
    );
  }
  if (target.locked) {
    return (
      <Chip
        size="small"
        icon={<LockIcon />}
        label={
          target.lockedBy ? (
            <>
              Locked by{' '}
              <RunLink runId={target.lockedBy}>
                {target.lockedBy.slice(0, 8)}
              </RunLink>
            </>
          ) : (
            'Locked'
          )
        }
      />
    );
  }
  return <Chip size="small" variant="outlined" label="Ready" />;
}

/** One row per target of the entity: where it deploys, its state, its last run, and actions. */
export function TargetsTable(props: {
  title: string;
  targets: Target[];
  onChange: () => void;
  /** Open break-glass sessions of these targets. */
  breakGlassSessions?: BreakGlassSession[];
  onBreakGlassChange?: () => void;
}) {
  const { targets, onChange, onBreakGlassChange } = props;
  const sessionOf = (t: Target) =>
    props.breakGlassSessions?.find(s => s.environment === t.environment);
  const columns: TableColumn<Target>[] = [
    {
      title: 'Environment',
      field: 'environment',
      width: '18%',
      render: t => <EnvironmentCell target={t} />,
    },
    {
      title: 'Repository / folder',
      field: 'path',
      width: '20%',
      render: t => <SourceCell target={t} />,
    },
    {
      title: 'State',
      field: 'deployable',
      width: '18%',
      render: t => <StateCell target={t} breakGlass={sessionOf(t)} />,
    },
    {
      title: 'Last run',
      field: 'lastRun',
      render: t =>
        t.lastRun ? (
          <RunSummaryLine run={t.lastRun} />
        ) : (
          <Typography variant="body2" color="textSecondary">
            Never run
          </Typography>
        ),
    },
    {
      title: 'Actions',
      field: 'entityRef',
      sorting: false,
      render: t => (
        <TargetActions
          target={t}
          onChange={onChange}
          breakGlass={sessionOf(t)}
          onBreakGlassChange={onBreakGlassChange}
        />
      ),
    },
  ];
  return (
    <Table<Target>
      title={props.title}
      columns={columns}
      data={targets}
      options={{
        paging: false,
        search: false,
        sorting: false,
        padding: 'dense',
        draggable: false,
      }}
    />
  );
}
