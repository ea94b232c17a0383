import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import {
  BackendProcess,
  buildApp,
  createIsolatedRoot,
  GateClient,
  IsolatedRoot,
  launchBrowser,
  planFromTab,
  REPO_ROOT,
  signInInBrowser,
  targetRow,
  UI_TIMEOUT_MS,
  waitForRun,
} from './index';

jest.setTimeout(300_000);

/** Screenshots for people to look at: the tab and the run pages. */
const ARTIFACTS = join(REPO_ROOT, 'test/artifacts/ui');
const PAYMENTS = 'component:default/payments';
const TAB = '/catalog/default/component/payments/deployments';
const UI_TIMEOUT = UI_TIMEOUT_MS;

/** The plan review's list of resource changes. */
const changes = (page: Page) =>
  page.getByRole('list', { name: 'resource changes' });

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

describe('the Deployments UI in a real browser', () => {
  let root: IsolatedRoot;
  let backend: BackendProcess;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    root = await createIsolatedRoot();
    buildApp(root);
    backend = await BackendProcess.start({ root });
    // The catalog ingests the demo entities in the background.
    await (
      await GateClient.as(backend.baseUrl, 'guest')
    ).waitForTargets(PAYMENTS);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await root?.cleanup();
  });

  it('walks the demo: plan and apply dev, then the four-eyes prod flow', async () => {
    const erin = await signInInBrowser(browser, backend.baseUrl, 'Erin');
    const pat = await signInInBrowser(browser, backend.baseUrl, 'Pat');
    for (const { page } of [erin, pat]) {
      page.on('pageerror', error => pageErrors.push(error.message));
    }
    const page = erin.page;

    // The tab lists both targets with their rules, never run yet.
    await page.goto(`${backend.baseUrl}${TAB}`);
    await targetRow(page, 'dev')
      .getByText('Never run')
      .waitFor({ timeout: UI_TIMEOUT });
    await expect(targetRow(page, 'prod').innerText()).resolves.toContain(
      'apply from main · 1 approval from platform-team',
    );
    await screenshot(page, '1-deployments-tab');

    // Plan dev: the run page opens and streams the log live to the end.
    const firstLineMs = await planFromTab(page, 'dev');
    expect(page.url()).toMatch(/\/sealed-runner\/runs\/[0-9a-f-]{36}$/);
    await waitForRun(page, 'succeeded');
    await changes(page)
      .getByText('module.payments.terraform_data.service')
      .waitFor();
    await page.getByText('Create (1)').waitFor();
    const devPlanUrl = page.url();
    await screenshot(page, '2-dev-plan-run-page');
    // The measured figure is printed for the closing note; the bench repeats it.
    // eslint-disable-next-line no-console
    console.log(
      `UI: Plan click to first log line on screen: ${Math.round(
        firstLineMs,
      )} ms`,
    );

    // dev needs no approval: Apply is offered next to the changes.
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(url => url.toString() !== devPlanUrl, {
      timeout: UI_TIMEOUT,
    });
    await page.getByRole('heading', { name: 'Apply payments / dev' }).waitFor();
    await waitForRun(page, 'succeeded');

    // The tab shows the new status.
    await page.goto(`${backend.baseUrl}${TAB}`);
    const devRow = targetRow(page, 'dev');
    await devRow.getByText('apply of').waitFor({ timeout: UI_TIMEOUT });
    await expect(devRow.innerText()).resolves.toMatch(
      /succeeded[\s\S]*apply of main/,
    );

    // Plan prod as the engineer: four-eyes keeps Approve and Apply from her.
    await planFromTab(page, 'prod');
    await waitForRun(page, 'succeeded');
    const prodPlanUrl = page.url();
    await page.getByText('Approve: you requested this plan').waitFor();
    await page.getByText('Apply: needs 1 more approval').waitFor();
    await expect(
      page.getByRole('button', { name: 'Approve' }).isDisabled(),
    ).resolves.toBe(true);
    await expect(
      page.getByRole('button', { name: 'Apply' }).isDisabled(),
    ).resolves.toBe(true);
    await screenshot(page, '3-prod-plan-awaiting-approval');

    // The tab says why prod cannot be applied yet and links to the review.
    await page.goto(`${backend.baseUrl}${TAB}`);
    const prodRow = targetRow(page, 'prod');
    await prodRow
      .getByRole('link', { name: 'Review plan' })
      .waitFor({ timeout: UI_TIMEOUT });
    await expect(
      prodRow.locator('[data-blocker]').getAttribute('data-blocker'),
    ).resolves.toBe('needs 1 more approval');
    await screenshot(page, '4-deployments-tab-awaiting-approval');

    // The approver reviews the changes and approves.
    await pat.page.goto(prodPlanUrl);
    await waitForRun(pat.page, 'succeeded');
    await changes(pat.page)
      .getByText('module.payments.terraform_data.service')
      .waitFor();
    await pat.page.getByRole('button', { name: 'Approve' }).click();
    await pat.page
      .getByText('1 of 1 required from platform-team')
      .waitFor({ timeout: UI_TIMEOUT });
    await pat.page
      .getByRole('list', { name: 'approvals' })
      .getByText('Pat')
      .waitFor();
    await expect(
      pat.page.getByRole('button', { name: 'Approve' }).isDisabled(),
    ).resolves.toBe(true);
    await screenshot(pat.page, '5-prod-plan-approved');

    // Back as the engineer: Apply is enabled and applies exactly that plan.
    await page.goto(prodPlanUrl);
    await waitForRun(page, 'succeeded');
    // Enabled once the permission and the target's rules have loaded.
    const apply = page.getByRole('button', { name: 'Apply', disabled: false });
    await apply.waitFor({ timeout: UI_TIMEOUT });
    await apply.click();
    await page.waitForURL(url => url.toString() !== prodPlanUrl, {
      timeout: UI_TIMEOUT,
    });
    await page
      .getByRole('heading', { name: 'Apply payments / prod' })
      .waitFor();
    await waitForRun(page, 'succeeded');
    await page
      .getByRole('link', { name: prodPlanUrl.split('/').pop()! })
      .waitFor();
    await screenshot(page, '6-prod-apply-run-page');

    // The runs page lists all four runs, newest first, and filters.
    await page.goto(`${backend.baseUrl}/sealed-runner`);
    await page.getByText('Runs (4)').waitFor({ timeout: UI_TIMEOUT });
    await screenshot(page, '7-runs-page');
    await page.goto(
      `${backend.baseUrl}/sealed-runner?environment=prod&status=succeeded`,
    );
    await page.getByText('Runs (2)').waitFor({ timeout: UI_TIMEOUT });

    // The overview card shows the last status per environment.
    await page.goto(`${backend.baseUrl}/catalog/default/component/payments`);
    await page
      .getByText('Deployments at a glance')
      .waitFor({ timeout: UI_TIMEOUT });
    const card = page.getByRole('list', { name: 'last run per environment' });
    await card
      .getByText('apply of main')
      .first()
      .waitFor({ timeout: UI_TIMEOUT });
    await expect(card.innerText()).resolves.toMatch(
      /dev[\s\S]*succeeded[\s\S]*prod[\s\S]*succeeded/,
    );
    await screenshot(page, '8-entity-overview-card');

    expect(pageErrors).toEqual([]);
  });
});
