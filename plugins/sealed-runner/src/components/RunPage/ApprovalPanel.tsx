import { InfoCard } from '@backstage/core-components';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import {
  Box,
  List,
  ListItem,
  ListItemIcon,
  ListItemText,
  Typography,
} from '@material-ui/core';
import CheckIcon from '@material-ui/icons/CheckCircle';
import {
  BreakGlassSession,
  requiredApprovalsFor,
  Run,
  runApplyPermission,
  runApprovePermission,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useRunAction } from '../../hooks/useRunAction';
import { useTargetPermission } from '../../hooks/useTargetPermission';
import { useViewer } from '../../hooks/useViewer';
import {
  ActionButton,
  appliesUnderBreakGlass,
  applyBlocker,
  holdsBreakGlass,
  approveBlocker,
  displayRef,
  formatTimestamp,
  missingApprovals,
} from '../shared';

/**
 * Approvals of a plan and the Approve / Apply buttons, shown beside the
 * plan review so nobody approves what they have not seen. A button that
 * cannot be used says why in words, not only in a tooltip.
 */
export function ApprovalPanel(props: {
  plan: Run;
  target?: Target;
  onChange: () => void;
  /** The target's open break-glass session, if any. */
  breakGlass?: BreakGlassSession;
}) {
  const { plan, target, onChange, breakGlass } = props;
  const viewer = useViewer();
  // Only the session's own opener applies under it; the gate checks again.
  const underBreakGlass = holdsBreakGlass(breakGlass, viewer);
  const targetRef = {
    entityRef: plan.entityRef,
    environment: plan.environment,
  };
  const approve = useTargetPermission(
    runApprovePermission,
    targetRef,
    'approve plans for',
  );
  const apply = useTargetPermission(runApplyPermission, targetRef, 'apply to');
  const { busy, perform } = useRunAction(onChange);

  const unknownTarget = `${plan.environment} is no longer a target of ${plan.entityRef}`;
  // The four-eyes and approver rules say more than a bare permission denial.
  const approveReason = target
    ? (viewer ? approveBlocker(plan, target, viewer) : undefined) ??
      approve.blocker
    : unknownTarget;
  const applyReason = target
    ? apply.blocker ?? applyBlocker(plan, target, { underBreakGlass })
    : unknownTarget;
  const breakGlassApply =
    target !== undefined &&
    appliesUnderBreakGlass(plan, target, underBreakGlass);
  const required = target ? requiredApprovalsFor(plan, target) : 0;
  const missing = target ? missingApprovals(plan, target) : 0;

  return (
    <InfoCard
      title="Approvals"
      subheader={
        required === 0
          ? `${plan.environment} needs no approval`
          : `${plan.approvals.length} of ${required} required${
              target?.approvers
                ? ` from ${target.approvers.map(displayRef).join(', ')}`
                : ''
            }`
      }
    >
      {plan.approvals.length > 0 ? (
        <List dense aria-label="approvals">
          {plan.approvals.map(a => (
            <ListItem key={a.by}>
              <ListItemIcon style={{ minWidth: 32 }}>
                <CheckIcon fontSize="small" color="primary" />
              </ListItemIcon>
              <ListItemText
                primary={<EntityRefLink entityRef={a.by} defaultKind="user" />}
                secondary={formatTimestamp(a.at)}
              />
            </ListItem>
          ))}
        </List>
      ) : (
        required > 0 && (
          <Typography variant="body2" color="textSecondary" paragraph>
            No approvals yet. The requester cannot approve their own plan.
          </Typography>
        )
      )}
      {missing > 0 && plan.status === 'succeeded' && (
        <Typography variant="body2" paragraph>
          Needs {missing} more approval{missing === 1 ? '' : 's'} before it can
          be applied.
        </Typography>
      )}
      <Box display="flex" style={{ gap: 8 }} mt={1}>
        {required > 0 && (
          <ActionButton
            variant="contained"
            color="primary"
            loading={approve.loading || !viewer || busy !== undefined}
            blocker={approveReason}
            onClick={() => perform('approve', plan.id)}
          >
            Approve
          </ActionButton>
        )}
        <ActionButton
          variant={required > 0 ? 'outlined' : 'contained'}
          color="primary"
          loading={apply.loading || busy !== undefined}
          blocker={applyReason}
          onClick={() => perform('apply', plan.id)}
        >
          {breakGlassApply ? 'Apply (break-glass)' : 'Apply'}
        </ActionButton>
      </Box>
      {breakGlassApply && (
        <Typography variant="caption" color="error" component="div">
          Your break-glass session waives this plan&apos;s approvals and apply
          branches; the apply is recorded on the session and audited.
        </Typography>
      )}
      {[
        required > 0 && approveReason ? `Approve: ${approveReason}` : undefined,
        applyReason ? `Apply: ${applyReason}` : undefined,
      ]
        .filter(Boolean)
        .map(reason => (
          <Typography
            key={reason}
            variant="caption"
            color="textSecondary"
            component="div"
          >
            {reason}
          </Typography>
        ))}
    </InfoCard>
  );
}
