import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router-dom';
import { ListRunsOptions, SealedRunnerApi } from '../../api';
import {
  ALICE,
  makeRun,
  mockSealedRunnerApi,
} from '../../__testUtils__/fixtures';
import { renderWithApis } from '../../__testUtils__/renderWithApis';
import { Router } from '../Router';

// Backstage tables render slowly in jsdom, more so on a busy machine.
jest.setTimeout(20_000);

const runs = [
  makeRun({
    id: 'run-apply-2',
    operation: 'apply',
    status: 'running',
    environment: 'prod',
    finishedAt: undefined,
  }),
  makeRun({
    id: 'run-plan-3',
    environment: 'dev',
    status: 'failed',
    ref: 'feature/x',
    commitSha: 'fedcba9876543210fedcba9876543210fedcba98',
  }),
];

async function renderRuns(
  options: { route?: string; listRuns?: jest.Mock } = {},
) {
  const api = mockSealedRunnerApi({
    listRuns: options.listRuns ?? jest.fn(async () => runs),
  });
  const result = await renderWithApis(
    <Routes>
      <Route path="/sealed-runner/*" element={<Router />} />
    </Routes>,
    api,
    { route: options.route ?? '/sealed-runner' },
  );
  return { api, ...result };
}

/** Opens the Backstage select labelled `label` and picks `option`. */
async function choose(label: string, option: string) {
  const select = screen
    .getAllByTestId('select')
    .find(s => s.getAttribute('aria-label') === label)!;
  await userEvent.click(within(select).getByRole('button'));
  await userEvent.click(await screen.findByRole('option', { name: option }));
}

/** The options of listRuns' latest call. */
const lastListRunsOptions = (
  api: jest.Mocked<SealedRunnerApi>,
): ListRunsOptions | undefined =>
  api.listRuns.mock.calls[api.listRuns.mock.calls.length - 1][0];

describe('RunsPage', () => {
  it('lists the runs with links to each run and its entity', async () => {
    const { api } = await renderRuns();
    expect(await screen.findByText('Runs (2)')).toBeInTheDocument();
    expect(api.listRuns).toHaveBeenCalledWith({ limit: 200 });
    const [, apply, plan] = screen.getAllByRole('row');

    expect(within(apply).getByText('running').closest('a')).toHaveAttribute(
      'href',
      '/sealed-runner/runs/run-apply-2',
    );
    expect(within(apply).getByText('apply')).toBeInTheDocument();
    expect(within(apply).getByText('prod')).toBeInTheDocument();
    expect(
      within(apply).getByRole('link', { name: /payments/ }),
    ).toHaveAttribute('href', '/catalog/default/component/payments');

    expect(within(plan).getByText('failed').closest('a')).toHaveAttribute(
      'href',
      '/sealed-runner/runs/run-plan-3',
    );
    expect(within(plan).getByText('dev')).toBeInTheDocument();
    expect(within(plan).getByText('feature/x')).toBeInTheDocument();
    expect(within(plan).getByText('fedcba9')).toBeInTheDocument();
    expect(within(plan).getByRole('link', { name: /alice/ })).toHaveAttribute(
      'href',
      '/catalog/default/user/alice',
    );
  });

  // Backstage's status icons are aria-hidden: the link needs its own name.
  it('names the link to each run for screen readers', async () => {
    await renderRuns();
    await screen.findByText('Runs (2)');
    const [, apply] = screen.getAllByRole('row');
    expect(
      within(apply).getByRole('link', { name: /running/ }),
    ).toHaveAttribute('href', '/sealed-runner/runs/run-apply-2');
  });

  it('filters by status through the URL', async () => {
    const { api } = await renderRuns();
    await screen.findByText('Runs (2)');
    await choose('Status', 'failed');
    await waitFor(() =>
      expect(api.listRuns).toHaveBeenCalledWith({
        status: 'failed',
        limit: 200,
      }),
    );
    expect(screen.getByTestId('current-path')).toHaveTextContent(
      '/sealed-runner?status=failed',
    );

    const before = api.listRuns.mock.calls.length;
    await choose('Status', 'All');
    await waitFor(() =>
      expect(api.listRuns.mock.calls.length).toBeGreaterThan(before),
    );
    expect(lastListRunsOptions(api)).toEqual({ limit: 200 });
    expect(screen.getByTestId('current-path')).toHaveTextContent(
      /^\/sealed-runner$/,
    );
  });

  it('offers the environments that have runs and filters by one', async () => {
    const { api } = await renderRuns();
    await screen.findByText('Runs (2)');
    await choose('Environment', 'dev');
    await waitFor(() =>
      expect(api.listRuns).toHaveBeenCalledWith({
        environment: 'dev',
        limit: 200,
      }),
    );
  });

  it('filters by entity once typing stops', async () => {
    const { api } = await renderRuns();
    await screen.findByText('Runs (2)');
    await userEvent.type(
      screen.getByRole('textbox', { name: 'Entity' }),
      ' payments ',
    );
    await waitFor(() =>
      expect(api.listRuns).toHaveBeenCalledWith({
        entityRef: 'payments',
        limit: 200,
      }),
    );
    // One request for the finished input, not one per keystroke.
    expect(
      api.listRuns.mock.calls.filter(([o]) => (o as ListRunsOptions).entityRef),
    ).toHaveLength(1);
  });

  it('applies the filters of a shared URL', async () => {
    const { api } = await renderRuns({
      route:
        '/sealed-runner?status=succeeded&environment=prod&entityRef=component%3Adefault%2Fpayments',
    });
    await waitFor(() =>
      expect(api.listRuns).toHaveBeenCalledWith({
        status: 'succeeded',
        environment: 'prod',
        entityRef: 'component:default/payments',
        limit: 200,
      }),
    );
    expect(screen.getByRole('textbox', { name: 'Entity' })).toHaveValue(
      'component:default/payments',
    );
  });

  it('says when no run matches', async () => {
    await renderRuns({ listRuns: jest.fn(async () => []) });
    expect(
      await screen.findByText('No runs match these filters.'),
    ).toBeInTheDocument();
  });

  it('shows why the runs could not be read', async () => {
    await renderRuns({
      listRuns: jest.fn(async () => {
        throw new Error('permission denied');
      }),
    });
    expect(await screen.findByText('permission denied')).toBeInTheDocument();
  });

  it('marks a full page as possibly incomplete', async () => {
    const many = Array.from({ length: 200 }, (_, i) =>
      makeRun({ id: `run-${i}`, requestedBy: ALICE }),
    );
    await renderRuns({ listRuns: jest.fn(async () => many) });
    expect(await screen.findByText('Runs (200+)')).toBeInTheDocument();
  });
});
