/*
 * Time from clicking Plan in the entity's Deployments tab until the run
 * page shows the first log line, in Chromium against the real app (built
 * frontend served by the backend), backend, runner, git and Terraform, on
 * the demo's payments/dev. Prints every sample and the median.
 *
 *   yarn bench:ui-plan-latency [samples]
 */
import {
  BackendProcess,
  buildApp,
  createIsolatedRoot,
  GateClient,
  launchBrowser,
  planFromTab,
  signInInBrowser,
  waitForRun,
} from '../test/src';

const PAYMENTS = 'component:default/payments';
const TAB = '/catalog/default/component/payments/deployments';

async function main() {
  const samples = Number(process.argv[2] ?? 5);
  const root = await createIsolatedRoot();
  buildApp(root);
  const backend = await BackendProcess.start({ root });
  const browser = await launchBrowser();
  try {
    await (
      await GateClient.as(backend.baseUrl, 'guest')
    ).waitForTargets(PAYMENTS);
    const { page } = await signInInBrowser(browser, backend.baseUrl, 'Erin');
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      await page.goto(`${backend.baseUrl}${TAB}`);
      const ms = await planFromTab(page, 'dev');
      times.push(ms);
      console.log(`sample ${i + 1}: ${Math.round(ms)} ms`);
      // The next plan needs the target's lock free.
      await waitForRun(page, 'succeeded');
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `Plan click → first log line on screen, payments/dev, n=${samples}: median ${Math.round(
        median,
      )} ms, min ${Math.round(sorted[0])} ms, max ${Math.round(
        sorted[sorted.length - 1],
      )} ms`,
    );
  } finally {
    await browser.close();
    await backend.stop();
    await root.cleanup();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
