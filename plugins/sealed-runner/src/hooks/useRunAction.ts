import { alertApiRef, useApi, useRouteRef } from '@backstage/core-plugin-api';
import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { gateErrorReason } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { sealedRunnerApiRef } from '../api';
import { runRouteRef } from '../routes';

export type RunAction = 'approve' | 'apply' | 'cancel';

const DONE: Record<RunAction, string> = {
  approve: 'Plan approved',
  apply: 'Apply started',
  cancel: 'Cancellation requested',
};

/**
 * Runs approve/apply/cancel against the gate, reports the outcome (the
 * gate's reason on refusal, e.g. "branch main moved since the plan"), and
 * opens the new run's page after an apply.
 */
export function useRunAction(onDone: () => void) {
  const api = useApi(sealedRunnerApiRef);
  const alertApi = useApi(alertApiRef);
  const navigate = useNavigate();
  const runRoute = useRouteRef(runRouteRef);
  const [busy, setBusy] = useState<RunAction>();

  const perform = async (action: RunAction, runId: string) => {
    setBusy(action);
    try {
      const run: Run = await api[action](runId);
      alertApi.post({
        message: DONE[action],
        severity: 'success',
        display: 'transient',
      });
      if (action === 'apply') {
        navigate(runRoute({ runId: run.id }));
      }
    } catch (error) {
      alertApi.post({
        message: `Could not ${action}: ${gateErrorReason(error)}`,
        severity: 'error',
      });
    } finally {
      setBusy(undefined);
      onDone();
    }
  };

  return { busy, perform };
}
