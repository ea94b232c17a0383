import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { IsolatedRoot, REPO_ROOT } from './isolatedRoot';

/** Debian's Chromium; `.ci/run` installs it when missing. */
export const CHROMIUM_PATH =
  process.env.SEALED_RUNNER_CHROMIUM ?? '/usr/bin/chromium';

/** The frontend bundle the backend serves (app-backend). */
export const APP_DIST = join(REPO_ROOT, 'packages/app/dist');

/**
 * Builds the frontend as production does, so browser tests drive the real
 * bundle (and never a stale one from an earlier checkout). The build reads
 * the isolated root's app-config.yaml, whose demo include exists there even
 * in a fresh clone.
 */
export function buildApp(root: IsolatedRoot): void {
  // Jest sets NODE_ENV=test, which has no browserslist entry.
  const result = spawnSync(
    'yarn',
    [
      'workspace',
      'app',
      'build',
      '--config',
      join(root.root, 'app-config.yaml'),
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) {
    throw new Error(
      `yarn workspace app build failed:\n${result.stdout}\n${result.stderr}`.slice(
        -4000,
      ),
    );
  }
  if (!existsSync(join(APP_DIST, 'index.html'))) {
    throw new Error(`the app build wrote no ${APP_DIST}/index.html`);
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or set SEALED_RUNNER_CHROMIUM)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The demo sign-in page's identities, by the first name on their button. */
export type DemoUser = 'Erin' | 'Pat';

/**
 * A browser session signed in as a demo identity. Each has its own
 * context: the demo keeps the chosen identity per tab.
 */
export async function signInInBrowser(
  browser: Browser,
  baseUrl: string,
  user: DemoUser,
): Promise<{ context: BrowserContext; page: Page }> {
  // Tall enough that screenshots of a run page include its log.
  const context = await browser.newContext({
    viewport: { width: 1440, height: 1400 },
  });
  const page = await context.newPage();
  await page.goto(baseUrl);
  await page.getByRole('button', { name: `Sign in as ${user}` }).click();
  await page.getByRole('link', { name: 'Deployments' }).first().waitFor();
  return { context, page };
}

/** How long the UI waits for the backend, runner and Terraform. */
export const UI_TIMEOUT_MS = 60_000;

/** The row of one environment in an entity's Deployments tab (the targets table: rows with a Plan button). */
export const targetRow = (page: Page, environment: string) =>
  page
    .getByRole('row')
    .filter({ has: page.getByText(environment, { exact: true }) })
    .filter({ has: page.getByRole('button', { name: 'Plan' }) });

/** Waits until the run page shows the run finished with `status` and its log complete. */
export async function waitForRun(page: Page, status: string): Promise<void> {
  await page
    .locator('[data-log-state="complete"]')
    .waitFor({ timeout: UI_TIMEOUT_MS });
  await page
    .locator(`[data-run-status="${status}"]`)
    .waitFor({ timeout: UI_TIMEOUT_MS });
}

/**
 * Plans from the Deployments tab (Plan, then Plan in the dialog, default
 * branch) and returns the milliseconds from the dialog's Plan click until
 * the run page renders the first log line.
 */
export async function planFromTab(
  page: Page,
  environment: string,
): Promise<number> {
  await targetRow(page, environment)
    .getByRole('button', { name: 'Plan' })
    .click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText(`Plan ${environment}`).waitFor();
  const clicked = performance.now();
  await dialog.getByRole('button', { name: 'Plan' }).click();
  await page.waitForFunction(
    () =>
      Number(
        document
          .querySelector('[data-log-lines]')
          ?.getAttribute('data-log-lines'),
      ) > 0,
    undefined,
    { timeout: UI_TIMEOUT_MS, polling: 'raf' },
  );
  return performance.now() - clicked;
}
