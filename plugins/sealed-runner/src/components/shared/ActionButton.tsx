import { Button, ButtonProps, Tooltip } from '@material-ui/core';

/**
 * A button that, when it cannot be used, stays visible but disabled and
 * says why on hover (disabled buttons get no pointer events, hence the span).
 */
export function ActionButton(
  props: ButtonProps & { blocker?: string; loading?: boolean },
) {
  const { blocker, loading, disabled, ...rest } = props;
  const button = (
    <Button
      size="small"
      {...rest}
      disabled={disabled || loading || blocker !== undefined}
    />
  );
  if (!blocker) {
    return button;
  }
  return (
    <Tooltip title={blocker}>
      <span data-blocker={blocker}>{button}</span>
    </Tooltip>
  );
}
