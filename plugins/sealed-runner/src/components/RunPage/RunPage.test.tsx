import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  Run,
  runApprovePermission,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router-dom';
import { SealedRunnerApi } from '../../api';
import {
  ALICE,
  BOB,
  ENTITY_REF,
  makeRun,
  makeTarget,
  mockSealedRunnerApi,
  PLATFORM_TEAM,
} from '../../__testUtils__/fixtures';
import {
  renderWithApis,
  RenderOptions,
} from '../../__testUtils__/renderWithApis';
import { Router } from '../Router';

// Backstage pages render slowly in jsdom, more so on a busy machine.
jest.setTimeout(20_000);

const destructivePlan = makeRun({
  id: 'run-plan-1',
  plan: { add: 2, change: 1, destroy: 1 },
  changes: [
    { address: 'aws_s3_bucket.logs', actions: ['create'] },
    { address: 'aws_db_instance.legacy', actions: ['delete'] },
    { address: 'aws_iam_role.app', actions: ['update'] },
    { address: 'aws_s3_bucket.assets', actions: ['create'] },
    { address: 'data.aws_caller_identity.me', actions: ['read'] },
  ],
});

type StreamLogs = jest.Mock<
  ReturnType<SealedRunnerApi['streamLogs']>,
  Parameters<SealedRunnerApi['streamLogs']>
>;

/** A log stream that stays open (the run is still writing) until aborted. */
const openStream = (): StreamLogs =>
  jest.fn(
    (_runId, { signal }) =>
      new Promise<void>(resolve =>
        signal.addEventListener('abort', () => resolve()),
      ),
  );

/** A log stream that delivers `lines` and the run's end a moment after it opens. */
const finishedStream = (lines: string[]): StreamLogs =>
  jest.fn(async (_runId, { after, onLine, onComplete }) => {
    await new Promise(resolve => setTimeout(resolve, 100));
    lines.forEach((line, i) => onLine(line, after + i + 1));
    onComplete('succeeded');
  });

/**
 * Renders the plugin page at the run's URL, the way the app mounts it. The
 * log stays open unless the test says otherwise.
 */
async function renderRun(
  run: Run,
  options: RenderOptions & {
    api?: Partial<SealedRunnerApi>;
    target?: Target;
  } = {},
) {
  const api = mockSealedRunnerApi({
    getRun: jest.fn(async () => run),
    listTargets: jest.fn(async () => [
      options.target ?? makeTarget({ environment: run.environment }),
    ]),
    streamLogs: openStream(),
    ...options.api,
  });
  const result = await renderWithApis(
    <Routes>
      <Route path="/sealed-runner/*" element={<Router />} />
    </Routes>,
    api,
    { route: `/sealed-runner/runs/${encodeURIComponent(run.id)}`, ...options },
  );
  return { api, ...result };
}

const button = (name: string) => screen.getByRole('button', { name });
const logBox = () => document.querySelector<HTMLElement>('[data-log-state]')!;

