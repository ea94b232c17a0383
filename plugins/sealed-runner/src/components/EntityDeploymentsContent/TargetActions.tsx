import { Box } from '@material-ui/core';
import {
  runApplyPermission,
  runCancelPermission,
  runPlanPermission,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useState } from 'react';
import { useRunAction } from '../../hooks/useRunAction';
import { useTargetPermission } from '../../hooks/useTargetPermission';
import {
  ActionButton,
  applyBlocker,
  isActive,
  isOpenPlan,
  missingApprovals,
  planBlocker,
  RunLink,
} from '../shared';
import { PlanDialog } from './PlanDialog';

/**
 * The actions on one target the viewer may take now. Approve is not here:
 * approvers approve on the run page, next to the list of changes.
 */
export function TargetActions(props: { target: Target; onChange: () => void }) {
  const { target, onChange } = props;
  const [planOpen, setPlanOpen] = useState(false);
  const plan = useTargetPermission(runPlanPermission, target, 'plan');
  const apply = useTargetPermission(runApplyPermission, target, 'apply');
  const cancel = useTargetPermission(
    runCancelPermission,
    target,
    'cancel runs in',
  );
  const { busy, perform } = useRunAction(onChange);
  const lastRun = target.lastRun;
  const openPlan = lastRun && isOpenPlan(lastRun) ? lastRun : undefined;

  return (
    <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 8 }}>
      <ActionButton
        variant="outlined"
        color="primary"
        loading={plan.loading}
        blocker={plan.blocker ?? planBlocker(target)}
        onClick={() => setPlanOpen(true)}
      >
        Plan
      </ActionButton>
      {openPlan && (
        <ActionButton
          variant="contained"
          color="primary"
          loading={apply.loading || busy !== undefined}
          blocker={apply.blocker ?? applyBlocker(openPlan, target)}
          onClick={() => perform('apply', openPlan.id)}
        >
          Apply
        </ActionButton>
      )}
      {openPlan && missingApprovals(openPlan, target) > 0 && (
        <RunLink runId={openPlan.id}>Review plan</RunLink>
      )}
      {lastRun && isActive(lastRun) && (
        <ActionButton
          variant="outlined"
          loading={cancel.loading || busy !== undefined}
          blocker={cancel.blocker}
          onClick={() => perform('cancel', lastRun.id)}
        >
          Cancel
        </ActionButton>
      )}
      {planOpen && (
        <PlanDialog target={target} open onClose={() => setPlanOpen(false)} />
      )}
    </Box>
  );
}
