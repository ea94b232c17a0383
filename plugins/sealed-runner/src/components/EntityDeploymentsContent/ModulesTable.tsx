import { Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { Box, Tooltip, Typography } from '@material-ui/core';
import { ModuleUsage } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import useAsync from 'react-use/esm/useAsync';
import { sealedRunnerApiRef } from '../../api';
import { displayRef } from '../shared';

/**
 * The vetted module versions the entity's targets use (as their newest
 * successful plans ran them), with the commit each version is pinned to:
 * a tag can be moved, the commit the runner verified cannot.
 */
export function ModulesTable(props: { entityRef: string }) {
  const api = useApi(sealedRunnerApiRef);
  const { value } = useAsync(
    () => api.listModuleUsage(props.entityRef),
    [api, props.entityRef],
  );
  if (!value || value.length === 0) {
    return null;
  }
  const columns: TableColumn<ModuleUsage>[] = [
    { title: 'Environment', field: 'environment' },
    {
      title: 'Module',
      render: usage => (
        <Tooltip title={usage.source}>
          <Typography variant="body2">
            {usage.source.split('//').pop()}
          </Typography>
        </Tooltip>
      ),
    },
    { title: 'Version', field: 'version' },
    {
      title: 'Pinned commit',
      render: usage =>
        usage.pinnedCommit ? (
          <Tooltip title={usage.pinnedCommit}>
            <code>{usage.pinnedCommit.slice(0, 12)}</code>
          </Tooltip>
        ) : (
          <Typography variant="body2" color="textSecondary">
            not pinned
          </Typography>
        ),
    },
    {
      title: 'Vetted by',
      render: usage =>
        usage.moduleRefs.map(ref => displayRef(ref)).join(', ') || '—',
    },
  ];
  return (
    <Box mt={3}>
      <Table
        title="Modules in use"
        options={{ paging: false, search: false, padding: 'dense' }}
        columns={columns}
        data={value}
      />
    </Box>
  );
}
