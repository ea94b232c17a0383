import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { Box, Button, Typography } from '@material-ui/core';
import { makeStyles } from '@material-ui/core/styles';
import WarningIcon from '@material-ui/icons/Warning';
import {
  breakGlassPermission,
  BreakGlassSession,
  gateErrorReason,
  Run,
  sameEntityRef,
  stringifyTargetRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useState } from 'react';
import { sealedRunnerApiRef } from '../../api';
import { useViewer } from '../../hooks/useViewer';
import { displayRef, formatTimestamp } from '../shared';

const useStyles = makeStyles(theme => ({
  banner: {
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1.5),
    padding: theme.spacing(1, 2),
    marginBottom: theme.spacing(2),
    borderRadius: theme.shape.borderRadius,
    color: theme.palette.error.contrastText,
    backgroundColor: theme.palette.error.main,
  },
  notice: {
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1.5),
    padding: theme.spacing(1, 2),
    marginBottom: theme.spacing(2),
    borderRadius: theme.shape.borderRadius,
    border: `1px solid ${theme.palette.error.main}`,
    color: theme.palette.error.main,
  },
  text: { flex: 1, wordBreak: 'break-word' },
}));

/** "Break-glass session open by pat until <time> — <reason> (<ticket>)" */
export function breakGlassSummary(session: BreakGlassSession): string {
  return `Break-glass session open by ${displayRef(
    session.openedBy,
  )} until ${formatTimestamp(session.expiresAt)} — ${session.reason}${
    session.ticket ? ` (${session.ticket})` : ''
  }`;
}

/**
 * The loud sign that a target's approvals and apply branches are waived
 * for someone right now. Its opener, and other holders of
 * `sealed-runner.breakglass` on the target, can close it here.
 */
export function BreakGlassBanner(props: {
  session: BreakGlassSession;
  /** Name the environment (on a page listing several targets). */
  showEnvironment?: boolean;
  onClosed: () => void;
}) {
  const { session, showEnvironment, onClosed } = props;
  const classes = useStyles();
  const api = useApi(sealedRunnerApiRef);
  const alertApi = useApi(alertApiRef);
  const viewer = useViewer();
  const holder = usePermission({
    permission: breakGlassPermission,
    resourceRef: stringifyTargetRef(session),
  });
  const [closing, setClosing] = useState(false);
  const isOpener =
    viewer !== undefined &&
    sameEntityRef(viewer.userEntityRef, session.openedBy);
  const mayClose = isOpener || (!holder.loading && holder.allowed);

  const close = async () => {
    setClosing(true);
    try {
      await api.closeBreakGlass(session.id);
      alertApi.post({
        message: `Break-glass session on ${session.environment} closed`,
        severity: 'success',
        display: 'transient',
      });
    } catch (error) {
      alertApi.post({
        message: `Could not close the break-glass session: ${gateErrorReason(
          error,
        )}`,
        severity: 'error',
      });
    } finally {
      setClosing(false);
      onClosed();
    }
  };

  return (
    <Box
      role="alert"
      aria-label={`Break-glass session on ${session.environment}`}
      className={classes.banner}
      data-break-glass-session={session.id}
    >
      <WarningIcon />
      <Typography variant="body2" className={classes.text}>
        {showEnvironment && <strong>{session.environment}: </strong>}
        {breakGlassSummary(session)}
      </Typography>
      {mayClose && (
        <Button
          size="small"
          variant="outlined"
          color="inherit"
          disabled={closing}
          onClick={close}
        >
          Close
        </Button>
      )}
    </Box>
  );
}

/** On an apply a break-glass session let through: which session, whose, why. */
export function BreakGlassRunNotice(props: { run: Run }) {
  const classes = useStyles();
  const { breakGlass } = props.run;
  if (!breakGlass) {
    return null;
  }
  return (
    <Box role="note" className={classes.notice} data-break-glass-run>
      <WarningIcon />
      <Typography variant="body2" className={classes.text}>
        {`Applied under break-glass session ${
          breakGlass.sessionId
        } opened by ${displayRef(breakGlass.openedBy)} — ${breakGlass.reason}`}
      </Typography>
    </Box>
  );
}
