import { ResponseError } from '@backstage/errors';
import {
  AuthorizeResult,
  EvaluatePermissionRequest,
} from '@backstage/plugin-permission-common';
import {
  runPlanPermission,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  BOB,
  deployableEntity,
  ENTITY_REF,
  makeRun,
  makeTarget,
  mockSealedRunnerApi,
} from '../../__testUtils__/fixtures';
import {
  renderWithApis,
  RenderOptions,
} from '../../__testUtils__/renderWithApis';
import { SealedRunnerApi } from '../../api';
import { EntityDeploymentsContent } from './EntityDeploymentsContent';

// Backstage tables and dialogs render slowly in jsdom, more so on a busy machine.
jest.setTimeout(20_000);

// usePermission caches answers (in SWR's global cache) per permission and
// target across the tests of a file, so a test that denies a permission uses
// an environment no other test uses.

async function renderContent(
  targets: Target[],
  options: RenderOptions & { api?: Partial<SealedRunnerApi> } = {},
) {
  const api = mockSealedRunnerApi({
    listTargets: jest.fn(async () => targets),
    ...options.api,
  });
  const result = await renderWithApis(<EntityDeploymentsContent />, api, {
    entity: deployableEntity,
    ...options,
  });
  return { api, ...result };
}

/** The enabled or disabled button; a disabled one sits in a span saying why. */
const button = (name: string) => screen.getByRole('button', { name });
const blockerOf = (name: string) =>
  button(name).closest('[data-blocker]')?.getAttribute('data-blocker');

/** A refusal as SealedRunnerClient throws it: the Backstage error body of a 409. */
const conflict = (message: string) =>
  ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name: 'ConflictError', message },
        request: { method: 'POST', url: '/api/sealed-runner/runs/x/apply' },
        response: { statusCode: 409 },
      }),
      {
        status: 409,
        statusText: 'Conflict',
        headers: { 'content-type': 'application/json' },
      },
    ),
  );

