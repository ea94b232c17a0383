import { screen, within } from '@testing-library/react';
import {
  deployableEntity,
  ENTITY_REF,
  makeRun,
  makeTarget,
  mockSealedRunnerApi,
} from '../../__testUtils__/fixtures';
import { renderWithApis } from '../../__testUtils__/renderWithApis';
import { Target } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { EntityDeploymentsCard } from './EntityDeploymentsCard';

async function renderCard(targets: Target[]) {
  const api = mockSealedRunnerApi({
    listTargets: jest.fn(async () => targets),
  });
  await renderWithApis(<EntityDeploymentsCard />, api, {
    entity: deployableEntity,
  });
  return api;
}

/** The list item of an environment. */
const line = (environment: string) =>
  screen.getByText(environment).closest('li')!;

describe('EntityDeploymentsCard', () => {
  it('shows one line per environment with its last run', async () => {
    const api = await renderCard([
      makeTarget({
        environment: 'dev',
        lastRun: makeRun({
          id: 'run-plan-5',
          environment: 'dev',
          ref: 'feature/x',
          status: 'failed',
          plan: undefined,
        }),
      }),
      makeTarget({ environment: 'staging' }),
      makeTarget({
        environment: 'prod',
        deployable: false,
        reason: 'no prod account configured',
      }),
    ]);
    expect(api.listTargets).toHaveBeenCalledWith(ENTITY_REF);
    expect(
      await screen.findByText('Deployments at a glance'),
    ).toBeInTheDocument();
    expect(screen.getAllByRole('listitem')).toHaveLength(3);

    const dev = line('dev');
    expect(within(dev).getByText('failed').closest('a')).toHaveAttribute(
      'href',
      '/sealed-runner/runs/run-plan-5',
    );
    expect(within(dev).getByText(/plan of feature\/x ·/)).toBeInTheDocument();

    expect(within(line('staging')).getByText('Never run')).toBeInTheDocument();
    expect(
      within(line('prod')).getByText(
        'Not deployable: no prod account configured',
      ),
    ).toBeInTheDocument();
  });

  it('summarises the plan of the last run', async () => {
    await renderCard([
      makeTarget({
        lastRun: makeRun({
          status: 'succeeded',
          plan: { add: 1, change: 0, destroy: 2 },
        }),
      }),
    ]);
    const prod = (await screen.findByText('prod')).closest('li')!;
    expect(within(prod).getByText('succeeded')).toBeInTheDocument();
    expect(
      within(prod).getByLabelText('plan: 1 to add, 0 to change, 2 to destroy'),
    ).toBeInTheDocument();
    expect(within(prod).getByLabelText('destructive plan')).toBeInTheDocument();
  });

  it('links to the Deployments tab of the entity', async () => {
    await renderCard([makeTarget()]);
    // The catalog resolves kinds case-insensitively; the case is pinned below.
    expect(
      await screen.findByRole('link', { name: /View deployments/ }),
    ).toHaveAttribute(
      'href',
      expect.stringMatching(
        /^\/catalog\/default\/component\/payments\/deployments$/i,
      ),
    );
  });

  // Like every entity link in Backstage (entityRouteParams), not the kind as written.
  it('links with the canonical lower-case kind', async () => {
    await renderCard([makeTarget()]);
    expect(
      await screen.findByRole('link', { name: /View deployments/ }),
    ).toHaveAttribute(
      'href',
      '/catalog/default/component/payments/deployments',
    );
  });

  it('says when the entity has no targets', async () => {
    await renderCard([]);
    expect(
      await screen.findByText('No deployment targets.'),
    ).toBeInTheDocument();
  });

  it('shows why the targets could not be read', async () => {
    const api = mockSealedRunnerApi({
      listTargets: jest.fn(async () => {
        throw new Error('the gate is down');
      }),
    });
    await renderWithApis(<EntityDeploymentsCard />, api, {
      entity: deployableEntity,
    });
    expect(await screen.findByText('the gate is down')).toBeInTheDocument();
  });
});
