import { ResponseError } from '@backstage/errors';
import {
  AuthorizeResult,
  EvaluatePermissionRequest,
} from '@backstage/plugin-permission-common';
import {
  BreakGlassSession,
  Run,
  Target,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router-dom';
import { SealedRunnerApi } from '../../api';
import {
  ALICE,
  BOB,
  deployableEntity,
  ENTITY_REF,
  makeRun,
  makeSession,
  makeTarget,
  mockSealedRunnerApi,
} from '../../__testUtils__/fixtures';
import {
  renderWithApis,
  RenderOptions,
} from '../../__testUtils__/renderWithApis';
import { EntityDeploymentsContent } from '../EntityDeploymentsContent';
import { Router } from '../Router';
import { formatTimestamp } from '../shared';

// Backstage tables, pages and dialogs render slowly in jsdom.
jest.setTimeout(30_000);

// usePermission caches its answers per permission and target across the
// tests of a file: a test that denies a permission uses its own environment.

const button = (name: string | RegExp) => screen.getByRole('button', { name });
const blockerOf = (name: string | RegExp) =>
  button(name).closest('[data-blocker]')?.getAttribute('data-blocker');

/** Allows everything except `sealed-runner.breakglass` for the listed environments. */
const denyBreakGlassIn =
  (...environments: string[]) =>
  (request: EvaluatePermissionRequest) =>
    request.permission.name === 'sealed-runner.breakglass' &&
    'resourceRef' in request &&
    environments.some(env => String(request.resourceRef).endsWith(`#${env}`))
      ? AuthorizeResult.DENY
      : AuthorizeResult.ALLOW;

const summary = (session: BreakGlassSession) =>
  `Break-glass session open by ${session.openedBy.replace(
    /^user:default\//,
    '',
  )} until ${formatTimestamp(session.expiresAt)} — ${session.reason}${
    session.ticket ? ` (${session.ticket})` : ''
  }`;

async function renderTab(
  targets: Target[],
  sessions: BreakGlassSession[],
  options: RenderOptions & { api?: Partial<SealedRunnerApi> } = {},
) {
  const api = mockSealedRunnerApi({
    listTargets: jest.fn(async () => targets),
    listBreakGlass: jest.fn(async () => sessions),
    ...options.api,
  });
  const result = await renderWithApis(<EntityDeploymentsContent />, api, {
    entity: deployableEntity,
    ...options,
  });
  await screen.findByText('Deployment targets');
  return { api, ...result };
}

async function renderRunPage(
  run: Run,
  target: Target,
  sessions: BreakGlassSession[],
  options: RenderOptions = {},
) {
  const api = mockSealedRunnerApi({
    getRun: jest.fn(async () => run),
    listTargets: jest.fn(async () => [target]),
    listBreakGlass: jest.fn(async () => sessions),
  });
  const result = await renderWithApis(
    <Routes>
      <Route path="/sealed-runner/*" element={<Router />} />
    </Routes>,
    api,
    { route: `/sealed-runner/runs/${run.id}`, ...options },
  );
  return { api, ...result };
}

describe('break-glass in the Deployments tab', () => {
  it('shows a banner naming the target, opener, end, reason and ticket, and marks the row', async () => {
    const session = makeSession({ environment: 'prod' });
    const { api } = await renderTab(
      [makeTarget({ environment: 'dev', requiredApprovals: 0 }), makeTarget()],
      [session],
    );
    const banner = await screen.findByRole('alert', {
      name: 'Break-glass session on prod',
    });
    expect(within(banner).getByText(summary(session))).toBeInTheDocument();
    expect(within(banner).getByText('prod:')).toBeInTheDocument();
    expect(api.listBreakGlass).toHaveBeenCalledWith({
      entityRef: ENTITY_REF,
      environment: undefined,
      active: true,
    });

    const prodRow = screen.getAllByText('prod')[0].closest('tr')!;
    expect(within(prodRow).getByText('Break-glass open')).toBeInTheDocument();
    const devRow = screen.getByText('dev').closest('tr')!;
    expect(
      within(devRow).queryByText('Break-glass open'),
    ).not.toBeInTheDocument();
    expect(screen.getAllByRole('alert')).toHaveLength(1);
  });

  it('shows no banner for a session that has expired or belongs to no listed target', async () => {
    await renderTab(
      [makeTarget({ environment: 'qa' })],
      [
        makeSession({
          id: 'expired',
          environment: 'qa',
          expiresAt: new Date(Date.now() - 1000).toISOString(),
        }),
        makeSession({ id: 'elsewhere', environment: 'perf' }),
      ],
    );
    await waitFor(() => expect(button('Plan')).toBeEnabled());
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByText('Break-glass open')).not.toBeInTheDocument();
  });

  it('lets a holder close the session from the banner', async () => {
    const session = makeSession({ id: 'session-close', openedBy: ALICE });
    const { api, alertApi } = await renderTab([makeTarget()], [session]);
    const banner = await screen.findByRole('alert');
    await userEvent.click(
      within(banner).getByRole('button', { name: 'Close' }),
    );
    await waitFor(() =>
      expect(api.closeBreakGlass).toHaveBeenCalledWith('session-close'),
    );
    expect(alertApi.post).toHaveBeenCalledWith(
      expect.objectContaining({
        message: 'Break-glass session on prod closed',
      }),
    );
    // Re-read, so the banner goes once the gate says it is closed.
    await waitFor(() => expect(api.listBreakGlass).toHaveBeenCalledTimes(2));
  });

  it('offers Close to the opener even without the permission, and to nobody else', async () => {
    const others = makeSession({
      id: 's-other',
      environment: 'uat',
      openedBy: ALICE,
    });
    const mine = makeSession({
      id: 's-mine',
      environment: 'sit',
      openedBy: BOB,
    });
    await renderTab(
      [makeTarget({ environment: 'uat' }), makeTarget({ environment: 'sit' })],
      [others, mine],
      { authorize: denyBreakGlassIn('uat', 'sit') },
    );
    const [uat, sit] = await Promise.all([
      screen.findByRole('alert', { name: 'Break-glass session on uat' }),
      screen.findByRole('alert', { name: 'Break-glass session on sit' }),
    ]);
    await waitFor(() =>
      expect(
        within(sit).getByRole('button', { name: 'Close' }),
      ).toBeInTheDocument(),
    );
    expect(
      within(uat).queryByRole('button', { name: 'Close' }),
    ).not.toBeInTheDocument();
  });

  it('offers "Break glass" only to holders of sealed-runner.breakglass, and not while a session is open', async () => {
    await renderTab(
      [
        makeTarget({ environment: 'staging' }),
        makeTarget({ environment: 'preprod' }),
        makeTarget({ environment: 'canary' }),
      ],
      [makeSession({ environment: 'canary' })],
      { authorize: denyBreakGlassIn('staging') },
    );
    const row = (env: string) => screen.getByText(env).closest('tr')!;
    await waitFor(() =>
      expect(
        within(row('preprod')).getByRole('button', { name: 'Break glass' }),
      ).toBeEnabled(),
    );
    expect(
      within(row('staging')).queryByRole('button', { name: 'Break glass' }),
    ).not.toBeInTheDocument();
    expect(
      within(row('canary')).queryByRole('button', { name: 'Break glass' }),
    ).not.toBeInTheDocument();
  });
});

