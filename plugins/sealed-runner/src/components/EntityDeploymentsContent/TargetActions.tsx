import { Box } from '@material-ui/core';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  breakGlassPermission,
  BreakGlassSession,
  runApplyPermission,
  runCancelPermission,
  runPlanPermission,
  stringifyTargetRef,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useState } from 'react';
import { useRunAction } from '../../hooks/useRunAction';
import { useTargetPermission } from '../../hooks/useTargetPermission';
import { useViewer } from '../../hooks/useViewer';
import { BreakGlassDialog } from '../BreakGlass';
import {
  ActionButton,
  appliesUnderBreakGlass,
  applyBlocker,
  holdsBreakGlass,
  isActive,
  isOpenPlan,
  missingApprovals,
  planBlocker,
  RunLink,
} from '../shared';
import { PlanDialog } from './PlanDialog';

/**
 * The actions on one target the viewer may take now. Approve is not here:
 * approvers approve on the run page, next to the list of changes. Holders
 * of `sealed-runner.breakglass` get "Break glass" while no session is open.
 */
export function TargetActions(props: {
  target: Target;
  onChange: () => void;
  /** The target's open break-glass session, if any. */
  breakGlass?: BreakGlassSession;
  /** A session was opened or closed. */
  onBreakGlassChange?: () => void;
}) {
  const { target, onChange, breakGlass, onBreakGlassChange } = props;
  const [planOpen, setPlanOpen] = useState(false);
  const [breakGlassOpen, setBreakGlassOpen] = useState(false);
  const viewer = useViewer();
  const holder = usePermission({
    permission: breakGlassPermission,
    resourceRef: stringifyTargetRef(target),
  });
  const underBreakGlass = holdsBreakGlass(breakGlass, viewer);
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
          blocker={
            apply.blocker ?? applyBlocker(openPlan, target, { underBreakGlass })
          }
          onClick={() => perform('apply', openPlan.id)}
        >
          {appliesUnderBreakGlass(openPlan, target, underBreakGlass)
            ? 'Apply (break-glass)'
            : 'Apply'}
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
      {!holder.loading &&
        holder.allowed &&
        !breakGlass &&
        target.deployable && (
          <ActionButton
            variant="outlined"
            color="secondary"
            onClick={() => setBreakGlassOpen(true)}
          >
            Break glass
          </ActionButton>
        )}
      {planOpen && (
        <PlanDialog target={target} open onClose={() => setPlanOpen(false)} />
      )}
      {breakGlassOpen && (
        <BreakGlassDialog
          target={target}
          open
          onClose={() => setBreakGlassOpen(false)}
          onOpened={() => onBreakGlassChange?.()}
        />
      )}
    </Box>
  );
}
