import {
  Content,
  Header,
  InfoCard,
  Page,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { useApi, useRouteRef } from '@backstage/core-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import { Grid } from '@material-ui/core';
import {
  BreakGlassSession,
  Run,
  runCancelPermission,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useParams } from 'react-router-dom';
import useAsync from 'react-use/esm/useAsync';
import { sealedRunnerApiRef } from '../../api';
import { useBreakGlassSessions } from '../../hooks/useBreakGlassSessions';
import { useRun } from '../../hooks/useRun';
import { useRunAction } from '../../hooks/useRunAction';
import { useTargetPermission } from '../../hooks/useTargetPermission';
import { rootRouteRef } from '../../routes';
import { BreakGlassBanner } from '../BreakGlass';
import { ActionButton, isActive } from '../shared';
import { ApprovalPanel } from './ApprovalPanel';
import { PlanReview } from './PlanReview';
import { RunDetails } from './RunDetails';
import { RunLog } from './RunLog';

function CancelButton(props: { run: Run; onChange: () => void }) {
  const { run, onChange } = props;
  const cancel = useTargetPermission(
    runCancelPermission,
    run,
    'cancel runs in',
  );
  const { busy, perform } = useRunAction(onChange);
  return (
    <ActionButton
      variant="outlined"
      loading={cancel.loading || busy !== undefined}
      blocker={cancel.blocker}
      onClick={() => perform('cancel', run.id)}
    >
      Cancel run
    </ActionButton>
  );
}

/**
 * The approvals of a plan, once the target's rules (approvals, approvers,
 * apply branches, lock) are known: they decide which buttons it offers.
 */
function PlanApprovals(props: {
  plan: Run;
  refresh: () => void;
  breakGlass?: BreakGlassSession;
}) {
  const { plan, refresh, breakGlass } = props;
  const api = useApi(sealedRunnerApiRef);
  const { value, loading, error } = useAsync(async () => {
    const targets = await api.listTargets(plan.entityRef);
    return { target: targets.find(t => t.environment === plan.environment) };
  }, [
    api,
    plan.entityRef,
    plan.environment,
    plan.status,
    plan.approvals.length,
    plan.applyRunId,
  ]);
  if (!value) {
    return (
      <InfoCard title="Approvals">
        {loading || !error ? (
          <Progress />
        ) : (
          <ResponseErrorPanel error={error} />
        )}
      </InfoCard>
    );
  }
  return (
    <ApprovalPanel
      plan={plan}
      target={value.target}
      onChange={refresh}
      breakGlass={breakGlass}
    />
  );
}

function RunContent(props: { run: Run; refresh: () => void }) {
  const { run, refresh } = props;
  const destroys = run.plan?.destroy ?? 0;
  const breakGlass = useBreakGlassSessions(run.entityRef, run.environment);
  const session = breakGlass.sessionOf(run.environment);

  return (
    <Grid container spacing={3}>
      {session && (
        <Grid item xs={12}>
          <BreakGlassBanner session={session} onClosed={breakGlass.retry} />
        </Grid>
      )}
      {run.operation === 'plan' && destroys > 0 && (
        <Grid item xs={12}>
          <WarningPanel
            severity="error"
            title={`Destructive plan: ${destroys} resource${
              destroys === 1 ? '' : 's'
            } will be destroyed`}
            message="Review every resource marked Destroy or Replace below before approving or applying."
            defaultExpanded
          />
        </Grid>
      )}
      <Grid item xs={12}>
        <RunDetails
          run={run}
          actions={
            isActive(run) ? (
              <CancelButton run={run} onChange={refresh} />
            ) : undefined
          }
        />
      </Grid>
      {run.operation === 'plan' && (
        <>
          <Grid item xs={12} md={8}>
            <PlanReview run={run} />
          </Grid>
          <Grid item xs={12} md={4}>
            <PlanApprovals plan={run} refresh={refresh} breakGlass={session} />
          </Grid>
        </>
      )}
      <Grid item xs={12}>
        <RunLog runId={run.id} onComplete={refresh} />
      </Grid>
    </Grid>
  );
}

/** A run's own page: `/sealed-runner/runs/:runId`. */
export function RunPage() {
  const { runId = '' } = useParams();
  const rootRoute = useRouteRef(rootRouteRef);
  const { value: run, error, retry } = useRun(runId);
  const entityName = run ? parseEntityRef(run.entityRef).name : undefined;
  return (
    <Page themeId="tool">
      <Header
        title={
          run
            ? `${run.operation === 'plan' ? 'Plan' : 'Apply'} ${entityName} / ${
                run.environment
              }`
            : 'Run'
        }
        subtitle={
          run ? `${run.ref} @ ${run.commitSha.slice(0, 12) || '…'}` : runId
        }
        type="Deployments"
        typeLink={rootRoute()}
      />
      <Content>
        {error && !run && <ResponseErrorPanel error={error} />}
        {!error && !run && <Progress />}
        {run && <RunContent run={run} refresh={retry} />}
      </Content>
    </Page>
  );
}
