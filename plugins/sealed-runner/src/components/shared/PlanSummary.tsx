import { Box, Tooltip, Typography } from '@material-ui/core';
import { makeStyles } from '@material-ui/core/styles';
import WarningIcon from '@material-ui/icons/Warning';
import { PlanSummary as PlanSummaryType } from '@sealed-runner/backstage-plugin-sealed-runner-common';

const useStyles = makeStyles(theme => ({
  add: { color: theme.palette.success.main },
  change: { color: theme.palette.warning.dark },
  destroy: {
    color: theme.palette.error.main,
    fontWeight: theme.typography.fontWeightBold as number,
  },
  muted: { color: theme.palette.text.secondary },
  icon: {
    color: theme.palette.error.main,
    fontSize: '1rem',
    marginRight: theme.spacing(0.5),
  },
}));

/** `+add ~change -destroy`, with a warning sign when the plan destroys anything. */
export function PlanSummary(props: { plan?: PlanSummaryType }) {
  const classes = useStyles();
  const { plan } = props;
  if (!plan) {
    return (
      <Typography variant="body2" component="span" className={classes.muted}>
        —
      </Typography>
    );
  }
  const destructive = plan.destroy > 0;
  return (
    <Box
      display="inline-flex"
      alignItems="center"
      component="span"
      aria-label={`plan: ${plan.add} to add, ${plan.change} to change, ${plan.destroy} to destroy`}
    >
      {destructive && (
        <Tooltip
          title={`This plan destroys ${plan.destroy} resource${
            plan.destroy === 1 ? '' : 's'
          }`}
        >
          <WarningIcon className={classes.icon} aria-label="destructive plan" />
        </Tooltip>
      )}
      <Typography variant="body2" component="span">
        <span className={plan.add ? classes.add : classes.muted}>
          +{plan.add}
        </span>{' '}
        <span className={plan.change ? classes.change : classes.muted}>
          ~{plan.change}
        </span>{' '}
        <span className={destructive ? classes.destroy : classes.muted}>
          -{plan.destroy}
        </span>
      </Typography>
    </Box>
  );
}
