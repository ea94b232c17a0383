import {
  Content,
  ContentHeader,
  Header,
  Page,
  ResponseErrorPanel,
  Select,
  SupportButton,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { Box, TextField, Tooltip, Typography } from '@material-ui/core';
import {
  Run,
  RUN_STATUSES,
  RunStatus,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useDebounce from 'react-use/esm/useDebounce';
import { sealedRunnerApiRef } from '../../api';
import { usePolling } from '../../hooks/useRun';
import {
  formatTimestamp,
  isActive,
  PlanSummary,
  RunStatusLink,
  timeAgo,
} from '../shared';

/** How often the list is re-read while any listed run is in progress. */
export const RUNS_REFRESH_MS = 5_000;
const PAGE_SIZE = 200;
const ALL = 'all';

const columns: TableColumn<Run>[] = [
  {
    title: 'Status',
    field: 'status',
    render: run => <RunStatusLink run={run} />,
  },
  { title: 'Operation', field: 'operation' },
  {
    title: 'Entity',
    field: 'entityRef',
    render: run => <EntityRefLink entityRef={run.entityRef} />,
  },
  { title: 'Environment', field: 'environment' },
  {
    title: 'Branch / commit',
    field: 'ref',
    render: run => (
      <Typography variant="body2">
        <code>{run.ref}</code> @ <code>{run.commitSha.slice(0, 7) || '—'}</code>
      </Typography>
    ),
  },
  {
    title: 'Plan',
    field: 'plan',
    render: run => <PlanSummary plan={run.plan} />,
  },
  {
    title: 'Requested',
    field: 'createdAt',
    render: run => (
      <Box>
        <EntityRefLink
          entityRef={run.requestedBy}
          defaultKind="user"
          hideIcon
        />
        <Tooltip title={formatTimestamp(run.createdAt)}>
          <Typography variant="caption" color="textSecondary" component="div">
            {timeAgo(run.createdAt)}
          </Typography>
        </Tooltip>
      </Box>
    ),
  },
];

/**
 * Every run the viewer may read across the catalog, newest first, filtered
 * by status, environment and entity. Filters live in the URL so a filtered
 * view can be shared.
 */
export function RunsPage() {
  const api = useApi(sealedRunnerApiRef);
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? '';
  const environment = params.get('environment') ?? '';
  const entityRef = params.get('entityRef') ?? '';
  const [entityInput, setEntityInput] = useState(entityRef);

  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value && value !== ALL) {
      next.set(key, value);
    } else {
      next.delete(key);
    }
    setParams(next, { replace: true });
  };
  useDebounce(
    () =>
      entityInput !== entityRef && setFilter('entityRef', entityInput.trim()),
    400,
    [entityInput],
  );

  const {
    value: runs,
    loading,
    error,
    retry,
  } = useAsyncRetry(
    () =>
      api.listRuns({
        ...(status ? { status: status as RunStatus } : {}),
        ...(environment ? { environment } : {}),
        ...(entityRef ? { entityRef } : {}),
        limit: PAGE_SIZE,
      }),
    [api, status, environment, entityRef],
  );
  usePolling(
    retry,
    !loading && (runs?.some(isActive) ?? false),
    RUNS_REFRESH_MS,
  );
  const { value: environments = [] } = useAsyncRetry(async () => {
    const all = await api.listRuns({ limit: PAGE_SIZE });
    return [...new Set(all.map(r => r.environment))].sort();
  }, [api]);

  return (
    <Page themeId="tool">
      <Header
        title="Deployments"
        subtitle="Every plan and apply through the sealed runner"
      />
      <Content>
        <ContentHeader title="Runs">
          <SupportButton>
            Runs are plans and applies of catalog entities' targets. Open a run
            for its plan review, approvals and log.
          </SupportButton>
        </ContentHeader>
        <Box
          display="flex"
          flexWrap="wrap"
          alignItems="flex-end"
          style={{ gap: 16 }}
          mb={2}
        >
          <Box minWidth={180}>
            <Select
              label="Status"
              selected={status || ALL}
              items={[
                { label: 'All', value: ALL },
                ...RUN_STATUSES.map(s => ({ label: s, value: s })),
              ]}
              onChange={value => setFilter('status', String(value))}
            />
          </Box>
          <Box minWidth={180}>
            <Select
              label="Environment"
              selected={environment || ALL}
              items={[
                { label: 'All', value: ALL },
                ...[
                  ...new Set([
                    ...environments,
                    ...(environment ? [environment] : []),
                  ]),
                ].map(e => ({ label: e, value: e })),
              ]}
              onChange={value => setFilter('environment', String(value))}
            />
          </Box>
          <TextField
            label="Entity"
            placeholder="component:default/payments"
            value={entityInput}
            onChange={e => setEntityInput(e.target.value)}
            inputProps={{
              maxLength: 255,
              'aria-label': 'Entity',
              spellCheck: false,
            }}
            style={{ minWidth: 280, marginBottom: 8 }}
          />
        </Box>
        {error ? (
          <ResponseErrorPanel error={error} />
        ) : (
          <Table<Run>
            title={`Runs${
              runs
                ? ` (${runs.length}${runs.length === PAGE_SIZE ? '+' : ''})`
                : ''
            }`}
            isLoading={loading && !runs}
            columns={columns}
            data={runs ?? []}
            options={{
              paging: true,
              pageSize: 20,
              search: false,
              padding: 'dense',
              sorting: false,
            }}
            emptyContent={
              <Box p={4}>
                <Typography align="center" color="textSecondary">
                  No runs match these filters.
                </Typography>
              </Box>
            }
          />
        )}
      </Content>
    </Page>
  );
}
