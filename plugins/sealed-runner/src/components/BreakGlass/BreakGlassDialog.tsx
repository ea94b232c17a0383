import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import {
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  TextField,
} from '@material-ui/core';
import {
  BreakGlassSession,
  DEFAULT_BREAK_GLASS_DURATION_MINUTES,
  gateErrorReason,
  openBreakGlassRequestSchema,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { FormEvent, useState } from 'react';
import { sealedRunnerApiRef } from '../../api';

type Field = 'reason' | 'ticket' | 'durationMinutes';

/**
 * Asks for a reason (and optionally a ticket and a duration) and opens a
 * break-glass session on the target. The request schema from `-common`
 * checks the fields as the gate will; the gate decides.
 */
export function BreakGlassDialog(props: {
  target: Target;
  open: boolean;
  onClose: () => void;
  onOpened: (session: BreakGlassSession) => void;
}) {
  const { target, open, onClose, onOpened } = props;
  const api = useApi(sealedRunnerApiRef);
  const alertApi = useApi(alertApiRef);
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const [duration, setDuration] = useState(
    String(DEFAULT_BREAK_GLASS_DURATION_MINUTES),
  );
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [gateError, setGateError] = useState<string>();
  const [submitting, setSubmitting] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setGateError(undefined);
    const request = {
      entityRef: target.entityRef,
      environment: target.environment,
      reason,
      ...(ticket.trim() ? { ticket: ticket.trim() } : {}),
      durationMinutes: /^[0-9]{1,6}$/.test(duration.trim())
        ? Number(duration.trim())
        : NaN,
    };
    const parsed = openBreakGlassRequestSchema.safeParse(request);
    if (!parsed.success) {
      const found: Partial<Record<Field, string>> = {};
      for (const issue of parsed.error.issues) {
        const field = issue.path[0] as Field;
        found[field] ??=
          field === 'durationMinutes'
            ? 'a whole number of minutes, at least 1'
            : issue.message;
      }
      setErrors(found);
      return;
    }
    setErrors({});
    setSubmitting(true);
    try {
      const session = await api.openBreakGlass(parsed.data);
      alertApi.post({
        message: `Break-glass session on ${target.environment} opened`,
        severity: 'warning',
        display: 'transient',
      });
      onOpened(session);
      onClose();
    } catch (e) {
      setGateError(gateErrorReason(e));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <Dialog
      open={open}
      onClose={onClose}
      aria-labelledby="sealed-runner-break-glass-title"
      fullWidth
      maxWidth="sm"
    >
      <form onSubmit={submit} noValidate>
        <DialogTitle id="sealed-runner-break-glass-title">
          Break glass: {target.environment}
        </DialogTitle>
        <DialogContent>
          <DialogContentText>
            While the session is open, <strong>you</strong> may apply plans of{' '}
            {target.environment} without their approvals and from branches that
            are not apply branches. Nothing else is waived: the repository
            allowlist, the vetted-module check, stale plans and the target lock
            still apply. Opening, every use and closing are audited as critical,
            and everyone sees the session on this target until it closes or
            expires.
          </DialogContentText>
          <TextField
            fullWidth
            required
            label="Reason"
            value={reason}
            onChange={e => setReason(e.target.value)}
            error={errors.reason !== undefined}
            helperText={
              errors.reason ?? 'Why this cannot wait (at least 10 characters).'
            }
            inputProps={{ maxLength: 2000, 'aria-label': 'Reason' }}
            margin="normal"
            variant="outlined"
          />
          <TextField
            fullWidth
            label="Ticket"
            value={ticket}
            onChange={e => setTicket(e.target.value)}
            error={errors.ticket !== undefined}
            helperText={
              errors.ticket ??
              'Optional incident or change ticket, e.g. INC-4711.'
            }
            inputProps={{
              maxLength: 128,
              spellCheck: false,
              'aria-label': 'Ticket',
            }}
            margin="normal"
            variant="outlined"
          />
          <TextField
            label="Duration (minutes)"
            value={duration}
            onChange={e => setDuration(e.target.value)}
            error={errors.durationMinutes !== undefined}
            helperText={
              errors.durationMinutes ??
              'The session expires on its own after this; the platform team sets the maximum.'
            }
            inputProps={{
              inputMode: 'numeric',
              'aria-label': 'Duration (minutes)',
            }}
            margin="normal"
            variant="outlined"
          />
          {gateError && (
            <DialogContentText color="error" role="alert">
              {gateError}
            </DialogContentText>
          )}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            type="submit"
            color="secondary"
            variant="contained"
            disabled={submitting}
          >
            Open session
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
