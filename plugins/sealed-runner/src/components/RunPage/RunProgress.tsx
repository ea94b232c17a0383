import { Step, StepLabel, Stepper, Typography } from '@material-ui/core';
import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useEffect, useState } from 'react';
import { formatDuration, isActive } from '../shared';

/** Ticks once a second while `enabled`, so elapsed times count up. */
function useNow(enabled: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!enabled) {
      return undefined;
    }
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [enabled]);
  return now;
}

function Caption(props: { text?: string }) {
  return props.text ? (
    <Typography
      variant="caption"
      color="textSecondary"
      align="center"
      display="block"
    >
      {props.text}
    </Typography>
  ) : null;
}

/** queued → running → finished, with how long each took (or is taking). */
export function RunProgress(props: { run: Run }) {
  const { run } = props;
  const active = isActive(run);
  const now = useNow(active);
  let step = 3;
  if (run.status === 'queued') {
    step = 0;
  } else if (active) {
    step = 1;
  }
  const failed = ['failed', 'rejected', 'cancelled'].includes(run.status);
  const queuedFor = formatDuration(
    run.createdAt,
    run.startedAt ?? run.finishedAt,
    now,
  );
  const ranFor = run.startedAt
    ? formatDuration(run.startedAt, run.finishedAt, now)
    : undefined;
  return (
    <Stepper
      activeStep={step}
      alternativeLabel
      style={{ padding: '8px 0' }}
      aria-label="run progress"
    >
      <Step completed={step > 0}>
        <StepLabel optional={<Caption text={queuedFor} />}>Queued</StepLabel>
      </Step>
      <Step completed={step > 1}>
        <StepLabel optional={<Caption text={ranFor} />}>Running</StepLabel>
      </Step>
      <Step completed={step > 2 && !failed}>
        <StepLabel
          error={failed}
          optional={<Caption text={run.finishedAt ? run.status : undefined} />}
        >
          Finished
        </StepLabel>
      </Step>
    </Stepper>
  );
}
