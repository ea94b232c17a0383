import { alertApiRef, useApi, useRouteRef } from '@backstage/core-plugin-api';
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
  gateErrorReason,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { FormEvent, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { sealedRunnerApiRef } from '../../api';
import { runRouteRef } from '../../routes';

/** Asks for a branch, requests the plan, and opens its run page. */
export function PlanDialog(props: {
  target: Target;
  open: boolean;
  onClose: () => void;
}) {
  const { target, open, onClose } = props;
  const api = useApi(sealedRunnerApiRef);
  const alertApi = useApi(alertApiRef);
  const navigate = useNavigate();
  const runRoute = useRouteRef(runRouteRef);
  const [branch, setBranch] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string>();
  const applyBranches = target.applyBranches.includes('*')
    ? 'any branch may be applied'
    : `only ${target.applyBranches.join(', ')} may be applied`;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitting(true);
    setError(undefined);
    try {
      const ref = branch.trim();
      const run = await api.requestPlan({
        entityRef: target.entityRef,
        environment: target.environment,
        ...(ref ? { ref } : {}),
      });
      alertApi.post({
        message: `Plan of ${target.environment} queued`,
        severity: 'success',
        display: 'transient',
      });
      onClose();
      navigate(runRoute({ runId: run.id }));
    } catch (e) {
      setError(gateErrorReason(e));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <Dialog
      open={open}
      onClose={onClose}
      aria-labelledby="sealed-runner-plan-title"
      fullWidth
      maxWidth="sm"
    >
      <form onSubmit={submit}>
        <DialogTitle id="sealed-runner-plan-title">
          Plan {target.environment}
        </DialogTitle>
        <DialogContent>
          <DialogContentText>
            The sealed runner checks out the branch in{' '}
            <code>{target.repository}</code>, verifies every module against the
            catalog, and runs <code>terraform plan</code> in{' '}
            <code>{target.path}</code>. In {target.environment}, {applyBranches}
            .
          </DialogContentText>
          <TextField
            fullWidth
            label="Branch"
            placeholder="default branch"
            value={branch}
            onChange={e => setBranch(e.target.value)}
            error={error !== undefined}
            helperText={
              error ?? "Leave empty for the repository's default branch."
            }
            inputProps={{
              maxLength: 255,
              spellCheck: false,
              'aria-label': 'Branch',
            }}
            margin="normal"
            variant="outlined"
          />
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            type="submit"
            color="primary"
            variant="contained"
            disabled={submitting}
          >
            Plan
          </Button>
        </DialogActions>
      </form>
    </Dialog>
  );
}
