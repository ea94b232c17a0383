/*
 * Time from `POST /runs` to the runner's first Terraform output line, as a
 * client following `GET /runs/:id/logs/stream` receives it, on the demo
 * (payments/dev). Runs the real backend, runner, git and Terraform in an
 * isolated root. Prints every sample, the median and p90.
 *
 *   yarn bench:plan-latency [samples]
 */
import { performance } from 'node:perf_hooks';
import {
  BackendProcess,
  createIsolatedRoot,
  firstMatchingLine,
  GateClient,
  signIn,
  summarise,
} from '../test/src';

const PAYMENTS = 'component:default/payments';

async function main() {
  const samples = Number(process.argv[2] ?? 10);
  const root = await createIsolatedRoot();
  const backend = await BackendProcess.start({ root });
  try {
    const token = await signIn(backend.baseUrl, 'guest');
    const erin = new GateClient(backend.baseUrl, token);
    await erin.waitForTargets(PAYMENTS);
    // One untimed run warms the transform cache and the demo repositories.
    const warm = await erin.plan(PAYMENTS, 'dev');
    await erin.waitForRun(warm.body.run.id);

    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const start = performance.now();
      const { status, body } = await erin.plan(PAYMENTS, 'dev');
      if (status !== 202) {
        throw new Error(`POST /runs: ${status} ${JSON.stringify(body)}`);
      }
      const first = await firstMatchingLine(
        `${backend.baseUrl}/api/sealed-runner/runs/${body.run.id}/logs/stream`,
        token,
        line => !line.startsWith('[sealed-runner]') && line.trim() !== '',
      );
      times.push(first.at - start);
      console.log(
        `sample ${i + 1}: ${(first.at - start).toFixed(0)} ms (${JSON.stringify(
          first.line,
        )})`,
      );
      await erin.waitForRun(body.run.id);
    }
    console.log(
      `POST /runs -> first Terraform output line: ${summarise(times)}`,
    );
  } finally {
    await backend.stop();
    await root.cleanup();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
