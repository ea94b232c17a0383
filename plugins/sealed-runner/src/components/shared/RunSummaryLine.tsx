import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { Box, Tooltip, Typography } from '@material-ui/core';
import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { PlanSummary } from './PlanSummary';
import { RunStatusLink } from './RunLink';
import { formatTimestamp, timeAgo } from './time';

/** One run in a line or two: status, what, which commit, by whom, when. */
export function RunSummaryLine(props: { run: Run }) {
  const { run } = props;
  return (
    <Box>
      <Box
        display="flex"
        alignItems="center"
        flexWrap="wrap"
        style={{ gap: 8 }}
      >
        <RunStatusLink run={run} />
        <Typography variant="body2" component="span">
          {run.operation} of <code>{run.ref}</code>
          {run.commitSha && (
            <>
              {' '}
              @ <code>{run.commitSha.slice(0, 7)}</code>
            </>
          )}
        </Typography>
        {run.plan && <PlanSummary plan={run.plan} />}
      </Box>
      <Typography variant="caption" color="textSecondary" component="div">
        <EntityRefLink
          entityRef={run.requestedBy}
          defaultKind="user"
          hideIcon
        />{' '}
        <Tooltip title={formatTimestamp(run.createdAt)}>
          <span>{timeAgo(run.createdAt)}</span>
        </Tooltip>
      </Typography>
    </Box>
  );
}
