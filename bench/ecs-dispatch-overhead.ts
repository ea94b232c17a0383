/*
 * The ECS dispatcher's own overhead: from the RunTask request reaching ECS
 * to the task's first log line reaching a client of the live log stream,
 * minus the time the task's process took from its start to writing that
 * line (the "container" start and the runner's own boot, which on Fargate
 * are the image pull and Node's start, not ours). What remains is ours:
 * DescribeTasks/GetLogEvents polling, framing, the database write and the
 * stream. Also prints POST /runs → RunTask (KMS Sign + the job's S3 put).
 * Runs the real backend with runner.type ecs against the local ECS/Logs/S3/
 * KMS server, with no provisioning delay.
 *
 *   yarn bench:ecs-dispatch-overhead [samples]
 */
import {
  BackendProcess,
  createIsolatedRoot,
  firstMatchingLine,
  GateClient,
  signIn,
  startEcsEnvironment,
  summarise,
} from '../test/src';

const PAYMENTS = 'component:default/payments';

async function main() {
  const samples = Number(process.argv[2] ?? 10);
  const root = await createIsolatedRoot();
  const aws = await startEcsEnvironment(root, { provisioningDelayMs: 0 });
  const backend = await BackendProcess.start({
    root,
    config: aws.backendConfig,
  });
  try {
    const token = await signIn(backend.baseUrl, 'guest');
    const erin = new GateClient(backend.baseUrl, token);
    await erin.waitForTargets(PAYMENTS);
    const warm = await erin.plan(PAYMENTS, 'dev');
    await erin.waitForRun(warm.body.run.id);

    const overhead: number[] = [];
    const beforeRunTask: number[] = [];
    for (let i = 0; i < samples; i++) {
      const posted = Date.now();
      const { status, body } = await erin.plan(PAYMENTS, 'dev');
      if (status !== 202) {
        throw new Error(`POST /runs: ${status} ${JSON.stringify(body)}`);
      }
      const first = await firstMatchingLine(
        `${backend.baseUrl}/api/sealed-runner/runs/${body.run.id}/logs/stream`,
        token,
        () => true,
      );
      await erin.waitForRun(body.run.id);
      const task = aws.fake
        .tasks()
        .find(t => t.startedBy === `sealed-runner/${body.run.id}`)!;
      const [written] = aws.fake.logEvents(task.logGroup, task.logStream)!;
      const runTaskAt = task.createdAt.getTime();
      const processBoot = written.timestamp - task.startedAt!.getTime();
      const ours = first.wallClockAt - runTaskAt - processBoot;
      overhead.push(ours);
      beforeRunTask.push(runTaskAt - posted);
      console.log(
        `sample ${i + 1}: RunTask → first line at the client ${
          first.wallClockAt - runTaskAt
        } ms, of which process start → first line written ${processBoot} ms: dispatcher overhead ${ours} ms; POST → RunTask ${
          runTaskAt - posted
        } ms`,
      );
    }
    console.log(
      `ECS dispatcher overhead (RunTask → first log line at the client, minus process boot): ${summarise(
        overhead,
      )}`,
    );
    console.log(
      `POST /runs → RunTask (KMS Sign, job to S3): ${summarise(beforeRunTask)}`,
    );
  } finally {
    await backend.stop();
    await aws.stop();
    await root.cleanup();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
