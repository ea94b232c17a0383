import { Link } from '@backstage/core-components';
import { useRouteRef } from '@backstage/core-plugin-api';
import { Run } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ReactNode } from 'react';
import { runRouteRef } from '../../routes';
import { RunStatusLabel } from './RunStatusLabel';

/** A link to a run's page. */
export function RunLink(props: {
  runId: string;
  children?: ReactNode;
  /** Accessible name, when the children are not text. */
  label?: string;
}) {
  const runRoute = useRouteRef(runRouteRef);
  return (
    <Link to={runRoute({ runId: props.runId })} aria-label={props.label}>
      {props.children ?? props.runId}
    </Link>
  );
}

/** A run's status, linking to its page (status icons are hidden from screen readers). */
export function RunStatusLink(props: {
  run: Pick<Run, 'id' | 'operation' | 'status'>;
}) {
  const { run } = props;
  return (
    <RunLink
      runId={run.id}
      label={`${run.operation} run ${run.id}: ${run.status}`}
    >
      <RunStatusLabel status={run.status} />
    </RunLink>
  );
}
