import { InfoCard, LogViewer, Progress } from '@backstage/core-components';
import { Box, Typography } from '@material-ui/core';
import { gateErrorReason } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useEffect, useRef } from 'react';
import { useRunLogs } from '../../hooks/useRunLogs';

/** The run's log, streamed live until the run ends (then `onComplete`). */
export function RunLog(props: { runId: string; onComplete?: () => void }) {
  const { runId, onComplete } = props;
  const { lines, complete, mode, error } = useRunLogs(runId);
  // Once per run: the callback's identity may change on every render.
  const onCompleteRef = useRef(onComplete);
  onCompleteRef.current = onComplete;
  useEffect(() => {
    if (complete) {
      onCompleteRef.current?.();
    }
  }, [complete, runId]);
  let state = mode === 'stream' ? 'live' : 'polling';
  let subheader =
    mode === 'stream'
      ? 'Following live'
      : 'Following (polling: the live stream is unavailable)';
  if (complete) {
    state = 'complete';
    subheader = `${lines.length} lines`;
  }
  return (
    <InfoCard title="Log" subheader={subheader} noPadding>
      <Box height={480} data-log-state={state} data-log-lines={lines.length}>
        {lines.length === 0 && !complete ? (
          <Box p={2}>
            <Progress />
            <Typography variant="body2" color="textSecondary">
              Waiting for the sealed runner…
            </Typography>
          </Box>
        ) : (
          <LogViewer text={lines.join('\n')} />
        )}
      </Box>
      {error && (
        <Box p={1}>
          <Typography variant="caption" color="error">
            Could not read the log: {gateErrorReason(error)}. Retrying…
          </Typography>
        </Box>
      )}
    </InfoCard>
  );
}