describe('EntityDeploymentsContent', () => {
  it('asks the gate for the targets of the entity', async () => {
    const { api } = await renderContent([]);
    expect(api.listTargets).toHaveBeenCalledWith(ENTITY_REF);
  });

  it('explains how to add a target when the entity has none', async () => {
    await renderContent([]);
    expect(
      await screen.findByText('No deployment targets'),
    ).toBeInTheDocument();
    expect(
      screen.getByText(
        /component:default\/payments names no target you can see/,
      ),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Plan' }),
    ).not.toBeInTheDocument();
  });

  it('shows why the targets could not be read', async () => {
    const api = mockSealedRunnerApi({
      listTargets: jest.fn(async () => {
        throw new Error('the gate is down');
      }),
    });
    await renderWithApis(<EntityDeploymentsContent />, api, {
      entity: deployableEntity,
    });
    expect(await screen.findByText('the gate is down')).toBeInTheDocument();
  });

  it('lists each target with where it deploys from and its approval rule', async () => {
    await renderContent([
      makeTarget({
        environment: 'sandbox',
        requiredApprovals: 0,
        applyBranches: ['*'],
        path: 'payments/sandbox',
      }),
      makeTarget({
        environment: 'live',
        requiredApprovals: 2,
        approvers: ['group:default/platform-team'],
      }),
    ]);
    expect(await screen.findByText('Deployment targets')).toBeInTheDocument();
    const [sandbox, live] = ['sandbox', 'live'].map(
      env => screen.getByText(env).closest('tr')!,
    );
    expect(
      within(sandbox).getByText('apply from any branch · no approval needed'),
    ).toBeInTheDocument();
    expect(
      within(sandbox).getByText('infrastructure-live'),
    ).toBeInTheDocument();
    expect(within(sandbox).getByText('payments/sandbox')).toBeInTheDocument();
    expect(within(sandbox).getByText('Ready')).toBeInTheDocument();
    expect(within(sandbox).getByText('Never run')).toBeInTheDocument();
    expect(
      within(live).getByText(
        'apply from main · 2 approvals from platform-team',
      ),
    ).toBeInTheDocument();
  });

  it('says why a target is not deployable and offers no plan', async () => {
    await renderContent([
      makeTarget({
        environment: 'legacy',
        deployable: false,
        reason: 'folder payments/legacy does not exist',
      }),
    ]);
    expect(await screen.findByText('Not deployable:')).toBeInTheDocument();
    expect(
      screen.getByText('folder payments/legacy does not exist'),
    ).toBeInTheDocument();
    await waitFor(() => expect(button('Plan')).toBeDisabled());
    expect(blockerOf('Plan')).toBe('folder payments/legacy does not exist');
  });

  it('shows a target whose runs are unsandboxed', async () => {
    await renderContent([
      makeTarget({ environment: 'laptop', sandboxed: false }),
      makeTarget({ environment: 'sandboxed' }),
    ]);
    expect(await screen.findAllByText('Runs unsandboxed')).toHaveLength(1);
    const row = screen.getByText('Runs unsandboxed').closest('tr')!;
    expect(within(row).getByText('laptop')).toBeInTheDocument();
  });

  it('lists the modules in use with the commit each version is pinned to', async () => {
    const pinned = 'c0ffee'.padEnd(40, '0');
    const { api } = await renderContent([makeTarget()], {
      api: {
        listModuleUsage: jest.fn(async () => [
          {
            environment: 'prod',
            runId: 'run-1',
            commitSha: 'a'.repeat(40),
            source:
              'git::https://github.com/acme/service-catalog.git//modules/web-service',
            version: 'v1.1.0',
            pinnedCommit: pinned,
            moduleRefs: ['component:default/web-service-module'],
          },
        ]),
      },
    });
    expect(await screen.findByText('Modules in use')).toBeInTheDocument();
    expect(screen.getByText('modules/web-service')).toBeInTheDocument();
    expect(screen.getByText('v1.1.0')).toBeInTheDocument();
    expect(screen.getByText(pinned.slice(0, 12))).toBeInTheDocument();
    expect(api.listModuleUsage).toHaveBeenCalledWith(ENTITY_REF);
  });

  it('shows a running run with its lock and offers to cancel it', async () => {
    const running = makeRun({
      id: 'run-abcdef123456',
      environment: 'staging',
      status: 'running',
      finishedAt: undefined,
      plan: undefined,
    });
    const { api, alertApi } = await renderContent([
      makeTarget({
        environment: 'staging',
        locked: true,
        lockedBy: running.id,
        lastRun: running,
      }),
    ]);
    expect(await screen.findByText('running')).toBeInTheDocument();
    const lock = screen.getByText(/Locked by/);
    expect(
      within(lock).getByRole('link', { name: 'run-abcd' }),
    ).toHaveAttribute('href', '/sealed-runner/runs/run-abcdef123456');
    await waitFor(() =>
      expect(blockerOf('Plan')).toBe('target locked by run run-abcdef123456'),
    );
    expect(button('Plan')).toBeDisabled();
    expect(
      screen.queryByRole('button', { name: 'Apply' }),
    ).not.toBeInTheDocument();

    await waitFor(() => expect(button('Cancel')).toBeEnabled());
    await userEvent.click(button('Cancel'));
    await waitFor(() =>
      expect(api.cancel).toHaveBeenCalledWith('run-abcdef123456'),
    );
    await waitFor(() =>
      expect(alertApi.post).toHaveBeenCalledWith(
        expect.objectContaining({ message: 'Cancellation requested' }),
      ),
    );
    // The table is re-read so the cancelled state shows.
    await waitFor(() => expect(api.listTargets).toHaveBeenCalledTimes(2));
  });

  it('shows a failed last run and lets a new plan be requested', async () => {
    await renderContent([
      makeTarget({
        environment: 'qa',
        lastRun: makeRun({
          environment: 'qa',
          status: 'failed',
          error: 'terraform init failed',
          plan: undefined,
        }),
      }),
    ]);
    const row = (await screen.findByText('qa')).closest('tr')!;
    expect(within(row).getByText('failed')).toBeInTheDocument();
    expect(within(row).getByText('main')).toBeInTheDocument();
    await waitFor(() => expect(button('Plan')).toBeEnabled());
    expect(
      screen.queryByRole('button', { name: 'Apply' }),
    ).not.toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Cancel' }),
    ).not.toBeInTheDocument();
  });

  it('holds back Apply of a plan awaiting approval and links to its review', async () => {
    const plan = makeRun({
      id: 'run-plan-7',
      environment: 'prod',
      plan: { add: 1, change: 2, destroy: 0 },
    });
    await renderContent([
      makeTarget({ environment: 'prod', requiredApprovals: 1, lastRun: plan }),
    ]);
    expect(await screen.findByText('succeeded')).toBeInTheDocument();
    expect(
      screen.getByLabelText('plan: 1 to add, 2 to change, 0 to destroy'),
    ).toBeInTheDocument();
    await waitFor(() =>
      expect(blockerOf('Apply')).toBe('needs 1 more approval'),
    );
    expect(button('Apply')).toBeDisabled();
    expect(screen.getByRole('link', { name: 'Review plan' })).toHaveAttribute(
      'href',
      '/sealed-runner/runs/run-plan-7',
    );

    await userEvent.hover(button('Apply').parentElement!);
    expect(await screen.findByRole('tooltip')).toHaveTextContent(
      'needs 1 more approval',
    );
  });

  it('applies an approved plan and opens the apply run', async () => {
    const plan = makeRun({
      id: 'run-plan-8',
      environment: 'preprod',
      approvals: [{ by: BOB, at: '2024-05-01T11:00:00Z' }],
    });
    const { api } = await renderContent([
      makeTarget({ environment: 'preprod', lastRun: plan }),
    ]);
    expect(
      screen.queryByRole('link', { name: 'Review plan' }),
    ).not.toBeInTheDocument();
    await waitFor(() => expect(button('Apply')).toBeEnabled());
    await userEvent.click(button('Apply'));
    await waitFor(() => expect(api.apply).toHaveBeenCalledWith('run-plan-8'));
    await waitFor(() =>
      expect(screen.getByTestId('current-path')).toHaveTextContent(
        '/sealed-runner/runs/run-apply-1',
      ),
    );
  });

  // A ResponseError's own message is only "Request failed with 409 Conflict".
  it('tells the user why the gate refused an apply', async () => {
    const plan = makeRun({
      id: 'run-plan-9',
      environment: 'perf',
      approvals: [{ by: BOB, at: '2024-05-01T11:00:00Z' }],
    });
    const { api, alertApi } = await renderContent([
      makeTarget({ environment: 'perf', lastRun: plan }),
    ]);
    api.apply.mockRejectedValue(
      await conflict('branch main moved since the plan'),
    );
    await waitFor(() => expect(button('Apply')).toBeEnabled());
    await userEvent.click(button('Apply'));
    await waitFor(() =>
      expect(alertApi.post).toHaveBeenCalledWith(
        expect.objectContaining({
          severity: 'error',
          message: 'Could not apply: branch main moved since the plan',
        }),
      ),
    );
  });

  it('stays on the entity page and alerts when an apply fails', async () => {
    const plan = makeRun({
      id: 'run-plan-10',
      environment: 'perf2',
      approvals: [{ by: BOB, at: '2024-05-01T11:00:00Z' }],
    });
    const { api, alertApi } = await renderContent([
      makeTarget({ environment: 'perf2', lastRun: plan }),
    ]);
    api.apply.mockRejectedValue(new Error('the gate is down'));
    await waitFor(() => expect(button('Apply')).toBeEnabled());
    await userEvent.click(button('Apply'));
    await waitFor(() =>
      expect(alertApi.post).toHaveBeenCalledWith(
        expect.objectContaining({
          severity: 'error',
          message: 'Could not apply: the gate is down',
        }),
      ),
    );
    expect(screen.getByTestId('current-path')).toHaveTextContent(/^\/$/);
  });

  it('disables Plan for a user the permission policy does not allow to plan', async () => {
    await renderContent(
      [makeTarget({ environment: 'dev', requiredApprovals: 0 })],
      {
        authorize: request =>
          request.permission.name === runPlanPermission.name
            ? AuthorizeResult.DENY
            : AuthorizeResult.ALLOW,
      },
    );
    await waitFor(() => expect(blockerOf('Plan')).toBe('you may not plan dev'));
    expect(button('Plan')).toBeDisabled();
  });

  it('asks the permission framework about this very target', async () => {
    const authorize = jest.fn(
      (
        _: EvaluatePermissionRequest,
      ): AuthorizeResult.ALLOW | AuthorizeResult.DENY => AuthorizeResult.ALLOW,
    );
    await renderContent([makeTarget({ environment: 'uat' })], { authorize });
    await waitFor(() =>
      expect(authorize).toHaveBeenCalledWith(
        expect.objectContaining({
          permission: runPlanPermission,
          resourceRef: `${ENTITY_REF}#uat`,
        }),
      ),
    );
  });

  describe('the plan dialog', () => {
    const target = makeTarget({
      environment: 'test',
      applyBranches: ['main', 'release'],
      path: 'payments/test',
    });

    it('requests a plan of the branch entered and opens its run', async () => {
      const { api } = await renderContent([target]);
      api.requestPlan.mockResolvedValue(
        makeRun({ id: 'run-new-1', status: 'queued' }),
      );
      await waitFor(() => expect(button('Plan')).toBeEnabled());
      await userEvent.click(button('Plan'));

      const dialog = await screen.findByRole('dialog');
      expect(within(dialog).getByText('Plan test')).toBeInTheDocument();
      expect(
        within(dialog).getByText(/only main, release may be applied/),
      ).toBeInTheDocument();
      await userEvent.type(
        within(dialog).getByRole('textbox', { name: 'Branch' }),
        '  feature/faster-db  ',
      );
      await userEvent.click(
        within(dialog).getByRole('button', { name: 'Plan' }),
      );

      await waitFor(() =>
        expect(api.requestPlan).toHaveBeenCalledWith({
          entityRef: ENTITY_REF,
          environment: 'test',
          ref: 'feature/faster-db',
        }),
      );
      await waitFor(() =>
        expect(screen.getByTestId('current-path')).toHaveTextContent(
          '/sealed-runner/runs/run-new-1',
        ),
      );
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    });

    it('leaves the branch to the gate when none is entered', async () => {
      const { api } = await renderContent([target]);
      await waitFor(() => expect(button('Plan')).toBeEnabled());
      await userEvent.click(button('Plan'));
      await userEvent.click(
        within(await screen.findByRole('dialog')).getByRole('button', {
          name: 'Plan',
        }),
      );
      await waitFor(() =>
        expect(api.requestPlan).toHaveBeenCalledWith({
          entityRef: ENTITY_REF,
          environment: 'test',
        }),
      );
    });

    it('keeps the dialog open with the reason when the gate refuses', async () => {
      const { api } = await renderContent([target]);
      api.requestPlan.mockRejectedValue(
        new Error('branch nope does not exist'),
      );
      await waitFor(() => expect(button('Plan')).toBeEnabled());
      await userEvent.click(button('Plan'));
      const dialog = await screen.findByRole('dialog');
      await userEvent.type(
        within(dialog).getByRole('textbox', { name: 'Branch' }),
        'nope',
      );
      await userEvent.click(
        within(dialog).getByRole('button', { name: 'Plan' }),
      );
      expect(
        await within(dialog).findByText('branch nope does not exist'),
      ).toBeInTheDocument();
      expect(screen.getByTestId('current-path')).toHaveTextContent(/^\/$/);
    });

    it("shows the gate's reason for refusing a plan", async () => {
      const { api } = await renderContent([target]);
      api.requestPlan.mockRejectedValue(
        await conflict('a plan of test is already running'),
      );
      await waitFor(() => expect(button('Plan')).toBeEnabled());
      await userEvent.click(button('Plan'));
      const dialog = await screen.findByRole('dialog');
      await userEvent.click(
        within(dialog).getByRole('button', { name: 'Plan' }),
      );
      expect(
        await within(dialog).findByText('a plan of test is already running'),
      ).toBeInTheDocument();
    });

    it('closes without requesting anything on Cancel', async () => {
      const { api } = await renderContent([target]);
      await waitFor(() => expect(button('Plan')).toBeEnabled());
      await userEvent.click(button('Plan'));
      await userEvent.click(
        within(await screen.findByRole('dialog')).getByRole('button', {
          name: 'Cancel',
        }),
      );
      await waitFor(() =>
        expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
      );
      expect(api.requestPlan).not.toHaveBeenCalled();
    });
  });
});