describe('RunPage', () => {
  it('loads the run named in the URL', async () => {
    const { api } = await renderRun(makeRun({ id: 'run-42' }));
    expect(api.getRun).toHaveBeenCalledWith('run-42');
    expect(
      await screen.findByRole('heading', { name: 'Plan payments / prod' }),
    ).toBeInTheDocument();
    expect(screen.getByText('Run run-42')).toBeInTheDocument();
  });

  it('shows why the run could not be read', async () => {
    await renderRun(makeRun(), {
      api: {
        getRun: jest.fn(async () => {
          throw new Error('run run-plan-1 not found');
        }),
      },
    });
    expect(
      await screen.findByText('run run-plan-1 not found'),
    ).toBeInTheDocument();
  });

  describe('plan review', () => {
    it('groups the changes, the most dangerous first', async () => {
      await renderRun(destructivePlan);
      const list = await screen.findByRole('list', {
        name: 'resource changes',
      });
      const headings = within(list)
        .getAllByText(/\(\d+\)$/)
        .map(heading => heading.textContent);
      expect(headings).toEqual([
        'Destroy (1)',
        'Update in place (1)',
        'Create (2)',
      ]);
      const addresses = within(list)
        .getAllByRole('listitem')
        .filter(li => li.hasAttribute('data-change'))
        .map(li => [li.getAttribute('data-change'), li.textContent]);
      expect(addresses).toEqual([
        ['delete', 'aws_db_instance.legacy'],
        ['update', 'aws_iam_role.app'],
        ['create', 'aws_s3_bucket.assets'],
        ['create', 'aws_s3_bucket.logs'],
      ]);
      // Reads are counted, not listed as changes.
      expect(screen.getByText('Read: 1')).toBeInTheDocument();
      expect(
        within(list).queryByText('data.aws_caller_identity.me'),
      ).not.toBeInTheDocument();
    });

    it('warns about a destructive plan', async () => {
      await renderRun(destructivePlan);
      expect(
        await screen.findByText(
          /Destructive plan: 1 resource will be destroyed$/,
        ),
      ).toBeInTheDocument();
    });

    it('counts destroyed resources in the warning', async () => {
      await renderRun(makeRun({ plan: { add: 0, change: 0, destroy: 3 } }));
      expect(
        await screen.findByText(
          /Destructive plan: 3 resources will be destroyed$/,
        ),
      ).toBeInTheDocument();
    });

    it('does not warn about a plan that destroys nothing', async () => {
      await renderRun(
        makeRun({
          changes: [{ address: 'aws_s3_bucket.logs', actions: ['create'] }],
        }),
      );
      expect(await screen.findByText('Create (1)')).toBeInTheDocument();
      expect(screen.queryByText(/Destructive plan/)).not.toBeInTheDocument();
    });

    it('says so when nothing changes', async () => {
      await renderRun(
        makeRun({
          plan: { add: 0, change: 0, destroy: 0 },
          changes: [{ address: 'aws_iam_role.app', actions: ['no-op'] }],
        }),
      );
      expect(
        await screen.findByText(
          'No changes. The infrastructure matches the configuration.',
        ),
      ).toBeInTheDocument();
      expect(screen.getByText('Unchanged: 1')).toBeInTheDocument();
    });

    it('waits for a running plan', async () => {
      await renderRun(
        makeRun({ status: 'running', finishedAt: undefined, plan: undefined }),
      );
      expect(
        await screen.findByText(
          'The changes appear here when the plan finishes.',
        ),
      ).toBeInTheDocument();
    });
  });

  describe('approvals', () => {
    it('does not let the requester approve their own plan, and says so', async () => {
      await renderRun(destructivePlan, {
        viewer: {
          userEntityRef: ALICE,
          ownershipEntityRefs: [ALICE, PLATFORM_TEAM],
        },
      });
      expect(
        await screen.findByText('Approve: you requested this plan'),
      ).toBeInTheDocument();
      expect(button('Approve')).toBeDisabled();
      expect(screen.getByText('0 of 1 required')).toBeInTheDocument();
      expect(
        screen.getByText('Needs 1 more approval before it can be applied.'),
      ).toBeInTheDocument();
      expect(
        screen.getByText('Apply: needs 1 more approval'),
      ).toBeInTheDocument();
      expect(button('Apply')).toBeDisabled();
    });

    it('lets a member of the approvers group approve', async () => {
      const target = makeTarget({ approvers: [PLATFORM_TEAM] });
      const { api, alertApi } = await renderRun(destructivePlan, { target });
      expect(
        await screen.findByText('0 of 1 required from platform-team'),
      ).toBeInTheDocument();
      await waitFor(() => expect(button('Approve')).toBeEnabled());
      expect(screen.queryByText(/^Approve:/)).not.toBeInTheDocument();

      await userEvent.click(button('Approve'));
      await waitFor(() =>
        expect(api.approve).toHaveBeenCalledWith('run-plan-1'),
      );
      await waitFor(() =>
        expect(alertApi.post).toHaveBeenCalledWith(
          expect.objectContaining({ message: 'Plan approved' }),
        ),
      );
      // The run is re-read to show the approval.
      await waitFor(() =>
        expect(api.getRun.mock.calls.length).toBeGreaterThanOrEqual(2),
      );
    });

    it('tells someone outside the approvers group who may approve', async () => {
      const target = makeTarget({ approvers: ['group:default/security'] });
      await renderRun(destructivePlan, { target });
      expect(
        await screen.findByText('Approve: only security may approve prod'),
      ).toBeInTheDocument();
      expect(button('Approve')).toBeDisabled();
    });

    it('follows the permission policy over the approval rules', async () => {
      await renderRun(makeRun({ environment: 'restricted' }), {
        authorize: r =>
          r.permission.name === runApprovePermission.name
            ? AuthorizeResult.DENY
            : AuthorizeResult.ALLOW,
      });
      expect(
        await screen.findByText(
          'Approve: you may not approve plans for restricted',
        ),
      ).toBeInTheDocument();
    });

    it('lists the approvals given and applies an approved plan', async () => {
      const approved = makeRun({
        approvals: [{ by: BOB, at: '2024-05-01T11:00:00.000Z' }],
      });
      const { api } = await renderRun(approved, {
        viewer: { userEntityRef: ALICE, ownershipEntityRefs: [ALICE] },
      });
      const approvals = await screen.findByRole('list', { name: 'approvals' });
      expect(
        within(approvals).getByRole('link', { name: /bob/ }),
      ).toBeInTheDocument();
      expect(await screen.findByText('1 of 1 required')).toBeInTheDocument();
      await waitFor(() => expect(button('Apply')).toBeEnabled());
      await userEvent.click(button('Apply'));
      await waitFor(() => expect(api.apply).toHaveBeenCalledWith('run-plan-1'));
      await waitFor(() =>
        expect(screen.getByTestId('current-path')).toHaveTextContent(
          '/sealed-runner/runs/run-apply-1',
        ),
      );
    });

    it('offers only Apply where no approval is needed', async () => {
      await renderRun(makeRun({ environment: 'sandbox' }), {
        target: makeTarget({ environment: 'sandbox', requiredApprovals: 0 }),
      });
      expect(
        await screen.findByText('sandbox needs no approval'),
      ).toBeInTheDocument();
      await waitFor(() => expect(button('Apply')).toBeEnabled());
      expect(
        screen.queryByRole('button', { name: 'Approve' }),
      ).not.toBeInTheDocument();
    });

    it('explains that a superseded plan can no longer be applied', async () => {
      await renderRun(makeRun({ supersededBy: 'run-plan-2' }));
      expect(
        await screen.findByText(
          'Apply: a newer plan (run-plan-2) replaced this one',
        ),
      ).toBeInTheDocument();
      expect(screen.getByRole('link', { name: 'run-plan-2' })).toHaveAttribute(
        'href',
        '/sealed-runner/runs/run-plan-2',
      );
    });

    it('says when the environment is no longer a target of the entity', async () => {
      await renderRun(makeRun(), {
        api: { listTargets: jest.fn(async () => []) },
      });
      expect(
        await screen.findByText(
          `Apply: prod is no longer a target of ${ENTITY_REF}`,
        ),
      ).toBeInTheDocument();
    });

    it('does not claim the target is gone while the targets load', async () => {
      await renderRun(makeRun(), {
        api: { listTargets: jest.fn(() => new Promise<never>(() => {})) },
      });
      await screen.findByText('Plan review');
      expect(screen.queryByText(/no longer a target/)).not.toBeInTheDocument();
      expect(
        screen.queryByText('prod needs no approval'),
      ).not.toBeInTheDocument();
    });
  });

  describe('run status', () => {
    it('shows the error of a failed run', async () => {
      await renderRun(
        makeRun({
          status: 'failed',
          error: 'Error: creating S3 bucket: AccessDenied',
          plan: undefined,
        }),
      );
      expect(await screen.findByText(/Run failed$/)).toBeInTheDocument();
      expect(
        screen.getByText('Error: creating S3 bucket: AccessDenied'),
      ).toBeInTheDocument();
      expect(
        screen.getByText(
          'This plan did not finish, so there are no changes to review.',
        ),
      ).toBeInTheDocument();
    });

    it('marks a rejected run as stopped before Terraform changed anything', async () => {
      await renderRun(
        makeRun({
          status: 'rejected',
          error: 'module source not vetted',
          plan: undefined,
        }),
      );
      expect(
        await screen.findByText(/Rejected before Terraform changed anything$/),
      ).toBeInTheDocument();
      expect(screen.getByText('module source not vetted')).toBeInTheDocument();
    });

    it('offers to cancel a run in progress', async () => {
      const running = makeRun({
        id: 'run-apply-3',
        operation: 'apply',
        status: 'running',
        finishedAt: undefined,
      });
      const { api } = await renderRun(running);
      expect(
        await screen.findByRole('heading', { name: 'Apply payments / prod' }),
      ).toBeInTheDocument();
      // An apply has no plan review or approvals of its own.
      expect(screen.queryByText('Plan review')).not.toBeInTheDocument();
      await waitFor(() => expect(button('Cancel run')).toBeEnabled());
      await userEvent.click(button('Cancel run'));
      await waitFor(() =>
        expect(api.cancel).toHaveBeenCalledWith('run-apply-3'),
      );
    });

    it('offers no cancel for a finished run', async () => {
      await renderRun(makeRun());
      await screen.findByText('Plan review');
      expect(
        screen.queryByRole('button', { name: 'Cancel run' }),
      ).not.toBeInTheDocument();
    });
  });

  describe('log', () => {
    // The log viewer only renders the lines that fit its measured size, and
    // jsdom lays nothing out; give every element a size so lines render.
    beforeEach(() => {
      jest.spyOn(Element.prototype, 'getBoundingClientRect').mockReturnValue({
        x: 0,
        y: 0,
        top: 0,
        left: 0,
        bottom: 480,
        right: 800,
        width: 800,
        height: 480,
        toJSON: () => ({}),
      });
    });
    afterEach(() => jest.restoreAllMocks());

    it('shows the streamed lines and that the log is complete', async () => {
      const streamLogs = finishedStream([
        'Initializing the backend...',
        'Plan: 2 to add, 1 to change, 1 to destroy.',
        'Saved the plan.',
      ]);
      await renderRun(makeRun({ id: 'run-log-1' }), { api: { streamLogs } });
      expect(await screen.findByText('3 lines')).toBeInTheDocument();
      expect(logBox()).toHaveAttribute('data-log-state', 'complete');
      expect(logBox()).toHaveAttribute('data-log-lines', '3');
      // The log viewer is loaded lazily and re-renders its rows once sized:
      // its lines may follow the count, and an early match may be replaced.
      await waitFor(() => {
        const log = within(logBox());
        expect(
          log.getByText('Plan: 2 to add, 1 to change, 1 to destroy.'),
        ).toBeInTheDocument();
        expect(log.getByText('Saved the plan.')).toBeInTheDocument();
      });
      expect(streamLogs).toHaveBeenCalledWith(
        'run-log-1',
        expect.objectContaining({ after: 0 }),
      );
    });

    it('re-reads the run when its log completes', async () => {
      const { api } = await renderRun(
        makeRun({ status: 'running', finishedAt: undefined }),
        {
          api: { streamLogs: finishedStream(['done']) },
        },
      );
      await screen.findByText('1 lines');
      await waitFor(() =>
        expect(api.getRun.mock.calls.length).toBeGreaterThanOrEqual(2),
      );
    });

    // Regression: a completed log re-read the run on every render.
    it('re-reads the run only once when its log completes', async () => {
      const run = makeRun();
      const { api } = await renderRun(run, {
        api: {
          // A little latency, as over a network, so the loading state renders.
          getRun: jest.fn(
            () =>
              new Promise<Run>(resolve => setTimeout(() => resolve(run), 20)),
          ),
          streamLogs: finishedStream(['done']),
        },
      });
      await screen.findByText('1 lines');
      // Give a loop time to show: a third read within 1.5 s fails the test.
      await expect(
        waitFor(() => expect(api.getRun.mock.calls.length).toBeGreaterThan(2), {
          timeout: 1500,
        }),
      ).rejects.toThrow();
    });

    it('shows that it follows a running log live', async () => {
      await renderRun(makeRun({ status: 'running', finishedAt: undefined }));
      expect(await screen.findByText('Following live')).toBeInTheDocument();
      expect(
        screen.getByText('Waiting for the sealed runner…'),
      ).toBeInTheDocument();
      expect(logBox()).toHaveAttribute('data-log-state', 'live');
    });

    it('falls back to polling, from where the stream broke', async () => {
      // As the backend answers: lines after `after`, none once read (a
      // slow machine may poll more than once before the assertions).
      const getLogs = jest.fn(async (_runId: string, after: number) => ({
        lines: after < 3 ? ['line 3'] : [],
        next: 3,
        complete: false,
      }));
      await renderRun(makeRun({ status: 'running', finishedAt: undefined }), {
        api: {
          streamLogs: jest.fn(async (_runId, { onLine }) => {
            onLine('line 1', 1);
            onLine('line 2', 2);
            throw new Error('the log stream ended before the run did');
          }),
          getLogs,
        },
      });
      expect(
        await screen.findByText(
          'Following (polling: the live stream is unavailable)',
        ),
      ).toBeInTheDocument();
      expect(logBox()).toHaveAttribute('data-log-state', 'polling');
      await waitFor(() =>
        expect(getLogs).toHaveBeenCalledWith('run-plan-1', 2),
      );
      // No line lost or repeated across the switch.
      await waitFor(() =>
        expect(
          within(logBox())
            .getAllByText(/^line \d$/)
            .map(l => l.textContent),
        ).toEqual(['line 1', 'line 2', 'line 3']),
      );
    });

    it('polls until the log is complete', async () => {
      const getLogs = jest
        .fn<
          ReturnType<SealedRunnerApi['getLogs']>,
          Parameters<SealedRunnerApi['getLogs']>
        >()
        .mockResolvedValueOnce({ lines: ['a', 'b'], next: 2, complete: false })
        .mockResolvedValueOnce({ lines: ['c'], next: 3, complete: true });
      await renderRun(makeRun(), {
        api: {
          streamLogs: jest.fn(async () => {
            throw new Error('the log stream ended before the run did');
          }),
          getLogs,
        },
      });
      expect(
        await screen.findByText('3 lines', undefined, { timeout: 3000 }),
      ).toBeInTheDocument();
      expect(getLogs.mock.calls).toEqual([
        ['run-plan-1', 0],
        ['run-plan-1', 2],
      ]);
    });

    it('says when polling fails and keeps trying', async () => {
      const getLogs = jest
        .fn<
          ReturnType<SealedRunnerApi['getLogs']>,
          Parameters<SealedRunnerApi['getLogs']>
        >()
        // Later polls find nothing new (a slow machine may poll again
        // before the assertions).
        .mockResolvedValue({ lines: [], next: 1, complete: false })
        .mockRejectedValueOnce(new Error('502 Bad Gateway'))
        .mockResolvedValueOnce({ lines: ['a'], next: 1, complete: false });
      await renderRun(makeRun({ status: 'running', finishedAt: undefined }), {
        api: {
          streamLogs: jest.fn(async () =>
            Promise.reject(new Error('no stream')),
          ),
          getLogs,
        },
      });
      expect(
        await screen.findByText(
          'Could not read the log: 502 Bad Gateway. Retrying…',
        ),
      ).toBeInTheDocument();
      await waitFor(
        () => expect(logBox()).toHaveAttribute('data-log-lines', '1'),
        { timeout: 3000 },
      );
      expect(
        screen.queryByText(/Could not read the log/),
      ).not.toBeInTheDocument();
      // The failed read is retried from where it was.
      expect(getLogs.mock.calls.slice(0, 2)).toEqual([
        ['run-plan-1', 0],
        ['run-plan-1', 0],
      ]);
    });

    it('clears a polling error when the retry completes the log', async () => {
      const getLogs = jest
        .fn<
          ReturnType<SealedRunnerApi['getLogs']>,
          Parameters<SealedRunnerApi['getLogs']>
        >()
        .mockRejectedValueOnce(new Error('502 Bad Gateway'))
        .mockResolvedValueOnce({ lines: ['a'], next: 1, complete: true });
      await renderRun(makeRun(), {
        api: {
          streamLogs: jest.fn(async () =>
            Promise.reject(new Error('no stream')),
          ),
          getLogs,
        },
      });
      expect(
        await screen.findByText(
          'Could not read the log: 502 Bad Gateway. Retrying…',
        ),
      ).toBeInTheDocument();
      expect(
        await screen.findByText('1 lines', undefined, { timeout: 3000 }),
      ).toBeInTheDocument();
      expect(
        screen.queryByText(/Could not read the log/),
      ).not.toBeInTheDocument();
    });
  });
});
