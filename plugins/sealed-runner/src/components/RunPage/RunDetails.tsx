import { InfoCard, WarningPanel } from '@backstage/core-components';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { Box, Grid, Tooltip, Typography } from '@material-ui/core';
import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ReactNode } from 'react';
import {
  formatTimestamp,
  PlanSummary,
  RunLink,
  RunStatusLabel,
  timeAgo,
} from '../shared';
import { BreakGlassRunNotice } from '../BreakGlass';
import { RunProgress } from './RunProgress';

function Field(props: { label: string; children: ReactNode }) {
  return (
    <Grid item xs={6} md={3}>
      <Typography variant="overline" color="textSecondary" component="div">
        {props.label}
      </Typography>
      <Typography
        variant="body2"
        component="div"
        style={{ wordBreak: 'break-all' }}
      >
        {props.children}
      </Typography>
    </Grid>
  );
}

/** Status, progress and provenance of a run. */
export function RunDetails(props: { run: Run; actions?: ReactNode }) {
  const { run } = props;
  return (
    <InfoCard
      title={
        <Box
          display="flex"
          alignItems="center"
          style={{ gap: 12 }}
          data-run-status={run.status}
        >
          <span>{run.operation === 'plan' ? 'Plan' : 'Apply'}</span>
          <RunStatusLabel status={run.status} />
        </Box>
      }
      subheader={`Run ${run.id}`}
      action={props.actions}
    >
      <RunProgress run={run} />
      <BreakGlassRunNotice run={run} />
      {run.error && (
        <Box mb={2}>
          <WarningPanel
            severity={run.status === 'rejected' ? 'warning' : 'error'}
            title={
              run.status === 'rejected'
                ? 'Rejected before Terraform changed anything'
                : `Run ${run.status}`
            }
            message={run.error}
            defaultExpanded
          />
        </Box>
      )}
      <Grid container spacing={2}>
        <Field label="Entity">
          <EntityRefLink entityRef={run.entityRef} />
        </Field>
        <Field label="Environment">{run.environment}</Field>
        <Field label="Branch">
          <code>{run.ref}</code>
        </Field>
        <Field label="Commit">
          <code title={run.commitSha}>{run.commitSha || '—'}</code>
        </Field>
        <Field label="Requested by">
          <EntityRefLink entityRef={run.requestedBy} defaultKind="user" />
        </Field>
        <Field label="Requested">
          <Tooltip title={formatTimestamp(run.createdAt)}>
            <span>{timeAgo(run.createdAt)}</span>
          </Tooltip>
        </Field>
        <Field label="Plan">
          <PlanSummary plan={run.plan} />
        </Field>
        {run.planRunId && (
          <Field label="Applies plan">
            <RunLink runId={run.planRunId} />
          </Field>
        )}
        {run.applyRunId && (
          <Field label="Applied by run">
            <RunLink runId={run.applyRunId} />
          </Field>
        )}
        {run.supersededBy && (
          <Field label="Superseded by plan">
            <RunLink runId={run.supersededBy} />
          </Field>
        )}
      </Grid>
    </InfoCard>
  );
}