describe('the break-glass dialog', () => {
  async function openDialog(api: Partial<SealedRunnerApi> = {}) {
    const rendered = await renderTab(
      [makeTarget({ environment: 'live' })],
      [],
      { api },
    );
    await waitFor(() => expect(button('Break glass')).toBeEnabled());
    await userEvent.click(button('Break glass'));
    await screen.findByRole('dialog', { name: 'Break glass: live' });
    return rendered;
  }

  it('checks the fields as the gate will, and sends nothing until they are right', async () => {
    const { api } = await openDialog();
    await userEvent.type(screen.getByLabelText('Reason'), 'too short');
    await userEvent.type(screen.getByLabelText('Ticket'), 'INC 1');
    await userEvent.clear(screen.getByLabelText('Duration (minutes)'));
    await userEvent.type(screen.getByLabelText('Duration (minutes)'), '0');
    await userEvent.click(button('Open session'));
    expect(
      await screen.findByText('give a reason of at least 10 characters'),
    ).toBeInTheDocument();
    expect(
      screen.getByText('may contain only letters, digits and . _ # : / -'),
    ).toBeInTheDocument();
    expect(
      screen.getByText('a whole number of minutes, at least 1'),
    ).toBeInTheDocument();
    expect(api.openBreakGlass).not.toHaveBeenCalled();
  });

  it('opens a session with reason, ticket and duration, then shows its banner', async () => {
    const opened = makeSession({ id: 'session-new', environment: 'live' });
    const listBreakGlass = jest
      .fn<Promise<BreakGlassSession[]>, []>()
      .mockResolvedValueOnce([])
      .mockResolvedValue([opened]);
    const { api } = await openDialog({ listBreakGlass });
    await userEvent.type(
      screen.getByLabelText('Reason'),
      '  payments API down, hotfix  ',
    );
    await userEvent.type(screen.getByLabelText('Ticket'), 'INC-4711');
    await userEvent.clear(screen.getByLabelText('Duration (minutes)'));
    await userEvent.type(screen.getByLabelText('Duration (minutes)'), '30');
    await userEvent.click(button('Open session'));
    await waitFor(() =>
      expect(api.openBreakGlass).toHaveBeenCalledWith({
        entityRef: ENTITY_REF,
        environment: 'live',
        reason: 'payments API down, hotfix',
        ticket: 'INC-4711',
        durationMinutes: 30,
      }),
    );
    expect(
      await screen.findByRole('alert', { name: 'Break-glass session on live' }),
    ).toHaveTextContent(summary(opened));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it("shows the gate's refusal and stays open", async () => {
    const refusal = await ResponseError.fromResponse(
      new Response(
        JSON.stringify({
          error: {
            name: 'InputError',
            message:
              'Invalid request body: durationMinutes must be at most 120 (sealedRunner.breakGlass.maxDurationMinutes)',
          },
          request: { method: 'POST', url: '/api/sealed-runner/break-glass' },
          response: { statusCode: 400 },
        }),
        { status: 400, headers: { 'content-type': 'application/json' } },
      ),
    );
    await openDialog({
      openBreakGlass: jest.fn(async () => Promise.reject(refusal)),
    });
    await userEvent.type(
      screen.getByLabelText('Reason'),
      'payments API down, hotfix',
    );
    await userEvent.clear(screen.getByLabelText('Duration (minutes)'));
    await userEvent.type(screen.getByLabelText('Duration (minutes)'), '240');
    await userEvent.click(button('Open session'));
    expect(
      await screen.findByText(/durationMinutes must be at most 120/),
    ).toBeInTheDocument();
    expect(screen.getByRole('dialog')).toBeInTheDocument();
  });
});

describe('Apply under break-glass', () => {
  const awaitingApproval = (
    environment: string,
    overrides: Partial<Run> = {},
  ) => makeRun({ id: `plan-${environment}`, environment, ...overrides });

  it("is enabled without approvals for the session's opener, and says so", async () => {
    const { api } = await renderTab(
      [makeTarget({ environment: 'eu', lastRun: awaitingApproval('eu') })],
      [makeSession({ environment: 'eu', openedBy: BOB })],
    );
    await waitFor(() => expect(button('Apply (break-glass)')).toBeEnabled());
    await userEvent.click(button('Apply (break-glass)'));
    await waitFor(() => expect(api.apply).toHaveBeenCalledWith('plan-eu'));
  });

  it('is enabled for a branch that is not an apply branch', async () => {
    await renderTab(
      [
        makeTarget({
          environment: 'us',
          lastRun: awaitingApproval('us', { ref: 'hotfix' }),
        }),
      ],
      [makeSession({ environment: 'us' })],
    );
    await waitFor(() => expect(button('Apply (break-glass)')).toBeEnabled());
  });

  it.each([
    [
      'without a session',
      'ap',
      [] as BreakGlassSession[],
      'needs 1 more approval',
    ],
    [
      "under someone else's session",
      'sa',
      [makeSession({ environment: 'sa', openedBy: ALICE })],
      'needs 1 more approval',
    ],
    [
      'under an expired session',
      'af',
      [
        makeSession({
          environment: 'af',
          expiresAt: new Date(Date.now() - 1000).toISOString(),
        }),
      ],
      'needs 1 more approval',
    ],
  ])('stays disabled %s', async (_, environment, sessions, reason) => {
    await renderTab(
      [makeTarget({ environment, lastRun: awaitingApproval(environment) })],
      sessions,
    );
    await waitFor(() => expect(blockerOf('Apply')).toBe(reason));
    expect(button('Apply')).toBeDisabled();
  });

  it('never waives a lock', async () => {
    await renderTab(
      [
        makeTarget({
          environment: 'me',
          locked: true,
          lockedBy: 'run-other',
          lastRun: awaitingApproval('me'),
        }),
      ],
      [makeSession({ environment: 'me' })],
    );
    await waitFor(() =>
      expect(blockerOf(/^Apply/)).toBe('target locked by run run-other'),
    );
  });
});

describe('break-glass on the run page', () => {
  it('shows the banner of the target and enables Apply for the opener', async () => {
    const session = makeSession({ environment: 'prod', openedBy: BOB });
    const { api } = await renderRunPage(makeRun(), makeTarget(), [session]);
    const banner = await screen.findByRole('alert', {
      name: 'Break-glass session on prod',
    });
    expect(within(banner).getByText(summary(session))).toBeInTheDocument();
    expect(api.listBreakGlass).toHaveBeenCalledWith({
      entityRef: ENTITY_REF,
      environment: 'prod',
      active: true,
    });
    await waitFor(() => expect(button('Apply (break-glass)')).toBeEnabled());
    expect(
      screen.getByText(/Your break-glass session waives this plan's approvals/),
    ).toBeInTheDocument();
    // Approving is unchanged: Bob may approve Alice's plan as before.
    expect(button('Approve')).toBeEnabled();
  });

  it('keeps Apply disabled for someone who does not hold the session', async () => {
    await renderRunPage(
      makeRun(),
      makeTarget(),
      [makeSession({ openedBy: ALICE })],
      {
        viewer: {
          userEntityRef: 'user:default/carol',
          ownershipEntityRefs: [],
        },
      },
    );
    await screen.findByRole('alert', { name: 'Break-glass session on prod' });
    await waitFor(() =>
      expect(blockerOf('Apply')).toBe('needs 1 more approval'),
    );
  });

  it('says when a run was applied under a break-glass session', async () => {
    const apply = makeRun({
      id: 'run-apply-9',
      operation: 'apply',
      planRunId: 'run-plan-1',
      breakGlass: {
        sessionId: 'session-1',
        openedBy: BOB,
        reason: 'payments API down, hotfix INC-4711',
      },
    });
    await renderRunPage(apply, makeTarget(), []);
    expect(
      await screen.findByText(
        'Applied under break-glass session session-1 opened by bob — payments API down, hotfix INC-4711',
      ),
    ).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('says nothing of break-glass for an ordinary apply', async () => {
    await renderRunPage(
      makeRun({
        id: 'run-apply-10',
        operation: 'apply',
        planRunId: 'run-plan-1',
      }),
      makeTarget(),
      [],
    );
    await screen.findByRole('heading', { name: 'Apply payments / prod' });
    expect(
      screen.queryByText(/Applied under break-glass/),
    ).not.toBeInTheDocument();
  });
});
