import { Link } from '@backstage/core-components';
import { useRouteRef } from '@backstage/core-plugin-api';
import { ReactNode } from 'react';
import { runRouteRef } from '../../routes';

/** A link to a run's page. */
export function RunLink(props: { runId: string; children?: ReactNode }) {
  const runRoute = useRouteRef(runRouteRef);
  return (
    <Link to={runRoute({ runId: props.runId })}>
      {props.children ?? props.runId}
    </Link>
  );
}
