import {
  StatusAborted,
  StatusError,
  StatusOK,
  StatusPending,
  StatusRunning,
  StatusWarning,
} from '@backstage/core-components';
import { RunStatus } from '@sealed-runner/backstage-plugin-sealed-runner-common';

const STATUS_ICONS: Record<RunStatus, typeof StatusOK> = {
  queued: StatusPending,
  running: StatusRunning,
  succeeded: StatusOK,
  failed: StatusError,
  rejected: StatusWarning,
  cancelled: StatusAborted,
};

/** A run status with Backstage's status icon. */
export function RunStatusLabel(props: { status: RunStatus }) {
  const Icon = STATUS_ICONS[props.status];
  return <Icon>{props.status}</Icon>;
}
