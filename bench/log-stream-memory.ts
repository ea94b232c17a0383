/*
 * What clients that never read cost the backend: plans a 100,000-line run
 * on the demo, then opens 1 and then 4 live log streams
 * (`GET /runs/:id/logs/stream`) on raw sockets that never read, and prints
 * the backend's peak RSS growth over 10 s and the slowest /health answer
 * meanwhile. Real backend, runner, git and Terraform in an isolated root.
 *
 *   yarn bench:log-stream-memory
 */
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  BackendProcess,
  createIsolatedRoot,
  GateClient,
  pushBranch,
  rssOf,
  signIn,
  stalledLogStream,
} from '../test/src';

const PAYMENTS = 'component:default/payments';
const LINES_TF = `locals {
  pad = join("", [for k in range(20) : "0123456789"])
}
resource "terraform_data" "lines" {
  input = flatten([for i in range(100) : [for j in range(1000) : "\${i}-\${j}-\${local.pad}"]])
}
`;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function measure(backend: BackendProcess, open: () => Promise<Socket[]>) {
  await sleep(3000);
  const before = await rssOf(backend.pid);
  const sockets = await open();
  let peak = before;
  let slowestHealth = 0;
  for (let i = 0; i < 10; i++) {
    await sleep(1000);
    peak = Math.max(peak, await rssOf(backend.pid));
    const start = performance.now();
    await fetch(`${backend.baseUrl}/api/sealed-runner/health`).then(r =>
      r.text(),
    );
    slowestHealth = Math.max(slowestHealth, performance.now() - start);
  }
  sockets.forEach(s => s.destroy());
  return { before, peak, slowestHealth };
}

async function main() {
  const root = await createIsolatedRoot();
  const backend = await BackendProcess.start({ root });
  try {
    const token = await signIn(backend.baseUrl, 'guest');
    const erin = new GateClient(backend.baseUrl, token);
    await erin.waitForTargets(PAYMENTS);
    await pushBranch(root.demo.infrastructureLiveUrl, 'bench/wide-log', {
      'live/dev/payments/lines.tf': LINES_TF,
    });
    const { body } = await erin.plan(PAYMENTS, 'dev', 'bench/wide-log');
    const run = await erin.waitForRun(body.run.id, undefined, 300_000);
    console.log(
      `run ${run.id}: ${run.status}, ${
        (await erin.logs(run.id)).length
      } log lines`,
    );
    for (const clients of [1, 4]) {
      const { before, peak, slowestHealth } = await measure(backend, () =>
        Promise.all(
          Array.from({ length: clients }, () =>
            stalledLogStream(backend.baseUrl, run.id, token),
          ),
        ),
      );
      console.log(
        `${clients} non-reading stream${clients > 1 ? 's' : ''}: RSS ${mb(
          before,
        )} -> peak ${mb(peak)} (+${mb(
          peak - before,
        )}); slowest /health ${slowestHealth.toFixed(0)} ms`,
      );
    }
  } finally {
    await backend.stop();
    await root.cleanup();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
